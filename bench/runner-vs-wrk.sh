#!/usr/bin/env bash
# "The runner must not be what is measured": on GET /api/health at 32 connections exbuy-load must reach >= 0.8x the
# requests/s of wrk (Debian package) in the same run. ExBuy (Release) on SQLite (default: /api/health touches no
# database; the runner's set-up still reads products, so the file is seeded with the small preset) or on a throwaway
# PostgreSQL; interleaved rounds of
#   wrk -t1 -cCONNECTIONS -dDURATIONs http://127.0.0.1:PORT/api/health
#   exbuy-load run --scenarios $WORK/health.json --scenario health --vus CONNECTIONS --warmup WARMUPs --duration DURATIONs
# (wrk first in odd rounds, the runner first in even ones). The runner has no health-only scenario: the script writes
# one (a single operation GET /api/health, expect 200) into its temp dir. Prints both requests/s per round, the median
# of the per-round ratios runner/wrk, and the client CPU per request: the runner's user+system time from
# /proc/<pid>/stat between the end of its warm-up and the end of its measured phase (found by following its output),
# wrk's from its whole life (it does nothing else; `times` of the subshell that waited for it); the server's CPU per
# request (every process on its port, /proc) over the same windows as a check that both drove the same work.
#   bench/runner-vs-wrk.sh                            # SQLite, 32 connections, 10 s, 3 rounds
#   DURATION=3 ROUNDS=1 bench/runner-vs-wrk.sh        # a quick look
#   DB=postgres CONNECTIONS=64 bench/runner-vs-wrk.sh
# Knobs: DURATION (s, 1..300, default 10) ROUNDS (1..20, default 3) CONNECTIONS (1..256, default 32) DB (sqlite|postgres)
#   WARMUP (the runner's --warmup, s, 1..60, default 2; the server is warmed once with wrk before round 1)
#   LOAD_DLL (a prebuilt exbuy-load.dll to use instead of building src/ExBuy.Load).
# A measurement: exits 0 whether or not the 0.8x holds (the last line says which); exits 1 only when something failed
# (non-2xx answers, socket errors, a runner error). Bounded: every wrk and runner run is under `timeout`; the server
# (and PostgreSQL) listen on 127.0.0.1 only and are stopped on exit. Needs wrk (apt-get install -y wrk) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh

DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; CONNECTIONS=${CONNECTIONS:-32}; DB=${DB:-sqlite}; WARMUP=${WARMUP:-2}
TARGET=0.8
die() { echo "bench: $*" >&2; exit 1; }
in_range() { if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then die "$1=$2 must be a whole number in $3..$4"; fi; }
in_range DURATION "$DURATION" 1 300
in_range ROUNDS "$ROUNDS" 1 20
in_range CONNECTIONS "$CONNECTIONS" 1 256
in_range WARMUP "$WARMUP" 1 60   # its end line marks the start of the measured phase
[[ "$DB" =~ ^(sqlite|postgres)$ ]] || die "DB=$DB: use sqlite or postgres"
for tool in wrk curl ss dotnet jq awk timeout flock tail python3; do
  command -v "$tool" >/dev/null || die "$tool is required (wrk: apt-get install -y wrk; jq: apt-get install -y jq)"
done

PIDS=(); WORK=$(mktemp -d /tmp/exbuy-bench-runner-wrk.XXXXXX)
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source bench/lib/servers.sh
source bench/lib/load.sh

build_release
export LOG_LEVEL=WARNING
if [ "$DB" = postgres ]; then
  pg_start
  export SEED_ON_EMPTY=none
  timeout 600 dotnet "$API_DLL" seed --preset small >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
else
  # A fresh file in the temp dir, migrated and seeded (small) by the server at start-up.
  export DB_ENGINE=sqlite DB_PATH=$WORK/exbuy.db SEED_ON_EMPTY=small
fi
start exbuy dotnet "$API_DLL"
URL="http://127.0.0.1:${PORT[exbuy]}"
echo "bench: ExBuy ($DB) on $URL"

cat >"$WORK/health.json" <<'EOF'
{
  "version": 1,
  "search_terms": ["pro"],
  "operations": {
    "health": { "method": "GET", "path": "/api/health", "expect": [200], "effect": "none" }
  },
  "scenarios": {
    "health": { "description": "GET /api/health only (bench/runner-vs-wrk.sh)", "optimize": "true", "lock_type": "optimistic",
                "weights": { "health": 1 } }
  }
}
EOF

cpu_pid() { # CPU seconds (user + system) of one process so far
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.4f", ($14 + $15) / hz}' "/proc/$1/stat"
}

