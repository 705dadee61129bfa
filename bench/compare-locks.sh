#!/usr/bin/env bash
# The three lock types under contention: the `contention` scenario of load/scenarios.json (70 % reserve, 25 % orders,
# 5 % detail, all on the 5 in-stock products with the most stock; with STOCK all are equal: the 5 lowest ids) run by
# exbuy-load (Release) once per lock_type (--lock-type optimistic|pessimistic|versioned) against ExBuy (Release) on a
# throwaway PostgreSQL, interleaved over
# ROUNDS (optimistic, pessimistic, versioned, then the reverse order the next round, so drift favours no lock type).
# Prints per lock_type: reserve throughput (rps), reserve p99, reserve 409s (count and share of the reserve requests,
# split by ExBuy's own exbuy_stock_conflicts_total into "insufficient stock" and "kept changing", read from /metrics
# around the measured phase), the runner's correctness verdict, and ratios against optimistic (medians of the per-round
# ratios).
#   bench/compare-locks.sh                                  # small preset, 32 VUs, 20 s per run, 3 rounds
#   DURATION=3 ROUNDS=1 bench/compare-locks.sh              # a quick look
#   STOCK=seeded bench/compare-locks.sh                     # the seeded stock: the hot products run dry
# Fresh data before every run: `seed --reset --preset PRESET` (the server keeps running; ExBuy caches no rows), then
#   every in-stock product's stock set to STOCK with SQL (default 1000000). Why a reseed and not only a SQL restock:
#   a run drains its hot products AND leaves behind the orders and order items its create_order share placed (plus
#   dead tuples); restoring stock alone would give the next lock type the same stock but bigger, bloated tables, i.e.
#   favour whichever ran first. The reseed is deterministic (random seed 42): every run starts from identical rows and
#   storms the same 5 products. It costs ~1 s on small.
# Why STOCK: seeded products hold < 500 units each; 32 VUs drain the 5 hot ones during the 2 s warm-up already, and
#   from then on nearly every reserve is an "insufficient stock" 409, which measures the refusal path, not the lock.
#   With 1000000 units the storm cannot run dry: the 409s left are genuine contention (only versioned gives up, after
#   16 lost compare-and-swaps). STOCK=seeded keeps the seeded stock (the scenario exactly as the k6 script runs it).
#   The 409 split comes from ExBuy's exbuy_stock_conflicts_total (/metrics) read when the runner's output says its
#   measured phase starts and after it ends: approximate by the few ms the scrape lags.
# Knobs: DURATION (s, 1..600, default 20) VUS (1..1000, default 32) ROUNDS (1..20, default 3) PRESET (small|medium|large,
#   default small) WARMUP (s, 0..60, default 2; the warm-up reserves too, before the stock the runner checks is read)
#   STOCK (1..1000000000 or seeded, default 1000000) LOCKS (default "optimistic pessimistic versioned"; must include
#   optimistic) SEED (the runner's --seed, default 42; round r uses SEED + r - 1)
#   OUT (a directory to keep the result files in; default: a temp dir removed on exit) LOAD_DLL (a prebuilt
#   exbuy-load.dll to use instead of building src/ExBuy.Load).
# Exits 1 when any run's correctness verdict is not OK (stock that does not add up, negative stock, a wrong order
#   total), after printing the table; also when a run fails. Bounded: every runner run is under `timeout` (duration +
#   warm-up + 120 s of set-up and read-back); the server and PostgreSQL listen on 127.0.0.1 only and stop on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

DURATION=${DURATION:-20}; VUS=${VUS:-32}; ROUNDS=${ROUNDS:-3}; PRESET=${PRESET:-small}; WARMUP=${WARMUP:-2}
STOCK=${STOCK:-1000000}; LOCKS=${LOCKS:-optimistic pessimistic versioned}; SEED=${SEED:-42}; OUT=${OUT:-}
in_range DURATION "$DURATION" 1 600
in_range VUS "$VUS" 1 1000
in_range ROUNDS "$ROUNDS" 1 20
in_range WARMUP "$WARMUP" 0 60
in_range SEED "$SEED" 1 2000000000
[ "$STOCK" = seeded ] || in_range STOCK "$STOCK" 1 1000000000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
read -r -a LOCK_LIST <<<"$LOCKS"
for l in "${LOCK_LIST[@]}"; do [[ "$l" =~ ^(optimistic|pessimistic|versioned)$ ]] || die "LOCKS: unknown '$l' (use optimistic, pessimistic, versioned)"; done
[[ " $LOCKS " == *" optimistic "* ]] || die "LOCKS must include optimistic (the baseline of the ratios)"
require_tools curl ss dotnet jq awk timeout flock python3

bench_frame locks

pg_start
build_release
export SEED_ON_EMPTY=none LOG_LEVEL=WARNING
reseed() {
  timeout 1800 dotnet "$API_DLL" seed --reset --preset "$PRESET" >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
  if [ "$STOCK" != seeded ]; then
    psql_run -d "$DB_NAME" -c "UPDATE products SET stock = $STOCK WHERE stock > 0 AND deleted_at IS NULL" -c "VACUUM ANALYZE products" >/dev/null
  fi
}
echo "bench: seeding preset $PRESET (stock: $STOCK)"
reseed
grep 'exbuy seed: loaded' "$WORK/seed.log" | sed 's/^/  /' || true
start exbuy env METRICS=on dotnet "$API_DLL"
URL="http://127.0.0.1:${PORT[exbuy]}"
echo "bench: ExBuy on $URL"

