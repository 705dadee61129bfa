#!/usr/bin/env bash
# What the N+1 path costs: the `optimize` scenario of load/scenarios.json (list, detail, a product's reviews, search,
# reviews, order detail; every request draws optimize=true or optimize=false at random) run by exbuy-load (Release)
# against ExBuy (Release) on a throwaway PostgreSQL loaded by ExBuy's seeder. Prints per operation p50/p95/p99 and
# rps with the flag off and on, read from the runner's result JSON (its stored per-key summaries, computed from the
# HdrHistograms: the runner has no decode command), and off÷on of p50 and p95.
#   bench/compare-optimize.sh                                  # medium preset, 32 VUs, 30 s, 1 run
#   PRESET=small DURATION=5 bench/compare-optimize.sh          # a quick look
#   RATE=200 MAX_VUS=100 bench/compare-optimize.sh             # open model (latency from each intended start)
# Knobs: DURATION (s, 1..600, default 30) VUS (closed model, 1..1000, default 32) or RATE (open model, req/s,
#   1..100000; MAX_VUS 1..10000, default 200; a half with no request in a run shows –) PRESET (small|medium|large, default medium) ROUNDS (1..20, default 1)
#   WARMUP (s, 0..120, default 5) SEED (the runner's --seed, default 42; round r uses SEED + r - 1)
#   OUT (a directory to keep the result files in; default: a temp dir removed on exit) LOAD_DLL (a prebuilt
#   exbuy-load.dll to use instead of building src/ExBuy.Load).
# ROUNDS: both flags are drawn in the same run, by the same VUs, against the same server and data, so there is no
#   drift between an "off" run and an "on" run to cancel by interleaving: one run is already a paired comparison.
#   ROUNDS > 1 repeats the run (new seed each) and reports medians (ratios: median of the per-run ratios).
# rps per key: the flag is a coin toss per request, so in the closed model both halves get about the same number of
#   requests (the slow half holds its VUs longer, which slows both equally): compare latencies, not rps, between them.
# Bounded: every runner run is under `timeout` (duration + warm-up + 120 s of set-up); the server and PostgreSQL listen
#   on 127.0.0.1 only and are stopped on exit. Exits 1 if a run fails (no result, set-up failure); a crossed
#   error-rate threshold (exit 99: > 1 % errors) is reported in the table, not fatal.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

DURATION=${DURATION:-30}; PRESET=${PRESET:-medium}; ROUNDS=${ROUNDS:-1}; WARMUP=${WARMUP:-5}; SEED=${SEED:-42}
RATE=${RATE:-}; VUS=${VUS:-}; MAX_VUS=${MAX_VUS:-}; OUT=${OUT:-}
in_range DURATION "$DURATION" 1 600
in_range ROUNDS "$ROUNDS" 1 20
in_range WARMUP "$WARMUP" 0 120
in_range SEED "$SEED" 1 2000000000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
if [ -n "$RATE" ]; then
  [ -z "$VUS" ] || die "VUS and RATE exclude each other (closed vs open model)"
  in_range RATE "$RATE" 1 100000
  in_range MAX_VUS "${MAX_VUS:-200}" 1 10000
  MODEL=(--rate "$RATE" --max-vus "${MAX_VUS:-200}"); MODEL_TEXT="open model, $RATE req/s (max ${MAX_VUS:-200} in flight)"
else
  [ -z "$MAX_VUS" ] || die "MAX_VUS only goes with RATE (open model)"
  VUS=${VUS:-32}
  in_range VUS "$VUS" 1 1000
  MODEL=(--vus "$VUS"); MODEL_TEXT="closed model, $VUS VUs"
fi
require_tools curl ss dotnet jq awk timeout flock python3

bench_frame optimize

pg_start
build_release
export SEED_ON_EMPTY=none LOG_LEVEL=WARNING
echo "bench: seeding preset $PRESET"
timeout 1800 dotnet "$API_DLL" seed --preset "$PRESET" >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
grep 'exbuy seed: loaded' "$WORK/seed.log" | sed 's/^/  /' || true
start exbuy dotnet "$API_DLL"
URL="http://127.0.0.1:${PORT[exbuy]}"
echo "bench: ExBuy on $URL"