run_wrk() { # seconds → "rps requests client_cpu_s"; fails on non-2xx or socket errors
  local out cpu req rps
  # The subshell's `times`: user and system time of the children it waited for (timeout and wrk), so wrk's whole life.
  out=$( ( timeout $(( $1 + 30 )) wrk -t1 -c"$CONNECTIONS" -d"$1s" "$URL/api/health" 2>&1; times ) ) || die "wrk failed: $out"
  grep -q 'Non-2xx\|Socket errors' <<<"$out" && die "wrk saw non-2xx answers or socket errors: $out"
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  req=$(awk '/ requests in / {print $1}' <<<"$out")
  cpu=$(tail -1 <<<"$out" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.4f", t }')
  if [ -z "$rps" ] || [ -z "$req" ]; then die "wrk printed no result: $out"; fi
  echo "$rps $req $cpu"
}

echo "bench: warming the server up: wrk -c$CONNECTIONS for 3 s"
run_wrk 3 >/dev/null || exit 1

declare -A V LAST
ROUND_RPS=()
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order=(wrk runner); else order=(runner wrk); fi
  for tool in "${order[@]}"; do
    if [ "$tool" = wrk ]; then
      s0=$(cpu_of "${PORT[exbuy]}")
      line=$(run_wrk "$DURATION") || exit 1
      read -r rps req cpu <<<"$line"
      s1=$(cpu_of "${PORT[exbuy]}")
    else
      label="round$r"
      load_run_bg "$label" --scenarios "$WORK/health.json" --scenario health --base-url "$URL" --vus "$CONNECTIONS" \
        --duration "${DURATION}s" --warmup "${WARMUP}s"
      log="$WORK/runs/$label.log"
      # LOAD_PID is the `timeout` wrapping the runner: the runner is its only child.
      runner=""
      for _ in $(seq 1 100); do
        runner=$(ps -o pid= --ppid "$LOAD_PID" | awk 'NR == 1 {print $1}')
        [ -n "$runner" ] && break
        sleep 0.05
      done
      [ -n "$runner" ] || die "the runner process was not found under pid $LOAD_PID"
      # The measured phase starts right after "warm-up: N requests ..." (no writes: no stock read in between) and ends
      # before the per-operation table ("health: N requests in X s").
      wait_line "$log" '^warm-up: ' "$runner" || { load_wait; die "runner ($label) ended before its measured phase: $(tail -5 "$log")"; }
      c0=$(cpu_pid "$runner"); s0=$(cpu_of "${PORT[exbuy]}")
      wait_line "$log" 'health: [0-9]* requests in' "$runner" || { load_wait; die "runner ($label) ended without its table: $(tail -5 "$log")"; }
      c1=$(cpu_pid "$runner"); s1=$(cpu_of "${PORT[exbuy]}")
      load_wait
      [ "$LOAD_RC" = 0 ] || die "runner ($label) exited $LOAD_RC: $(tail -5 "$log")"
      read -r rps req errors < <(jqr '"\(.totals.rps) \(.totals.count) \(.totals.errors)"')
      [ "$errors" = 0 ] || die "runner ($label): $errors errors (statuses: $(jqr '.operations.health.statuses | tostring'))"
      cpu=$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.4f", b - a}')
    fi
    [ "$req" -gt 0 ] || die "$tool: no request completed"
    us=$(awk -v c="$cpu" -v n="$req" 'BEGIN{printf "%.1f", c * 1e6 / n}')
    sus=$(awk -v a="$s0" -v b="$s1" -v n="$req" 'BEGIN{printf "%.1f", (b - a) * 1e6 / n}')
    printf '  round %d %-6s rps=%-10s requests=%-8s client_cpu_us_per_req=%-7s server_cpu_us_per_req=%s\n' "$r" "$tool" "$rps" "$req" "$us" "$sus"
    V[$tool|rps]="${V[$tool|rps]:-} $rps"; V[$tool|us]="${V[$tool|us]:-} $us"; V[$tool|sus]="${V[$tool|sus]:-} $sus"
    LAST[$tool]=$rps
  done
  V[ratio]="${V[ratio]:-} $(awk -v a="${LAST[runner]}" -v b="${LAST[wrk]}" 'BEGIN{printf "%.4f", a / b}')"
  ROUND_RPS+=("| $r | $(printf '%.0f' "${LAST[wrk]}") | $(printf '%.0f' "${LAST[runner]}") | $(awk -v a="${LAST[runner]}" -v b="${LAST[wrk]}" 'BEGIN{printf "%.3f", a / b}') |")
done

ratio=$(median "${V[ratio]}")
echo
echo "GET /api/health, ExBuy Release on $DB, $CONNECTIONS connections (wrk -t1 -c$CONNECTIONS; exbuy-load --vus $CONNECTIONS" \
  "after a ${WARMUP}s warm-up), ${DURATION}s per run, $ROUNDS interleaved round(s). CPU = user+system µs per request of the" \
  "client process (and of the server over the same window); all three share the machine's $(nproc) cores."
echo
echo "| round | wrk req/s | exbuy-load req/s | runner ÷ wrk |"
echo "|---:|---:|---:|---:|"
printf '%s\n' "${ROUND_RPS[@]}"
echo
echo "| client | req/s (median) | client CPU µs/req | server CPU µs/req |"
echo "|---|---:|---:|---:|"
for tool in wrk runner; do
  printf '| %s | %.0f | %.1f | %.1f |\n' "$([ "$tool" = wrk ] && echo wrk || echo exbuy-load)" \
    "$(median "${V[$tool|rps]}")" "$(median "${V[$tool|us]}")" "$(median "${V[$tool|sus]}")"
done
echo
if awk -v r="$ratio" -v t="$TARGET" 'BEGIN{exit !(r >= t)}'; then
  printf 'runner ÷ wrk = %.3f (median of %d round(s)): HOLDS (≥ %s×)\n' "$ratio" "$ROUNDS" "$TARGET"
else
  printf 'runner ÷ wrk = %.3f (median of %d round(s)): DOES NOT HOLD (< %s×): the runner, not the server, limits this measurement\n' \
    "$ratio" "$ROUNDS" "$TARGET"
fi
