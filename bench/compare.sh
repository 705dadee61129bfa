#!/usr/bin/env bash
# ExBuy's optimized endpoints vs a bare raw-Npgsql handler running the same SQL (bench/rawhandler/raw.cs), side by side
# in one run on one throwaway PostgreSQL. Prints requests/s per endpoint and the ratio ExBuy / raw.
#   bench/compare.sh                 # default: 10K products, 100K reviews, 10 s per measurement, 2 rounds
#   DURATION=5 ROUNDS=1 CONNECTIONS=32 bench/compare.sh
# Bounded: every wrk run lasts DURATION seconds; servers listen on 127.0.0.1 only and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-2}; CONNECTIONS=${CONNECTIONS:-32}
PRODUCTS=${PRODUCTS:-10000}; REVIEWS=${REVIEWS:-100000}
command -v wrk >/dev/null || { echo "bench: wrk is required (apt-get install -y wrk)"; exit 1; }

pg_start
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pg_stop; }
trap cleanup EXIT

echo "bench: building (Release)"
dotnet build -c Release src/ExBuy.Api -v q -nologo >/dev/null
dotnet build -c Release bench/rawhandler/raw.cs -v q -nologo >/dev/null
API_DLL=src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll
export SEED_ON_EMPTY=none LOG_LEVEL=WARNING
dotnet "$API_DLL" migrate >/dev/null

echo "bench: loading $PRODUCTS products, $REVIEWS reviews"
psql_run -d "$DB_NAME" <<SQL
INSERT INTO products (name, price, stock, category, version, created_at, updated_at)
SELECT 'Product ' || g, round((1 + (g * 7919 % 200000) / 100.0)::numeric, 2), g % 100,
       (ARRAY['electronics','books','clothing','home','sports','toys','beauty','food','garden','automotive'])[1 + g % 10],
       0, date_trunc('milliseconds', now() - make_interval(mins => g)), date_trunc('milliseconds', now())
FROM generate_series(1, $PRODUCTS) g;
INSERT INTO reviews (product_id, user_id, rating, body, created_at)
SELECT 1 + (g * 7 % $PRODUCTS), 1 + g % 5000, 1 + g % 5, 'Review body number ' || g || ' with a few words of text.',
       date_trunc('milliseconds', now() - make_interval(secs => g))
FROM generate_series(1, $REVIEWS) g;
ANALYZE;
SQL

start() { # name port cmd...
  local name=$1 port=$2; shift 2
  "$@" --urls "http://127.0.0.1:$port" >"/tmp/exbuy-bench-$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/api/health" >/dev/null && return 0; sleep 0.5; done
  echo "bench: $name did not start: $(tail -5 /tmp/exbuy-bench-$name.log)"; exit 1
}
start exbuy 18001 dotnet "$API_DLL"
start raw 18002 dotnet run -c Release --no-build bench/rawhandler/raw.cs --

# Same bytes first: a benchmark of two handlers that answer differently would measure nothing.
for id in 1 2 $((PRODUCTS / 2)); do
  a=$(curl -s "http://127.0.0.1:18001/api/products/$id?optimize=true"); b=$(curl -s "http://127.0.0.1:18002/api/products/$id")
  [ "$a" = "$b" ] || { echo "bench: product $id differs between ExBuy and raw:"; echo "$a"; echo "$b"; exit 1; }
done
echo "bench: responses identical (product detail)"

run() { # port prefix suffix max_id -> rps line
  WRK_PREFIX=$2 WRK_SUFFIX=$3 WRK_MAX_ID=$4 wrk -t1 -c"$CONNECTIONS" -d"${5:-$DURATION}s" --latency \
    -s bench/lib/random-id.lua "http://127.0.0.1:$1" | grep '^RESULT'
}
rps() { sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$1"; }

declare -A best
measure() { # label port prefix suffix max_id
  local line r
  line=$(run "$2" "$3" "$4" "$5"); r=$(rps "$line")
  echo "  $1: $line"
  # A run with errors or non-2xx answers measured something else: stop rather than print a ratio of it.
  grep -q 'errors=0 non2xx=0' <<<"$line" || { echo "bench: $1 had errors or non-2xx responses"; exit 1; }
  if [ -z "${best[$1]:-}" ] || awk "BEGIN{exit !($r > ${best[$1]})}"; then best[$1]=$r; fi
}

echo "bench: warm-up"
for p in 18001 18002; do run $p /api/products/ "" "$PRODUCTS" 3 >/dev/null; run $p /api/health "" 0 2 >/dev/null; done
run 18001 /api/products/ "?optimize=true" "$PRODUCTS" 3 >/dev/null

for round in $(seq 1 "$ROUNDS"); do
  echo "bench: round $round (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
  measure "raw    health" 18002 /api/health "" 0
  measure "exbuy  health" 18001 /api/health "" 0
  measure "raw    product detail" 18002 /api/products/ "" "$PRODUCTS"
  measure "exbuy  product detail optimize=true" 18001 /api/products/ "?optimize=true" "$PRODUCTS"
  measure "exbuy  product detail optimize=false" 18001 /api/products/ "?optimize=false" "$PRODUCTS"
done

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
echo
echo "best of $ROUNDS rounds (requests/s), ratio against the raw handler:"
printf '  %-40s %10s\n' "health raw" "${best[raw    health]}"
printf '  %-40s %10s  %sx\n' "health exbuy" "${best[exbuy  health]}" "$(ratio "${best[exbuy  health]}" "${best[raw    health]}")"
printf '  %-40s %10s\n' "product detail raw" "${best[raw    product detail]}"
printf '  %-40s %10s  %sx\n' "product detail exbuy optimize=true" "${best[exbuy  product detail optimize=true]}" \
  "$(ratio "${best[exbuy  product detail optimize=true]}" "${best[raw    product detail]}")"
printf '  %-40s %10s  %sx\n' "product detail exbuy optimize=false" "${best[exbuy  product detail optimize=false]}" \
  "$(ratio "${best[exbuy  product detail optimize=false]}" "${best[raw    product detail]}")"
