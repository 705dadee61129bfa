#!/usr/bin/env bash
# What observability costs: the same Release build started three times on one throwaway PostgreSQL (small preset),
#   off      METRICS=off: no /metrics, no Server-Timing (X-Query-Count stays: it is the contract)
#   on       the default: OpenTelemetry meters + Prometheus exporter + Server-Timing, SQL logging off
#   sql-log  the default plus DB_LOG_LEVEL=DEBUG (every statement logged; stdout to /dev/null): what EF's
#            "nobody listening" fast path saves when SQL logging is off
# and, for what fault injection costs a request that is not faulted (bench/fault-cost.sh runs these):
#   faults-off   FAULTS=off, no rule, no ADMIN_TOKEN: the fault middleware is not registered at all
#   faults-rule  ADMIN_TOKEN set and an active rule on another route (FAULT_ROUTES=/api/stats/top-products
#                FAULT_ERROR=503): every request reads the rule set, finds its route template and matches nothing
# measured on GET /api/health and GET /api/products/{id}?optimize=true (random ids), interleaved: every round runs
# each server back to back, in the opposite order from the previous round. Prints requests/s, server CPU µs per
# request and the cost against the baseline, `off` unless BASELINE says otherwise (median of the per-round ratios).
#   bench/observability-cost.sh                      # 5 rounds × 8 s per server and endpoint
#   ROUNDS=3 DURATION=4 bench/observability-cost.sh  # a quick look
# Knobs: DURATION (s, 1..120) ROUNDS (1..50) CONNECTIONS (1..256, default 32) WARMUP (s, 0..60, default 3)
#   VARIANTS (default "off on sql-log") BASELINE (the variant ratios are against, default off)
#   ONLY (default "health detail"). Needs wrk (apt-get install -y wrk). Servers listen on 127.0.0.1 only; every wrk
#   run is bounded by `timeout`; everything is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh

DURATION=${DURATION:-8}; ROUNDS=${ROUNDS:-5}; CONNECTIONS=${CONNECTIONS:-32}; WARMUP=${WARMUP:-3}
VARIANTS=${VARIANTS:-off on sql-log}; BASELINE=${BASELINE:-off}
die() { echo "bench: $*" >&2; exit 1; }
in_range() { if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then die "$1=$2 must be a whole number in $3..$4"; fi; }
in_range DURATION "$DURATION" 1 120
in_range ROUNDS "$ROUNDS" 1 50
in_range CONNECTIONS "$CONNECTIONS" 1 256
in_range WARMUP "$WARMUP" 0 60
for v in $VARIANTS; do [[ "$v" =~ ^(off|on|sql-log|faults-off|faults-rule)$ ]] || die "VARIANTS: unknown '$v' (use off, on, sql-log, faults-off, faults-rule)"; done
[[ " $VARIANTS " == *" $BASELINE "* ]] || die "VARIANTS must include $BASELINE (BASELINE, what the ratios are against)"
for tool in wrk curl ss dotnet awk timeout; do command -v "$tool" >/dev/null || die "$tool is required (wrk: apt-get install -y wrk)"; done

PIDS=(); WORK=$(mktemp -d /tmp/exbuy-bench-obs.XXXXXX)
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
source bench/lib/servers.sh

pg_start
echo "bench: building (Release)"
timeout 900 dotnet build -c Release src/ExBuy.Api -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
DLL=src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll
timeout 600 dotnet "$DLL" seed --preset small >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
PRODUCTS=$(psql_run -d "$DB_NAME" -At -c "SELECT max(id) FROM products WHERE deleted_at IS NULL")

export SEED_ON_EMPTY=none DB_MIGRATE=false LOG_LEVEL=WARNING
for v in $VARIANTS; do
  case $v in
    off) start off env METRICS=off dotnet "$DLL" ;;
    on) start on env METRICS=on dotnet "$DLL" ;;
    # Its stdout (a line per statement) goes to /dev/null: the cost measured is logging's, not the disk's.
    sql-log) start sql-log sh -c 'exec "$@" >/dev/null' sh env METRICS=on DB_LOG_LEVEL=DEBUG dotnet "$DLL" ;;
    faults-off) start faults-off env METRICS=on FAULTS=off dotnet "$DLL" ;;
    faults-rule) start faults-rule env METRICS=on ADMIN_TOKEN=bench-token FAULT_ROUTES=/api/stats/top-products FAULT_ERROR=503 dotnet "$DLL" ;;
  esac
