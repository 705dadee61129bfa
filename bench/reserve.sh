#!/usr/bin/env bash
# Reservation throughput per lock_type on PostgreSQL under contention, plus bulk-order and top-products timings.
#
# Starts a throwaway PostgreSQL cluster and the app (Release build) on 127.0.0.1 only, seeds rows directly with SQL,
# drives POST /api/inventory/reserve with wrk (Lua script bench/reserve.lua) for each lock_type against a few hot
# products, prints requests/s per lock_type and the ratio against optimistic from the same run, then times
# GET /api/stats/top-products on 10K products / 50K orders inserted with generate_series (before any other order
# exists), and POST /api/orders/bulk (100 orders × 5 items, and the 100 × 50 maximum). Every loop is bounded in count and time; what this script
# starts it stops on exit (by PID / data directory), and its temp directory is removed.
#
# Knobs (environment):
#   DURATION=10      seconds of measurement per lock_type (1..60), after a 3 s warm-up
#   CONNECTIONS=32   concurrent wrk connections (1..256)      THREADS=2   wrk threads (1..16)
#   HOT=4            hot products the reservations contend on (1..100)
#   BULK_RUNS=20     timed bulk requests per size (1..200)     STATS_RUNS=20  timed stats requests (1..200)
#   PG_BIN (default: newest /usr/lib/postgresql/*/bin)           PG_DURABLE=0 (1 keeps fsync/synchronous_commit on)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
HOT=${HOT:-4}
BULK_RUNS=${BULK_RUNS:-20}
STATS_RUNS=${STATS_RUNS:-20}
PG_DURABLE=${PG_DURABLE:-0}

die() { echo "reserve.sh: $*" >&2; exit 1; }
in_range() { if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then die "$1=$2 must be a whole number in $3..$4"; fi; }
in_range DURATION "$DURATION" 1 60
in_range CONNECTIONS "$CONNECTIONS" 1 256
in_range THREADS "$THREADS" 1 16
in_range HOT "$HOT" 1 100
in_range BULK_RUNS "$BULK_RUNS" 1 200
in_range STATS_RUNS "$STATS_RUNS" 1 200
(( THREADS <= CONNECTIONS )) || die "THREADS must not exceed CONNECTIONS"
for tool in wrk curl dotnet awk; do command -v "$tool" >/dev/null || die "$tool is required (wrk: apt-get install -y wrk)"; done
source "$ROOT/bench/lib/pg.sh"

WORK=$(mktemp -d /tmp/exbuy-bench-XXXXXX)
chmod 755 "$WORK"
APP_PID=""

cleanup() {
  set +e
  if [[ -n "$APP_PID" ]]; then
    kill "$APP_PID" 2>/dev/null
    wait "$APP_PID" 2>/dev/null
  fi
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  local port
  for _ in $(seq 1 50); do
    port=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

APP_PORT=$(free_port)
URL="http://127.0.0.1:$APP_PORT"

# Every statement is bounded too (2 minutes).
psql_q() { PGOPTIONS="-c statement_timeout=120000" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d exbuy -v ON_ERROR_STOP=1 -qAtX "$@"; }

summary() { # seconds, one per line → "min/median/p95 ms"
  sort -n | awk '{ v[NR] = $1 * 1000 } END {
    p95 = int(NR * 0.95 + 0.999); if (p95 < 1) p95 = 1; if (p95 > NR) p95 = NR;
    printf "min %.1f ms, median %.1f ms, p95 %.1f ms (n=%d)", v[1], v[int((NR + 1) / 2)], v[p95], NR }'
}

# ---- PostgreSQL ------------------------------------------------------------------------------------------------------
echo "== PostgreSQL: throwaway cluster (bench/lib/pg.sh, fsync $([[ "$PG_DURABLE" == "1" ]] && echo on || echo off))"
PG_FSYNC=$([[ "$PG_DURABLE" == "1" ]] && echo on || echo off) pg_start
PG_PORT=$PGPORT
[[ "$PG_PORT" != "$APP_PORT" ]] || { APP_PORT=$(free_port); URL="http://127.0.0.1:$APP_PORT"; }
psql_run -d postgres -qAt -c "CREATE DATABASE exbuy" >/dev/null

