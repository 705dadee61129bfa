#!/usr/bin/env bash
# The server variants side by side in one run, on one throwaway PostgreSQL with the medium preset (10K products, 50K
# orders, 100K reviews), every variant started at once on its own port and loaded one at a time by exbuy-load:
#   async       SERVER_MODE=async (the default; WORKERS=1, GC_MODE=datas: .NET 10's server GC with DATAS)
#   sync4       SERVER_MODE=sync THREADS=4     each request holds one of 4 threads (gunicorn sync, 4 workers)
#   sync32      SERVER_MODE=sync THREADS=32
#   workers2    WORKERS=2                      two processes on one port (SO_REUSEPORT), supervised
#   gc-server   GC_MODE=server                 server GC without DATAS
#   gc-ws       GC_MODE=workstation
#   r2r         the ReadyToRun publish (the others run the JIT publish of the same build)
# at two loads of SCENARIO: light = open model, RATE req/s (latency at a rate every variant sustains) and saturating =
# closed model, VUS virtual users (throughput). Per variant and load: rps, p50, p99, errors (exbuy-load's result file),
# and the server's RSS and threads (the processes serving its port) read from /proc at the end of the run.
# Rounds are interleaved (round r runs the variants in reverse order of round r − 1); medians. Then start-up, JIT vs
# ReadyToRun: STARTS cold starts each, time from exec to serving (/api/info startup_ms) and the first request's latency.
#   bench/variants.sh                                 # read-heavy, 15 s per run after 10 s warm-up, 2 rounds
#   ROUNDS=2 DURATION=20 SCENARIO=mixed bench/variants.sh
#   ONLY="async sync4 sync32" bench/variants.sh       # a subset
# Knobs: SCENARIO (default read-heavy) DURATION (s, 3..600, default 15) WARMUP (s, 0..120, default 10) ROUNDS
#   (1..10, default 2) RATE (1..100000, default 200) VUS (1..1000, default 64) PRESET (small|medium|large, default
#   medium) STARTS (1..20, default 3) PREWARM (s, 0..600, default 20: an unrecorded saturating run per variant before
#   round 1) ONLY (variant names) LOAD_DLL (a prebuilt exbuy-load.dll).
# Bounded: every runner run is under `timeout`; ExBuy and PostgreSQL listen on 127.0.0.1 only and stop on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

SCENARIO=${SCENARIO:-read-heavy}; DURATION=${DURATION:-15}; WARMUP=${WARMUP:-10}; ROUNDS=${ROUNDS:-2}; RATE=${RATE:-200}
VUS=${VUS:-64}; PRESET=${PRESET:-medium}; STARTS=${STARTS:-3}; PREWARM=${PREWARM:-20}
ALL="async sync4 sync32 workers2 gc-server gc-ws r2r"; ONLY=${ONLY:-$ALL}
in_range DURATION "$DURATION" 3 600
in_range WARMUP "$WARMUP" 0 120
in_range ROUNDS "$ROUNDS" 1 10
in_range RATE "$RATE" 1 100000
in_range VUS "$VUS" 1 1000
in_range STARTS "$STARTS" 1 20
in_range PREWARM "$PREWARM" 0 600
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
read -r -a VARIANTS <<<"$ONLY"
for v in "${VARIANTS[@]}"; do [[ " $ALL " == *" $v "* ]] || die "ONLY: unknown variant '$v' (use $ALL)"; done
require_tools curl ss dotnet jq awk timeout flock python3

bench_frame variants

# Every variant keeps its pool (DB_POOL_MAX=64 each, two for WORKERS=2) open between its runs: 8 pools × 64.
PG_EXTRA_OPTS="-c max_connections=600${PG_EXTRA_OPTS:+ $PG_EXTRA_OPTS}" pg_start
build_release
echo "bench: publishing ExBuy.Api twice (JIT and ReadyToRun, linux-x64)"
for profile in Jit ReadyToRun; do
  timeout 1200 flock /tmp/exbuy.lock dotnet publish src/ExBuy.Api -p:PublishProfile=$profile -p:PublishDir="$WORK/$profile/" \
    -v q -nologo >"$WORK/publish-$profile.log" 2>&1 || { tail -20 "$WORK/publish-$profile.log"; die "dotnet publish -p:PublishProfile=$profile failed"; }