declare -A V       # "operation|metric" → values over rounds
NAMES=(f50 f95 f99 frps fn ferr t50 t95 t99 trps tn terr)   # f = optimize=false, t = optimize=true
KEYS=()
for r in $(seq 1 "$ROUNDS"); do
  echo "bench: run $r/$ROUNDS: exbuy-load run --scenario optimize ${MODEL[*]} --duration ${DURATION}s --warmup ${WARMUP}s --seed $(( SEED + r - 1 ))"
  load_run "round$r" --scenario optimize --base-url "$URL" "${MODEL[@]}" --duration "${DURATION}s" --warmup "${WARMUP}s" \
    --seed $(( SEED + r - 1 ))
  case $LOAD_RC in
    0) ;;
    99) echo "bench: run $r crossed a threshold (> 1 % errors?): $(jqr '[.thresholds[] | select(.passed | not) | .expression] | join(", ")')" ;;
    *) tail -20 "$WORK/runs/round$r.log" >&2; die "exbuy-load exited $LOAD_RC (verdict: $(jqr .verdict))" ;;
  esac
  sed -n 's/^/  /; /requests in/,/server share =/p' "$WORK/runs/round$r.log"
  if [ "$(jqr '.open_model.fell_behind // false')" = true ]; then
    echo "bench: WARNING: run $r fell behind its rate ($(jqr '.open_model | "\(.dropped) dropped, \(.late) late starts, \(.start_rate)/s started of \(.intended_rate)/s"')): raise MAX_VUS or lower RATE" >&2
  fi
  # One line per operation: op, then off and on: p50 p95 p99 rps count errors (missing half: "-").
  while read -r op rest; do
    [[ " ${KEYS[*]} " == *" $op "* ]] || KEYS+=("$op")
    read -r -a vals <<<"$rest"
    declare -A x=()
    for i in "${!NAMES[@]}"; do
      k=${NAMES[$i]}; x[$k]=${vals[$i]}
      [ "${vals[$i]}" = - ] || V[$op|$k]="${V[$op|$k]:-} ${vals[$i]}"
    done
    if [ "${x[t50]}" != - ] && [ "${x[f50]}" != - ]; then
      V[$op|r50]="${V[$op|r50]:-} $(awk -v a="${x[f50]}" -v b="${x[t50]}" 'BEGIN{printf "%.4f", (b > 0 ? a / b : 0)}')"
      V[$op|r95]="${V[$op|r95]:-} $(awk -v a="${x[f95]}" -v b="${x[t95]}" 'BEGIN{printf "%.4f", (b > 0 ? a / b : 0)}')"
    fi
  done < <(jq -r '
      .operations | to_entries | map(select(.value.optimize != null)) | group_by(.value.operation)[]
      | (map(select(.value.optimize == false))[0].value) as $f | (map(select(.value.optimize == true))[0].value) as $t
      | def half(h): if h == null or h.count == 0 then "- - - - - -" else
          "\(h.latency_ms.p50) \(h.latency_ms.p95) \(h.latency_ms.p99) \(h.rps) \(h.count) \(h.errors)" end;
      "\(.[0].value.operation) \(half($f)) \(half($t))"' "$LOAD_JSON")
  V[all|rps]="${V[all|rps]:-} $(jqr .totals.rps)"
  V[all|err]="${V[all|err]:-} $(jqr .totals.errors)"
done

m() { local x; x=$(median "${V[$1]:-}"); if [ -n "$x" ]; then printf "%.${2:-2}f" "$x"; else echo "–"; fi; }
sumv() { awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; print s}' <<<"${V[$1]:-}"; }
fx() { if [ "$1" = – ]; then echo –; else echo "$1×"; fi; }
echo
echo "optimize scenario (exbuy-load, $MODEL_TEXT, ${DURATION}s after ${WARMUP}s warm-up, $ROUNDS run(s)), ExBuy Release on" \
  "PostgreSQL, preset $PRESET; the flag drawn at random per request. Latencies in ms (client-side, HdrHistogram);" \
  "medians over runs; off÷on = how many times slower the naive (N+1) path is. Total: $(m 'all|rps' 0) req/s," \
  "$(sumv 'all|err') errors."
echo
echo "| operation | off p50 | off p95 | off p99 | off rps | on p50 | on p95 | on p99 | on rps | off÷on p50 | off÷on p95 | errors off/on |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for op in "${KEYS[@]}"; do
  r50=$(m "$op|r50"); r95=$(m "$op|r95")
  printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s/%s |\n' "$op" \
    "$(m "$op|f50")" "$(m "$op|f95")" "$(m "$op|f99")" "$(m "$op|frps" 1)" \
    "$(m "$op|t50")" "$(m "$op|t95")" "$(m "$op|t99")" "$(m "$op|trps" 1)" \
    "$(fx "$r50")" "$(fx "$r95")" "$(sumv "$op|ferr")" "$(sumv "$op|terr")"
done
