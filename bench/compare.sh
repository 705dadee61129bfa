#!/usr/bin/env bash
# ExBuy's optimized endpoints vs a bare raw-Npgsql handler running the same SQL (bench/rawhandler/raw.cs), side by side
# in one run on one throwaway PostgreSQL. Prints requests/s per endpoint and the ratio ExBuy / raw.
#   bench/compare.sh                 # default: 10K products, 100K reviews, 8 s per measurement, 4 rounds
#   DURATION=5 ROUNDS=1 CONNECTIONS=32 bench/compare.sh
#   ONLY=detail bench/compare.sh      # product detail only
# Bounded: every wrk run lasts DURATION seconds; servers listen on 127.0.0.1 only and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
DURATION=${DURATION:-8}; ROUNDS=${ROUNDS:-4}; CONNECTIONS=${CONNECTIONS:-32}
PRODUCTS=${PRODUCTS:-10000}; REVIEWS=${REVIEWS:-100000}
command -v wrk >/dev/null || { echo "bench: wrk is required (apt-get install -y wrk)"; exit 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; pg_stop; }
trap cleanup EXIT
pg_start

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
VACUUM ANALYZE;
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
declare -A ratios
declare -A cpu_us
# CPU seconds (user + system) the process listening on a port has used so far.
cpu_of() { local pid; pid=$(ss -ltnpH "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat"; }
measure() { # label port prefix suffix max_id -> sets LAST_RPS
  local line c0 c1 us
  c0=$(cpu_of "$2")
  line=$(run "$2" "$3" "$4" "$5"); LAST_RPS=$(rps "$line")
  c1=$(cpu_of "$2")
  # Server CPU per request: steadier than requests/s on a machine the server shares with PostgreSQL and wrk.
  us=$(awk "BEGIN{printf \"%.0f\", ($c1 - $c0) * 1e6 / ($LAST_RPS * $DURATION)}")
  cpu_us[$1]="${cpu_us[$1]:-} $us"
  echo "  $1: $line cpu_us_per_req=$us"
  # A run with non-2xx answers, or socket errors beyond 0.1% of requests (a stalled VM can time out a few), measured
  # something else: stop rather than print a ratio of it.
  local req err
  req=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line"); err=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  if ! grep -q ' non2xx=0 ' <<<"$line" || [ $((err * 1000)) -gt "$req" ]; then
    echo "bench: $1 had non-2xx responses or too many socket errors"; exit 1
  fi
  if [ -z "${best[$1]:-}" ] || awk "BEGIN{exit !($LAST_RPS > ${best[$1]})}"; then best[$1]=$LAST_RPS; fi
}
# One pair: baseline and ExBuy back to back, in alternating order from round to round (so drift on this shared
# machine does not favour either side); the ratio of the pair is kept per round and the median reported.
pair() { # name raw_port raw_prefix raw_suffix exbuy_prefix exbuy_suffix max_id round
  local a b
  if [ $(( $8 % 2 )) -eq 1 ]; then
    measure "raw    $1" "$2" "$3" "$4" "$7"; a=$LAST_RPS
    measure "exbuy  $1" 18001 "$5" "$6" "$7"; b=$LAST_RPS
  else
    measure "exbuy  $1" 18001 "$5" "$6" "$7"; b=$LAST_RPS
    measure "raw    $1" "$2" "$3" "$4" "$7"; a=$LAST_RPS
  fi
  ratios[$1]="${ratios[$1]:-} $(awk "BEGIN{printf \"%.3f\", $b / $a}")"
}
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

echo "bench: warm-up"
for p in 18001 18002; do run $p /api/products/ "" "$PRODUCTS" 3 >/dev/null; run $p /api/health "" 0 2 >/dev/null; done
run 18001 /api/products/ "?optimize=true" "$PRODUCTS" 3 >/dev/null

for round in $(seq 1 "$ROUNDS"); do
  echo "bench: round $round (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
  [ "${ONLY:-}" = detail ] || pair "health" 18002 /api/health "" /api/health "" 0 "$round"
  pair "product detail" 18002 /api/products/ "" /api/products/ "?optimize=true" "$PRODUCTS" "$round"
  [ "${ONLY:-}" = detail ] || measure "exbuy  product detail optimize=false" 18001 /api/products/ "?optimize=false" "$PRODUCTS"
done

echo
echo "ExBuy / raw handler, median of $ROUNDS rounds (per-round ratios; best requests/s of each side):"
for name in "health" "product detail"; do
  [ -n "${ratios[$name]:-}" ] || continue
  printf '  %-16s %sx   (rounds:%s; raw %s, exbuy %s req/s)\n' "$name" "$(median "${ratios[$name]}")" "${ratios[$name]}" \
    "${best[raw    $name]}" "${best[exbuy  $name]}"
  printf '  %-16s server CPU per request, median: raw %s us, exbuy %s us\n' "" \
    "$(median "${cpu_us[raw    $name]}")" "$(median "${cpu_us[exbuy  $name]}")"
done
if [ -n "${best[exbuy  product detail optimize=false]:-}" ]; then
  printf '  %-16s %s req/s (optimize=false, the N+1 path: %sx of optimize=true)\n' "naive detail" \
    "${best[exbuy  product detail optimize=false]}" \
    "$(awk "BEGIN{printf \"%.2f\", ${best[exbuy  product detail optimize=false]} / ${best[exbuy  product detail]}}")"
fi