done
JIT_DLL=$WORK/Jit/ExBuy.Api.dll; R2R_DLL=$WORK/ReadyToRun/ExBuy.Api.dll
echo "bench: seeding preset $PRESET"
SEED_ON_EMPTY=none timeout 1800 dotnet "$JIT_DLL" seed --preset "$PRESET" >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
export SEED_ON_EMPTY=none DB_MIGRATE=false LOG_LEVEL=WARNING

declare -A DESC=([async]="SERVER_MODE=async" [sync4]="SERVER_MODE=sync THREADS=4" [sync32]="SERVER_MODE=sync THREADS=32"
  [workers2]="WORKERS=2" [gc-server]="GC_MODE=server" [gc-ws]="GC_MODE=workstation" [r2r]="ReadyToRun publish")
for v in "${VARIANTS[@]}"; do
  case $v in
    async) start "$v" env SERVER_MODE=async dotnet "$JIT_DLL" ;;
    sync4) start "$v" env SERVER_MODE=sync THREADS=4 dotnet "$JIT_DLL" ;;
    sync32) start "$v" env SERVER_MODE=sync THREADS=32 dotnet "$JIT_DLL" ;;
    workers2) start "$v" env WORKERS=2 dotnet "$JIT_DLL" ;;
    gc-server) start "$v" env GC_MODE=server dotnet "$JIT_DLL" ;;
    gc-ws) start "$v" env GC_MODE=workstation dotnet "$JIT_DLL" ;;
    r2r) start "$v" dotnet "$R2R_DLL" ;;
  esac
  echo "bench: $v (${DESC[$v]}) on 127.0.0.1:${PORT[$v]}"
done

# RSS (MiB) and threads of the processes serving a port (with WORKERS, every worker; a supervisor — WORKERS=2, and
# GC_MODE other than the running GC, which starts one worker with the runtime's GC switches — serves nothing and is
# not counted: it holds ~70 MiB and ~15 threads of its own).
footprint() { # port
  local pid rss=0 threads=0
  for pid in $(pids_on "$1"); do
    rss=$(( rss + $(awk '/^VmRSS/{print $2}' "/proc/$pid/status") ))
    threads=$(( threads + $(awk '/^Threads/{print $2}' "/proc/$pid/status") ))
  done
  echo "$(( rss / 1024 )) $threads"
}

# A pre-warm pass, not recorded: every variant compiles its hot paths and PostgreSQL's cache holds the data before the
# first measured run (otherwise the first variant of a round pays for a cold cache).
if [ "$PREWARM" -gt 0 ]; then
  echo "bench: pre-warming every variant ($PREWARM s of the saturating load each, not recorded)"
  for v in "${VARIANTS[@]}"; do
    load_run "prewarm-$v" --scenario "$SCENARIO" --base-url "http://127.0.0.1:${PORT[$v]}" --vus "$VUS" \
      --duration "${PREWARM}s" --warmup 0s --seed 40 --label "$v"
  done
fi

declare -A V
read -r -a order <<<"${VARIANTS[*]}"
for r in $(seq 1 "$ROUNDS"); do
  for load in light saturating; do
    for v in "${order[@]}"; do
      label="r$r-$load-$v"
      if [ "$load" = light ]; then model=(--rate "$RATE" --max-vus 1000); else model=(--vus "$VUS"); fi
      load_run "$label" --scenario "$SCENARIO" --base-url "http://127.0.0.1:${PORT[$v]}" "${model[@]}" \
        --duration "${DURATION}s" --warmup "${WARMUP}s" --seed $(( 41 + r )) --label "$v"
      [ "$LOAD_RC" = 0 ] || [ "$LOAD_RC" = 99 ] || { tail -20 "$WORK/runs/$label.log" >&2; die "$label: exbuy-load exited $LOAD_RC"; }
      read -r rps p50 p99 err < <(jqr '.totals | "\(.rps) \(.latency_ms.p50) \(.latency_ms.p99) \(.error_rate)"')
      read -r rss threads < <(footprint "${PORT[$v]}")
      printf '  round %d %-11s %-10s rps=%-8s p50=%-8s p99=%-8s errors=%-8s rss=%sMiB threads=%s\n' "$r" "$load" "$v" "$rps" "$p50" "$p99" "$err" "$rss" "$threads"
      for k in rps p50 p99 err rss threads; do V[$v|$load|$k]="${V[$v|$load|$k]:-} ${!k}"; done
    done
    mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
  done
