#!/usr/bin/env bash
# One request at a time: the server-side cost of each optimized read, and how it grows with the data and the page.
# For each preset it seeds a fresh database on one throwaway PostgreSQL, starts ExBuy, and times every request with
# curl (median of REPEAT after one warm-up request), in milliseconds. Deep pages (page 400 of medium data) sit next to
# page 1 so "a deep page costs about what page 1 costs" can be read off the table.
#   bench/latency.sh                          # small, medium, large (large seeds 2.8M rows: ~1 min)
#   PRESETS=medium REPEAT=9 bench/latency.sh
#   API_DLL=/path/to/other/ExBuy.Api.dll bench/latency.sh   # another build (e.g. an older commit) on the same script
# Bounded: REPEAT + 1 requests per row, each with a 60 s timeout; servers listen on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
PRESETS=${PRESETS:-small medium large}; REPEAT=${REPEAT:-5}; PORT=${PORT:-18031}
API_PID=""
cleanup() { [ -z "$API_PID" ] || kill "$API_PID" 2>/dev/null || true; wait 2>/dev/null || true; pg_stop; }
trap cleanup EXIT
pg_start

if [ -z "${API_DLL:-}" ]; then
  echo "bench: building (Release)"
  dotnet build -c Release src/ExBuy.Api -v q -nologo >/dev/null
  API_DLL=src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll
fi
export SEED_ON_EMPTY=none LOG_LEVEL=WARNING

# name|path (ID = a product in the middle, HOT = the product with most reviews, ORDER = an order in the middle)
ROWS=(
  "detail|/api/products/ID?optimize=true"
  "list p1|/api/products?optimize=true"
  "list p40|/api/products?optimize=true&page=40"
  "list p400|/api/products?optimize=true&page=400"
  "list -price p1|/api/products?optimize=true&ordering=-price"
  "list -price p400|/api/products?optimize=true&ordering=-price&page=400"
  "list name p400|/api/products?optimize=true&ordering=name&page=400"
  "list -created_at p400|/api/products?optimize=true&ordering=-created_at&page=400"
  "list stock p400|/api/products?optimize=true&ordering=stock&page=400"
  "list 100 p1|/api/products?optimize=true&page_size=100"
  "list 100 p80|/api/products?optimize=true&page_size=100&page=80"
  "search q=pro p1|/api/search/products?q=pro&optimize=true"
  "search in_stock p400|/api/search/products?in_stock=true&optimize=true&page=400"
  "product reviews hot p1|/api/products/HOT/reviews?optimize=true"
  "product reviews hot deep|/api/products/HOT/reviews?optimize=true&page=HOTPAGE"
  "reviews p1|/api/reviews?optimize=true"
  "reviews p400|/api/reviews?optimize=true&page=400"
  "reviews rating=4 p400|/api/reviews?optimize=true&rating=4&page=400"
  "stats|/api/stats/top-products"
  "order detail|/api/orders/ORDER?optimize=true"
)

declare -A ms
time_one() { curl -s -o /dev/null -m 60 -w '%{http_code} %{time_total}\n' "$1"; }
for preset in $PRESETS; do
  export DB_NAME="exbuy_$preset"
  echo "bench: seeding $preset"
  dotnet "$API_DLL" seed --preset "$preset" >/dev/null
  products=$(psql_run -d "$DB_NAME" -tAc "SELECT count(*) FROM products")
  orders=$(psql_run -d "$DB_NAME" -tAc "SELECT count(*) FROM orders")
  read -r hot hotcount < <(psql_run -d "$DB_NAME" -tAc \
    "SELECT product_id, count(*) FROM reviews GROUP BY product_id ORDER BY count(*) DESC LIMIT 1" | tr '|' ' ')
  hotpage=$(( (hotcount + 19) / 20 ))
  dotnet "$API_DLL" --urls "http://127.0.0.1:$PORT" >"/tmp/exbuy-latency-$preset.log" 2>&1 &
  API_PID=$!
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/api/health" >/dev/null && break; sleep 0.5; done
  for row in "${ROWS[@]}"; do
    name=${row%%|*}; path=${row#*|}
    path=${path//HOTPAGE/$hotpage}; path=${path//HOT/$hot}; path=${path//ID/$((products / 2))}; path=${path//ORDER/$((orders / 2))}
    url="http://127.0.0.1:$PORT$path"
    status=$(time_one "$url" | cut -d' ' -f1)
    if [ "$status" != 200 ]; then ms["$name|$preset"]="($status)"; continue; fi
    samples=()
    for _ in $(seq 1 "$REPEAT"); do samples+=("$(time_one "$url" | cut -d' ' -f2)"); done
    ms["$name|$preset"]=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{v[NR]=$1} END{printf "%.1f", v[int((NR+1)/2)]*1000}')
  done
  kill "$API_PID"; wait "$API_PID" 2>/dev/null || true; API_PID=""
  echo "bench: $preset done ($products products, hottest product $hot with $hotcount reviews)"
done

echo
printf '| one request at a time, median of %s, ms |' "$REPEAT"; for p in $PRESETS; do printf ' %s |' "$p"; done; echo
printf '|---|'; for _ in $PRESETS; do printf -- '---|'; done; echo
for row in "${ROWS[@]}"; do
  name=${row%%|*}; printf '| %s |' "$name"
  for p in $PRESETS; do printf ' %s |' "${ms["$name|$p"]:-}"; done; echo
done
echo "(a status in parentheses: that page does not exist at this size)"