# ---- App -------------------------------------------------------------------------------------------------------------
echo "== App: Release build on $URL"
timeout 600 dotnet publish "$ROOT/src/ExBuy.Api" -c Release -o "$WORK/app" --nologo -v q >"$WORK/publish.log" 2>&1 \
  || { cat "$WORK/publish.log"; die "publish failed"; }
env DB_ENGINE=postgres DB_HOST=127.0.0.1 DB_PORT="$PG_PORT" DB_NAME=exbuy DB_USER=postgres DB_PASSWORD='' \
  SEED_ON_EMPTY=none LOG_LEVEL=WARNING ASPNETCORE_URLS="$URL" \
  dotnet "$WORK/app/ExBuy.Api.dll" >"$WORK/app.log" 2>&1 &
APP_PID=$!
for _ in $(seq 1 120); do
  curl -fsS --max-time 2 "$URL/api/health/ready" >/dev/null 2>&1 && break
  kill -0 "$APP_PID" 2>/dev/null || { cat "$WORK/app.log"; die "the app exited"; }
  sleep 0.5
done
curl -fsS --max-time 2 "$URL/api/health/ready" >/dev/null || { cat "$WORK/app.log"; die "the app did not become ready"; }
echo "   $(curl -fsS --max-time 5 "$URL/api/info")"

