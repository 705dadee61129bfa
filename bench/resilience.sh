#!/usr/bin/env bash
# A resilience experiment end to end: ExBuy (Release, ADMIN_TOKEN set) on a throwaway PostgreSQL, the `mixed` scenario
# driven by exbuy-load (Release) with a fault timeline (default load/faults/timeline.json: baseline → slow database
# (db_delay 100 ms on every route) → failing orders (503 on 20 % of /api/orders*) → recovered, 15 s each), and the
# runner's per-window table: requests, rps, p50, p99, error rate and faulted responses per window of the timeline, plus
# the correctness verdict (the faults must never make stock or totals wrong).
#   bench/resilience.sh                                        # small preset, 16 VUs, 60 s
#   TIMELINE=load/faults/random.json DURATION=90 bench/resilience.sh
# Knobs: TIMELINE (a timeline file) DURATION (s, 5..600, default 60: the timeline's steps must fit) VUS (1..1000,
#   default 16) PRESET (small|medium|large, default small) WARMUP (s, 0..60, default 20: JIT tiering settles
#   in ~20 s of load on 2 cores, and the baseline window should not measure it) SEED (default 42)
#   OUT (a directory to keep the result file and its HTML report in; default: a temp dir removed on exit)
#   LOAD_DLL (a prebuilt exbuy-load.dll). Exits 1 when the correctness verdict is not OK. Bounded: the runner runs
#   under `timeout`; ExBuy and PostgreSQL listen on 127.0.0.1 only and stop on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

TIMELINE=${TIMELINE:-load/faults/timeline.json}; DURATION=${DURATION:-60}; VUS=${VUS:-16}; PRESET=${PRESET:-small}
WARMUP=${WARMUP:-20}; SEED=${SEED:-42}; OUT=${OUT:-}
in_range DURATION "$DURATION" 5 600
in_range VUS "$VUS" 1 1000
in_range WARMUP "$WARMUP" 0 60
in_range SEED "$SEED" 1 2000000000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
[ -f "$TIMELINE" ] || die "TIMELINE=$TIMELINE: no such file"
require_tools curl ss dotnet jq awk timeout flock python3

bench_frame resilience

pg_start
build_release
export FAULT_SEED=$SEED
start_seeded_exbuy "$PRESET"
echo "bench: ExBuy on $URL; timeline $TIMELINE"

load_run resilience --scenario mixed --base-url "$URL" --vus "$VUS" --duration "${DURATION}s" --warmup "${WARMUP}s" \
  --seed "$SEED" --faults "$TIMELINE"
[ "$LOAD_RC" = 0 ] || [ "$LOAD_RC" = 99 ] || { tail -30 "$WORK/runs/resilience.log" >&2; die "exbuy-load exited $LOAD_RC"; }

echo
echo "mixed scenario (exbuy-load, $VUS VUs, ${DURATION}s after ${WARMUP}s warm-up), ExBuy Release on PostgreSQL, preset" \
  "$PRESET, timeline $TIMELINE; all operations together per window."
echo
echo "| window | from–to s | requests | rps | p50 ms | p99 ms | errors | faulted |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
jqr '.faults[] | "| \(.label) | \(.start_s)–\(.end_s) | \(.stats.requests) | \(.stats.rps * 10 | round / 10) | \(.stats.p50_ms * 100 | round / 100) | \(.stats.p99_ms * 100 | round / 100) | \(.stats.error_rate * 1000 | round / 10) % | \(.stats.faulted) |"'
echo
echo "correctness: $(jqr 'if .correctness.ok then "OK" else "VIOLATED" end') ($(jqr '.correctness | "\(.verified) products verified, \(.unverifiable) unverifiable"')); run verdict: $(jqr '.verdict') (the scenario's thresholds are expected to cross under faults)"
[ "$(jqr '.correctness.ok')" = true ] || exit 1