# exbuy_stock_conflicts_total of the reserve endpoint for one reason (0 when the series does not exist yet).
conflicts() { # reason
  curl -sf --max-time 10 "$URL/metrics" | awk -v r="reason=\"$1\"" '
    /^exbuy_stock_conflicts_total\{/ && index($0, r) && index($0, "inventory/reserve") { s += $NF } END { printf "%d", s }'
}
curl -sf --max-time 10 "$URL/metrics" >/dev/null || die "GET /metrics failed (the 409 split needs METRICS=on)"

declare -A V VERDICT
FAILED=0
mapfile -t order < <(printf '%s\n' "${LOCK_LIST[@]}")
for r in $(seq 1 "$ROUNDS"); do
  declare -A got=()
  for l in "${order[@]}"; do
    reseed
    label="round$r-$l"
    load_run_bg "$label" --scenario contention --lock-type "$l" --base-url "$URL" --vus "$VUS" --duration "${DURATION}s" \
      --warmup "${WARMUP}s" --seed $(( SEED + r - 1 ))
    # The measured phase starts right after the runner has read the stock ("correctness: stock of N products read
    # before the run"): snapshot the conflict counters then, and again once it has finished.
    i0=""; c0=""
    if wait_line "$WORK/runs/$label.log" 'read before the run' "$LOAD_PID"; then
      i0=$(conflicts insufficient); c0=$(conflicts contended)
    fi
    load_wait
    i1=$(conflicts insufficient); c1=$(conflicts contended)
    [ -n "$i0" ] || { i0=$i1; c0=$c1; echo "bench: $label: the measured phase was not seen starting: no 409 split" >&2; }
    # Reserve: count, rps, p99, 409s; the verdict.
    # shellcheck disable=SC2016 # $o, $c are jq variables
    read -r n rps p99 n409 verdict ok < <(jqr '.operations.reserve as $o | .correctness as $c
      | "\($o.count) \($o.rps) \($o.latency_ms.p99) \($o.statuses["409"] // 0) \(.verdict | gsub(" "; "_")) \($c.checked and $c.ok)"')
    ins=$(( i1 - i0 )); con=$(( c1 - c0 ))
    share=$(awk -v a="$n409" -v n="$n" 'BEGIN{printf "%.1f", (n > 0 ? 100 * a / n : 0)}')
    printf '  round %d %-11s reserve: %6s req, %8s rps, p99 %8s ms, 409 %6s (%5s %%: %s insufficient, %s contended)  verdict %s (%s)\n' \
      "$r" "$l" "$n" "$rps" "$p99" "$n409" "$share" "$ins" "$con" "$verdict" "$(jqr '.correctness | "\(.verified) verified, \(.unverifiable) unverifiable"')"
    [ "$ok" = true ] || { FAILED=1; jqr '.correctness.violations[:5][], .correctness.other_violations[:5][]' | sed 's/^/    /' >&2; }
    [ "$n" -gt 0 ] || die "$label: no reserve request measured"
    VERDICT[$l]="${VERDICT[$l]:-} $([ "$ok" = true ] && echo OK || echo "${verdict}")"
    for k in n rps p99 n409 share ins con; do V[$l|$k]="${V[$l|$k]:-} ${!k}"; done
    got[$l]="$rps $p99"
  done
  read -r orps op99 <<<"${got[optimistic]}"
  for l in "${LOCK_LIST[@]}"; do
    read -r lrps lp99 <<<"${got[$l]}"
    V[$l|xrps]="${V[$l|xrps]:-} $(awk -v a="$lrps" -v b="$orps" 'BEGIN{printf "%.4f", (b > 0 ? a / b : 0)}')"
    V[$l|xp99]="${V[$l|xp99]:-} $(awk -v a="$lp99" -v b="$op99" 'BEGIN{printf "%.4f", (b > 0 ? a / b : 0)}')"
  done
  mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
done

m() { printf "%.${2:-1}f" "$(median "${V[$1]}")"; }
sumv() { awk '{s = 0; for (i = 1; i <= NF; i++) s += $i; print s}' <<<"${V[$1]}"; }
echo
echo "contention scenario (exbuy-load, $VUS VUs, ${DURATION}s after ${WARMUP}s warm-up), ExBuy Release on PostgreSQL," \
  "preset $PRESET reseeded before every run, stock of every in-stock product: $STOCK; $ROUNDS interleaved" \
  "round(s); rps/p99 = medians, ratios = medians of per-round ratios, 409s = sums over rounds (split from /metrics:" \
  "insufficient stock / kept changing)."
echo
echo "| lock_type | reserve rps | reserve p99 ms | reserve 409s | 409 share | insufficient / contended | correctness | rps ÷ optimistic | p99 ÷ optimistic |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|"
for l in "${LOCK_LIST[@]}"; do
  verdicts=$(tr ' ' '\n' <<<"${VERDICT[$l]}" | grep . | sort | uniq -c | awk '{printf "%s%s", (NR > 1 ? ", " : ""), ($1 > 1 ? $2 " ×" $1 : $2)}')
  printf '| %s | %s | %s | %d | %.1f %% | %d / %d | %s | %.2f× | %.2f× |\n' "$l" "$(m "$l|rps")" "$(m "$l|p99" 2)" \
    "$(sumv "$l|n409")" "$(awk -v a="$(sumv "$l|n409")" -v n="$(sumv "$l|n")" 'BEGIN{print (n > 0 ? 100 * a / n : 0)}')" \
    "$(sumv "$l|ins")" "$(sumv "$l|con")" "$verdicts" "$(median "${V[$l|xrps]}")" "$(median "${V[$l|xp99]}")"
done
if [ "$FAILED" != 0 ]; then
  echo
  echo "bench: CORRECTNESS VIOLATION in at least one run (see above): exit 1" >&2
  exit 1
fi