done
curl -sf "http://127.0.0.1:${PORT[$BASELINE]}/api/products/1?optimize=true" >/dev/null || die "product 1 is not served"

declare -A PATHS=([health]="/api/health" [detail]="/api/products/{1}?optimize=true")
declare -A LABEL=([health]="GET /api/health" [detail]="GET /api/products/{id}?optimize=true")
read -r -a ENDPOINTS <<<"${ONLY:-health detail}"
for e in "${ENDPOINTS[@]}"; do [ -n "${PATHS[$e]:-}" ] || die "ONLY: unknown endpoint '$e' (use health, detail)"; done
declare -A RPS CPU RATIO
run() { # variant endpoint seconds → "rps cpu_us"
  local c0 c1 out req rps err
  c0=$(cpu_of "${PORT[$1]}")
  out=$(WRK_PATH=${PATHS[$2]} WRK_RANGES="1-$PRODUCTS" timeout $(( $3 + 40 )) wrk -t1 -c"$CONNECTIONS" -d"$3s" \
    -s bench/lib/random-id.lua "http://127.0.0.1:${PORT[$1]}" 2>&1) || die "wrk failed on $1 $2: $out"
  c1=$(cpu_of "${PORT[$1]}")
  out=$(grep '^RESULT' <<<"$out") || die "wrk printed no result on $1 $2"
  grep -q ' non2xx=0 ' <<<"$out" || die "$1 $2 answered non-2xx: $out"
  req=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$out"); err=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$out")
  if [ "$req" -eq 0 ] || [ $(( err * 1000 )) -gt "$req" ]; then die "$1 $2: no requests or socket errors: $out"; fi
  rps=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$out")
  echo "$rps $(awk -v a="$c0" -v b="$c1" -v n="$req" 'BEGIN{printf "%.1f", (b - a) * 1e6 / n}')"
}

echo "bench: warming up (20 requests, then $WARMUP s of load, per server and endpoint)"
for e in "${ENDPOINTS[@]}"; do
  for v in $VARIANTS; do
    for i in $(seq 1 20); do curl -sf -o /dev/null "http://127.0.0.1:${PORT[$v]}${PATHS[$e]//\{1\}/$i}" || die "$v: ${PATHS[$e]} failed"; done
    [ "$WARMUP" -eq 0 ] || run "$v" "$e" "$WARMUP" >/dev/null
  done
done

read -r -a order <<<"$VARIANTS"
for r in $(seq 1 "$ROUNDS"); do
  for e in "${ENDPOINTS[@]}"; do
    declare -A got=()
    for v in "${order[@]}"; do
      read -r rps us < <(run "$v" "$e" "$DURATION")
      got[$v]=$rps; RPS[$v|$e]="${RPS[$v|$e]:-} $rps"; CPU[$v|$e]="${CPU[$v|$e]:-} $us"
      printf '  round %d %-7s %-8s rps=%-9s cpu_us_per_req=%s\n' "$r" "$e" "$v" "$rps" "$us"
    done
    for v in $VARIANTS; do
      RATIO[$v|$e]="${RATIO[$v|$e]:-} $(awk -v a="${got[$v]}" -v b="${got[$BASELINE]}" 'BEGIN{printf "%.4f", a / b}')"
    done
  done
  mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
done

echo
echo "$(for e in "${ENDPOINTS[@]}"; do printf '%s, ' "${LABEL[$e]}"; done)PostgreSQL, small preset," \
  "wrk -t1 -c$CONNECTIONS, $ROUNDS interleaved rounds × ${DURATION}s; medians. CPU = server process user+system µs per request."
echo
echo "| endpoint | variant | req/s | ÷ $BASELINE | throughput cost | CPU µs/req |"
echo "|---|---|---:|---:|---:|---:|"
for e in "${ENDPOINTS[@]}"; do
  for v in $VARIANTS; do
    ratio=$(median "${RATIO[$v|$e]}")
    printf '| %s | %s | %.0f | %.3f | %s | %.1f |\n' "$e" "$v" "$(median "${RPS[$v|$e]}")" "$ratio" \
      "$(awk -v r="$ratio" 'BEGIN{printf "%+.1f %%", (1 - r) * 100}')" "$(median "${CPU[$v|$e]}")"
  done
done