done

# Start-up: cold starts of the JIT and the ReadyToRun publish, one at a time on a quiet machine.
declare -A S
if [[ " ${VARIANTS[*]} " == *" r2r "* ]]; then
  for i in $(seq 1 "$STARTS"); do
    for build in jit r2r; do
      dll=$JIT_DLL; [ "$build" = r2r ] && dll=$R2R_DLL
      port=$(free_port)
      dotnet "$dll" --urls "http://127.0.0.1:$port" >"$WORK/start-$build-$i.log" 2>&1 &
      pid=$!; PIDS+=("$pid")
      for _ in $(seq 1 600); do curl -sf -o /dev/null --max-time 2 "http://127.0.0.1:$port/api/health/ready" && break; sleep 0.05; done
      first=$(curl -s -o /dev/null --max-time 30 -w '%{time_total}' "http://127.0.0.1:$port/api/products/1?optimize=true")
      startup=$(curl -s --max-time 10 "http://127.0.0.1:$port/api/info" | jq -r .startup_ms)
      kill "$pid"; wait "$pid" 2>/dev/null || true
      S[$build|startup]="${S[$build|startup]:-} $startup"; S[$build|first]="${S[$build|first]:-} $(awk -v t="$first" 'BEGIN{printf "%.1f", t * 1000}')"
      echo "  start $i $build: serving after ${startup} ms, first detail request ${first} s"
    done
  done
fi

m() { printf "%.${2:-1}f" "$(median "${V[$1]}")"; }
echo
echo "Server variants, $SCENARIO scenario (exbuy-load), ExBuy Release (JIT publish unless r2r) on PostgreSQL, preset $PRESET;" \
  "light = open model $RATE req/s, saturating = closed model $VUS VUs; ${DURATION}s per run after ${WARMUP}s warm-up," \
  "$ROUNDS interleaved round(s), medians. RSS and threads: the processes serving the port (workers), at the end of the run."
echo
echo "| variant | settings | light p50 ms | light p99 ms | light errors | saturating rps | saturating p50 ms | saturating p99 ms | saturating errors | RSS MiB (sat.) | threads (sat.) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for v in "${VARIANTS[@]}"; do
  printf '| %s | %s | %s | %s | %s %% | %s | %s | %s | %s %% | %s | %s |\n' "$v" "${DESC[$v]}" \
    "$(m "$v|light|p50" 2)" "$(m "$v|light|p99" 2)" "$(awk -v e="$(median "${V[$v|light|err]}")" 'BEGIN{printf "%.2f", e * 100}')" \
    "$(m "$v|saturating|rps" 0)" "$(m "$v|saturating|p50" 2)" "$(m "$v|saturating|p99" 2)" \
    "$(awk -v e="$(median "${V[$v|saturating|err]}")" 'BEGIN{printf "%.2f", e * 100}')" "$(m "$v|saturating|rss" 0)" "$(m "$v|saturating|threads" 0)"
done
if [ -n "${S[jit|startup]:-}" ]; then
  echo
  echo "| start-up ($STARTS cold starts, medians) | serving after ms | first request ms (GET /api/products/1?optimize=true) |"
  echo "|---|---:|---:|"
  for build in jit r2r; do
    printf '| %s | %.0f | %.1f |\n' "$build" "$(median "${S[$build|startup]}")" "$(median "${S[$build|first]}")"
  done
fi