# ---- Reservations ----------------------------------------------------------------------------------------------------
HOT_IDS=$(psql_q -c "INSERT INTO products (name, price, stock, category, version, created_at, updated_at)
  SELECT 'hot-' || g, 9.99, 100000000, 'bench-hot', 0, now(), now() FROM generate_series(1, $HOT) AS g
  RETURNING id" | grep -E '^[0-9]+$' | paste -sd, -)
hot_stock() { psql_q -c "SELECT sum(stock) FROM products WHERE category = 'bench-hot'"; }

echo "== Reservations: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, quantity 1 over $HOT hot products ($HOT_IDS)"
declare -A RPS
printf '   %-12s %12s %10s %10s %s\n' lock_type "req/s" p50 p99 "statuses (units taken check)"
for lock in optimistic pessimistic versioned; do
  LOCK_TYPE=$lock HOT_IDS=$HOT_IDS timeout 40 wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$ROOT/bench/reserve.lua" "$URL" >/dev/null
  sleep 1
  before=$(hot_stock)
  out=$(LOCK_TYPE=$lock HOT_IDS=$HOT_IDS timeout $((DURATION + 40)) \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" -s "$ROOT/bench/reserve.lua" "$URL")
  sleep 1
  after=$(hot_stock)
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  statuses=$(awk '/^STATUS/ { $1 = ""; sub(/^ /, ""); print }' <<<"$out")
  p50=$(awk '/^LATENCY/ { sub("p50=", "", $2); print $2 }' <<<"$out")
  p99=$(awk '/^LATENCY/ { sub("p99=", "", $3); print $3 }' <<<"$out")
  ok=$(tr ' ' '\n' <<<"$statuses" | awk -F= '$1 == 200 { print $2 }')
  ok=${ok:-0}
  taken=$(( before - after ))
  # Every 200 took exactly one unit; requests still in flight when wrk stopped may have taken one more each.
  check="ok"
  (( taken >= ok && taken - ok <= CONNECTIONS )) || check="MISMATCH: $taken units taken for $ok x 200"
  if tr ' ' '\n' <<<"$statuses" | grep -qE '^5[0-9][0-9]='; then check="$check, 5xx SEEN"; fi
  RPS[$lock]=$rps
  printf '   %-12s %12s %10s %10s %s (%s)\n' "$lock" "$rps" "$p50" "$p99" "$statuses" "$check"
done
echo "   ratio vs optimistic (same run):" \
  "pessimistic $(awk -v a="${RPS[pessimistic]}" -v b="${RPS[optimistic]}" 'BEGIN { printf "%.2f", a / b }')," \
  "versioned $(awk -v a="${RPS[versioned]}" -v b="${RPS[optimistic]}" 'BEGIN { printf "%.2f", a / b }')"

# ---- Stats -----------------------------------------------------------------------------------------------------------
echo "== Stats: inserting ~10K products / 50K orders with generate_series"
psql_q -c "INSERT INTO products (name, price, stock, category, version, created_at, updated_at, deleted_at)
  SELECT 'stats-' || g, round(1 + (g * 37 % 5000) / 10.0, 2), 1000, 'bench-stats', 0, now(), now(),
         CASE WHEN g % 100 = 0 THEN now() END
  FROM generate_series(1, 10000) AS g" >/dev/null
# 1..5 items per order (avg 3), distinct products per order; 10 % cancelled; 1 % of products deleted.
psql_q -c "WITH p AS (
    SELECT id, price, row_number() OVER (ORDER BY id) - 1 AS rn FROM products WHERE category = 'bench-stats'),
  o AS (
    INSERT INTO orders (user_id, status, total_price, created_at, updated_at)
    SELECT 1 + g % 5000,
           (ARRAY['cancelled','pending','pending','pending','paid','paid','shipped','shipped','delivered','delivered'])[1 + g % 10],
           0, now() - make_interval(secs => g), now()
    FROM generate_series(1, 50000) AS g
    RETURNING id)
  INSERT INTO order_items (order_id, product_id, quantity, unit_price)
  SELECT o.id, p.id, 1 + (o.id + k) % 4, p.price
  FROM o CROSS JOIN generate_series(1, 5) AS k
  JOIN p ON p.rn = (o.id * 7919 + k * 104729) % 10000
  WHERE k <= 1 + o.id % 5" >/dev/null
psql_q -c "UPDATE orders AS o SET total_price = s.total
  FROM (SELECT order_id, sum(quantity * unit_price) AS total FROM order_items GROUP BY order_id) AS s
  WHERE o.id = s.order_id AND o.total_price = 0" >/dev/null
psql_q -c "VACUUM ANALYZE" >/dev/null
echo "   rows: $(psql_q -c "SELECT (SELECT count(*) FROM products) || ' products, ' || (SELECT count(*) FROM orders) || ' orders, '
  || (SELECT count(*) FROM order_items) || ' order items'")"

time_stats() { # limit
  local times="$WORK/times"
  : >"$times"
  for i in $(seq 1 $((STATS_RUNS + 3))); do
    read -r code secs < <(curl -sS -o "$WORK/resp" --max-time 60 -w '%{http_code} %{time_total}\n' \
      "$URL/api/stats/top-products?limit=$1")
    [[ "$code" == "200" ]] || { head -c 500 "$WORK/resp"; die "stats answered $code"; }
    if (( i > 3 )); then echo "$secs" >>"$times"; fi
  done
  printf '   GET /api/stats/top-products?limit=%-3s %s\n' "$1" "$(summary <"$times")"
}
time_stats 10
time_stats 100

# The query the endpoint runs (as EF generates it), and two forms it deliberately avoids, for comparison.
stats_sql() { # endpoint | distinct | by-name
  local count='count(*)'
  [[ "$1" == distinct ]] && count='count(DISTINCT o.order_id)'
  if [[ "$1" == by-name ]]; then
    cat <<SQL
SELECT o.product_id, p.name, COALESCE(sum(o.quantity::bigint), 0.0)::bigint AS units_sold,
       COALESCE(sum(o.quantity::numeric(12,2) * o.unit_price), 0.0) AS revenue, count(*) AS order_count
FROM order_items AS o
INNER JOIN orders AS o0 ON o.order_id = o0.id
INNER JOIN products AS p ON o.product_id = p.id
WHERE o0.status <> 'cancelled' AND p.deleted_at IS NULL
GROUP BY o.product_id, p.name
ORDER BY units_sold DESC, o.product_id
LIMIT 10
SQL
    return
  fi
  cat <<SQL
SELECT s.product_id, p.name, s.units_sold, s.revenue, s.order_count
FROM (
  SELECT o.product_id, COALESCE(sum(o.quantity::bigint), 0.0)::bigint AS units_sold,
         COALESCE(sum(o.quantity::numeric(12,2) * o.unit_price), 0.0) AS revenue, $count AS order_count
  FROM order_items AS o
  INNER JOIN orders AS o0 ON o.order_id = o0.id
  WHERE o0.status <> 'cancelled'
  GROUP BY o.product_id
) AS s
INNER JOIN (SELECT id, name FROM products WHERE deleted_at IS NULL) AS p ON s.product_id = p.id
ORDER BY s.units_sold DESC, s.product_id
LIMIT 10
SQL
}
explain_ms() { psql_q -c "EXPLAIN (ANALYZE, TIMING OFF) $(stats_sql "$1")" | awk '/Execution Time/ { print $3 " ms" }'; }
# Best of 5 (warm cache), so a noisy neighbour affects the comparison less.
best_ms() { for _ in 1 2 3 4 5; do explain_ms "$1"; done | sort -n | head -1; }
echo "   in-database execution (EXPLAIN ANALYZE, best of 5): endpoint query $(best_ms endpoint);" \
  "with count(DISTINCT order_id) $(best_ms distinct); grouped by (product_id, name) $(best_ms by-name)"
echo "   plan of the endpoint query:"
psql_q -c "EXPLAIN $(stats_sql endpoint)" | sed 's/^/     /'

# ---- Bulk orders -----------------------------------------------------------------------------------------------------
BULK_IDS=$(psql_q -c "INSERT INTO products (name, price, stock, category, version, created_at, updated_at)
  SELECT 'bulk-' || g, 1.00 + g / 100.0, 100000000, 'bench-bulk', 0, now(), now() FROM generate_series(1, 50) AS g
  RETURNING id" | grep -E '^[0-9]+$' | paste -sd, -)

bulk_body() { # orders, items per order → JSON body (items distinct within an order: items ≤ 50 products)
  awk -v n="$1" -v k="$2" -v ids="$BULK_IDS" 'BEGIN {
    m = split(ids, id, ",");
    printf "{\"orders\":[";
    for (i = 0; i < n; i++) {
      printf "%s{\"user_id\":%d,\"items\":[", (i ? "," : ""), 1 + i;
      for (j = 0; j < k; j++) printf "%s{\"product_id\":%s,\"quantity\":%d}", (j ? "," : ""), id[(i + j) % m + 1], 1 + (i + j) % 3;
      printf "]}";
    }
    printf "]}";
  }'
}


time_bulk() { # orders, items
  local body="$WORK/bulk-$1x$2.json" times="$WORK/times"
  bulk_body "$1" "$2" >"$body"
  : >"$times"
  for i in $(seq 1 $((BULK_RUNS + 3))); do
    read -r code secs < <(curl -sS -o "$WORK/resp" -D "$WORK/headers" --max-time 60 -w '%{http_code} %{time_total}\n' \
      -H 'Content-Type: application/json' --data-binary @"$body" "$URL/api/orders/bulk")
    [[ "$code" == "201" ]] || { head -c 500 "$WORK/resp"; die "bulk $1 × $2 answered $code"; }
    if (( i > 3 )); then echo "$secs" >>"$times"; fi   # the first 3 are warm-up
  done
  local queries
  queries=$(awk -F': ' 'tolower($1) == "x-query-count" { gsub("\r", "", $2); print $2 }' "$WORK/headers")
  printf '   %3d orders × %2d items (%4d lines, %s KiB body, X-Query-Count %s): %s\n' "$1" "$2" $(( $1 * $2 )) \
    $(( $(wc -c <"$body") / 1024 )) "$queries" "$(summary <"$times")"
}

echo "== Bulk orders: POST /api/orders/bulk, $BULK_RUNS timed runs each after 3 warm-up runs"
time_bulk 100 5
time_bulk 100 50

echo "== Done (the cluster, the app and $WORK are removed on exit)"
