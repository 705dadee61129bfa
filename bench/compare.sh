#!/usr/bin/env bash
# ExBuy's optimized read endpoints against a bare raw-Npgsql handler running ExBuy's SQL (bench/rawhandler/raw.cs) and,
# when it is installed, the Django/DRF baseline (../shared/baseline/django-exbuy), side by side in one run on one
# throwaway PostgreSQL loaded by ExBuy's seeder. Writes (POST /api/orders, reserve) are ExBuy against Django only.
#   bench/compare.sh                                  # medium preset, 8 s per measurement, 4 rounds
#   DURATION=2 ROUNDS=1 bench/compare.sh              # a quick look
#   ONLY=detail,reviews CONNECTIONS=16 bench/compare.sh
#   PRESET=small DJANGO=0 bench/compare.sh            # without the Django column
# Knobs: DURATION (s per measurement, 1..120) ROUNDS (1..50) CONNECTIONS (1..256) PRESET (small|medium|large)
#   ONLY (comma-separated endpoint names, see ENDPOINTS below) WARMUP (s per server and endpoint, 0..60, default 2)
#   DJANGO_DIR DJANGO_WORKERS (default 4, as the baseline's README) DJANGO=0 (skip it) SEARCH_Q (default pro)
#   WRK_TIMEOUT (s, default 10: top-products queues behind 32 connections) SQL_CHECK=0 (skip the same-SQL check)
# Before measuring, for several ids/pages of every endpoint, ExBuy and raw must answer 200 with the same bytes and
# PostgreSQL must have logged the same statements for both; Django must answer 200 (its JSON is formatted differently).
# Each round measures every endpoint on every server back to back, in the opposite order from the previous round; the
# ratio of each round is kept and the median reported, with the server CPU per request (user+system from /proc of
# every process listening on the server's port). A run with non-2xx answers or socket errors above 0.1% stops.
# Bounded: every wrk run lasts DURATION seconds under `timeout`; servers listen on 127.0.0.1 only and are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
source bench/lib/pg.sh

DURATION=${DURATION:-8}; ROUNDS=${ROUNDS:-4}; CONNECTIONS=${CONNECTIONS:-32}; PRESET=${PRESET:-medium}
WARMUP=${WARMUP:-2}; WRK_TIMEOUT=${WRK_TIMEOUT:-10}; SEARCH_Q=${SEARCH_Q:-pro}; SQL_CHECK=${SQL_CHECK:-1}
DJANGO=${DJANGO:-1}; DJANGO_DIR=${DJANGO_DIR:-$ROOT/../shared/baseline/django-exbuy}; DJANGO_WORKERS=${DJANGO_WORKERS:-4}
ONLY=${ONLY:-}
PAGE_SIZE=20   # the default page size: the lists are requested without page_size

die() { echo "bench: $*" >&2; exit 1; }
in_range() { if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then die "$1=$2 must be a whole number in $3..$4"; fi; }
in_range DURATION "$DURATION" 1 120
in_range ROUNDS "$ROUNDS" 1 50
in_range CONNECTIONS "$CONNECTIONS" 1 256
in_range WARMUP "$WARMUP" 0 60
in_range WRK_TIMEOUT "$WRK_TIMEOUT" 1 60
in_range DJANGO_WORKERS "$DJANGO_WORKERS" 1 64
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
[[ "$SEARCH_Q" =~ ^[A-Za-z0-9]{1,40}$ ]] || die "SEARCH_Q=$SEARCH_Q: letters and digits only (it goes into a URL and a SQL literal)"
for tool in wrk curl ss dotnet awk timeout cmp; do command -v "$tool" >/dev/null || die "$tool is required (wrk: apt-get install -y wrk)"; done

# ---- Endpoints -------------------------------------------------------------------------------------------------------
# name → servers (all = ExBuy, raw, Django; django = ExBuy and Django), method, path template; {1} is drawn per request
# from RANGE[name] (set once the data is counted). Every server gets the same URLs, optimize=true included: the raw
# handler ignores it but echoes it in its pagination links like ExBuy does.
ENDPOINTS=(health detail products products-price search product-reviews reviews order top-products
  detail-naive order-create reserve-optimistic reserve-pessimistic)
declare -A SERVERS METHOD PATH_T BODY_T RANGE
ep() { SERVERS[$1]=$2; METHOD[$1]=$3; PATH_T[$1]=$4; BODY_T[$1]=${5:-}; }
ep health              all    GET  "/api/health"
ep detail              all    GET  "/api/products/{1}?optimize=true"
ep products            all    GET  "/api/products?page={1}&optimize=true"
ep products-price      all    GET  "/api/products?ordering=-price&page={1}&optimize=true"
ep search              all    GET  "/api/search/products?q=$SEARCH_Q&page={1}&optimize=true"
ep product-reviews     all    GET  "/api/products/{1}/reviews?optimize=true"
ep reviews             all    GET  "/api/reviews?page={1}&optimize=true"
ep order               all    GET  "/api/orders/{1}?optimize=true"
ep top-products        all    GET  "/api/stats/top-products?limit=10"
ep detail-naive        django GET  "/api/products/{1}?optimize=false"
ep order-create        django POST "/api/orders" '{"user_id":{1},"items":[{"product_id":{1},"quantity":1}]}'
ep reserve-optimistic  django POST "/api/inventory/reserve?lock_type=optimistic" '{"product_id":{1},"quantity":1}'
ep reserve-pessimistic django POST "/api/inventory/reserve?lock_type=pessimistic" '{"product_id":{1},"quantity":1}'
WRITES=" order-create reserve-optimistic reserve-pessimistic "
SELECTED=()
if [ -n "$ONLY" ]; then
  IFS=, read -r -a wanted <<<"$ONLY"
  for name in "${wanted[@]}"; do
    [ -n "${SERVERS[$name]:-}" ] || die "ONLY: unknown endpoint '$name' (known: ${ENDPOINTS[*]})"
  done
  for name in "${ENDPOINTS[@]}"; do [[ ",$ONLY," == *",$name,"* ]] && SELECTED+=("$name"); done
else
  SELECTED=("${ENDPOINTS[@]}")
fi
READS=(); WRITE_SET=()
for name in "${SELECTED[@]}"; do if [[ "$WRITES" == *" $name "* ]]; then WRITE_SET+=("$name"); else READS+=("$name"); fi; done

# ---- Servers ---------------------------------------------------------------------------------------------------------
PIDS=(); DJANGO_STATE=""; WORK=$(mktemp -d /tmp/exbuy-bench-compare.XXXXXX)
cleanup() {
  set +e
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ -n "$DJANGO_STATE" ]; then
    (cd "$DJANGO_DIR" && STATE_DIR=$DJANGO_STATE ./run.sh stop-server >/dev/null 2>&1)
    rm -rf "$DJANGO_STATE"
  fi
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source bench/lib/servers.sh

pg_start
psqlq() { PGOPTIONS="-c statement_timeout=300000" psql_run -d "$DB_NAME" -At "$@"; }

echo "bench: building (Release)"
timeout 900 dotnet build -c Release src/ExBuy.Api -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
timeout 900 dotnet build -c Release bench/rawhandler/raw.cs -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "raw handler build failed"; }
API_DLL=src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll
export SEED_ON_EMPTY=none LOG_LEVEL=WARNING

echo "bench: seeding preset $PRESET (ExBuy's seeder: migrate, COPY, analyze)"
timeout 1800 dotnet "$API_DLL" seed --preset "$PRESET" >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
grep 'exbuy seed: loaded' "$WORK/seed.log" | sed 's/^/  /'

# ---- What the seed holds (counted, not assumed) ----------------------------------------------------------------------
ids_range() { # table, condition → "lo-hi", refusing gaps (a random id in a gap would be a 404)
  local lo hi n
  IFS='|' read -r lo hi n < <(psqlq -c "SELECT min(id), max(id), count(*) FROM $1 WHERE $2")
  [ "${n:-0}" -gt 0 ] || die "no rows in $1"
  [ $((hi - lo + 1)) -eq "$n" ] || die "$1 ids $lo..$hi have gaps ($n rows): random ids would hit 404s"
  echo "$lo-$hi"
}
pages() { local n=$(( $1 / PAGE_SIZE )); echo "1-$(( n < 1 ? 1 : n ))"; }   # every page full, none past the end
PRODUCT_IDS=$(ids_range products "deleted_at IS NULL")
ORDER_IDS=$(ids_range orders "TRUE")
LIVE_PRODUCTS=$(psqlq -c "SELECT count(*) FROM products WHERE deleted_at IS NULL")
MATCHES=$(psqlq -c "SELECT count(*) FROM products WHERE deleted_at IS NULL AND name ILIKE '%$SEARCH_Q%'")
VISIBLE_REVIEWS=$(psqlq -c "SELECT count(*) FROM reviews AS r JOIN products AS p ON p.id = r.product_id WHERE p.deleted_at IS NULL")
RANGE[detail]=$PRODUCT_IDS; RANGE[detail-naive]=$PRODUCT_IDS; RANGE[product-reviews]=$PRODUCT_IDS
RANGE[products]=$(pages "$LIVE_PRODUCTS"); RANGE[products-price]=${RANGE[products]}
RANGE[search]=$(pages "$MATCHES"); RANGE[reviews]=$(pages "$VISIBLE_REVIEWS"); RANGE[order]=$ORDER_IDS
RANGE[order-create]=$PRODUCT_IDS; RANGE[reserve-optimistic]=$PRODUCT_IDS; RANGE[reserve-pessimistic]=$PRODUCT_IDS
echo "bench: $LIVE_PRODUCTS products (ids $PRODUCT_IDS), orders $ORDER_IDS, $VISIBLE_REVIEWS reviews, $MATCHES names match '$SEARCH_Q';" \
  "pages drawn from products ${RANGE[products]}, search ${RANGE[search]}, reviews ${RANGE[reviews]}"

start exbuy dotnet "$API_DLL"
start raw dotnet run -c Release --no-build bench/rawhandler/raw.cs --
HAVE_DJANGO=0
if [ "$DJANGO" = 0 ]; then
  echo "bench: Django baseline skipped (DJANGO=0)"
elif [ ! -x "$DJANGO_DIR/run.sh" ]; then
  echo "bench: Django baseline not found at $DJANGO_DIR (set DJANGO_DIR): its column is skipped"
elif ! /usr/bin/python3 -c 'import django, rest_framework, gunicorn, psycopg2' 2>/dev/null; then
  echo "bench: Django baseline's packages missing (apt-get install -y python3-django python3-djangorestframework gunicorn python3-psycopg2): its column is skipped"
else
  # Same database, same tables (the contract's): no Django migrate. Its state (pidfile, logs) goes to a temp dir.
  DJANGO_STATE=$(mktemp -d /tmp/exbuy-bench-django.XXXXXX)
  PORT[django]=$(free_port)
  (cd "$DJANGO_DIR" && DB_HOST=127.0.0.1 DB_PORT=$PGPORT DB_NAME=$DB_NAME DB_USER=postgres DB_PASSWORD='' \
    STATE_DIR=$DJANGO_STATE timeout 60 ./run.sh serve "${PORT[django]}" "$DJANGO_WORKERS" >"$WORK/django.log" 2>&1) \
    || { cat "$WORK/django.log"; tail -20 "$DJANGO_STATE/gunicorn.log" 2>/dev/null; die "Django did not start"; }
  HAVE_DJANGO=1
  echo "bench: Django/DRF baseline: gunicorn, $DJANGO_WORKERS sync workers, same database"
fi
echo "bench: ExBuy on :${PORT[exbuy]}, raw on :${PORT[raw]}${PORT[django]:+, Django on :${PORT[django]}}"

servers_of() { # endpoint → the servers measuring it
  if [ "${SERVERS[$1]}" = all ]; then printf "exbuy\nraw\n"; else echo exbuy; fi
  [ "$HAVE_DJANGO" = 1 ] && echo django
  return 0
}
fill() { local v=$2; echo "${1//\{1\}/$v}"; }   # template, value

# ---- Same answers, same SQL ------------------------------------------------------------------------------------------
# A benchmark of two handlers that answer differently, or run different SQL, would measure nothing.
samples() { # "lo-hi" → a few values across the range
  local lo=${1%-*} hi=${1#*-}
  printf '%s\n' "$lo" "$hi" $(( lo + (hi - lo) / 2 )) $(( lo + (hi - lo) / 3 )) $(( lo + (hi - lo) * 5 / 7 )) | sort -un
}
LOG=$PG_DIR/server.log
# The statements PostgreSQL logged in lines $1+1..$2 of its log, without timestamps, pids and prepared-statement names.
statements_between() {
  sed -n "$(( $1 + 1 )),$2p" "$LOG" | awk '
    /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] / {
      sub(/^[^[]*\[[0-9]+\] /, ""); keep = ($0 ~ /^(LOG:  (execute|statement)|DETAIL:  parameters)/)
      sub(/^LOG:  execute [^:]*: /, "LOG:  "); sub(/^LOG:  statement: /, "LOG:  ") }
    keep { print }'
}
get() { # server path → body in $WORK/<server>.body, status on stdout
  curl -s --max-time 60 -H 'Host: bench.local' -o "$WORK/$1.body" -w '%{http_code}' "http://127.0.0.1:${PORT[$1]}$2"
}
check_same() { # endpoint path
  local a b n0 n1 n2
  n0=$(wc -l <"$LOG"); a=$(get exbuy "$2"); n1=$(wc -l <"$LOG"); b=$(get raw "$2"); n2=$(wc -l <"$LOG")
  if [ "$a" != 200 ] || [ "$b" != 200 ] || ! cmp -s "$WORK/exbuy.body" "$WORK/raw.body"; then
    echo "bench: $1: ExBuy and raw answer differently for $2 (ExBuy $a, raw $b):" >&2
    echo "--- ExBuy:" >&2; cat "$WORK/exbuy.body" >&2; echo >&2
    echo "--- raw:" >&2; cat "$WORK/raw.body" >&2; echo >&2
    exit 1
  fi
  if [ "$SQL_CHECK" != 0 ]; then
    statements_between "$n0" "$n1" >"$WORK/exbuy.sql"
    statements_between "$n1" "$n2" >"$WORK/raw.sql"
    SQL_SEEN=$(( SQL_SEEN + $(grep -c '^LOG:' "$WORK/exbuy.sql" || true) ))
    if ! cmp -s "$WORK/exbuy.sql" "$WORK/raw.sql"; then
      echo "bench: $1: ExBuy and raw ran different SQL for $2 (update bench/rawhandler/raw.cs from DB_LOG_LEVEL=DEBUG):" >&2
      diff -u --label ExBuy --label raw "$WORK/exbuy.sql" "$WORK/raw.sql" >&2 || true
      exit 1
    fi
  fi
}
check_django() { # endpoint path
  local s; s=$(get django "$2")
  [ "$s" = 200 ] || { echo "bench: $1: Django answered $s for $2:" >&2; head -c 2000 "$WORK/django.body" >&2; echo >&2; exit 1; }
}
# One DB request each first: Npgsql's type loading on a data source's first connection is not the endpoint's SQL.
get exbuy "/api/products/1?optimize=true" >/dev/null; get raw "/api/products/1" >/dev/null
if [ "$SQL_CHECK" != 0 ]; then psqlq -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null; sleep 1; fi
# Beyond the measured URLs, the raw handler's other query shapes (filters, orderings, deeper pages): checked, not measured.
IFS='|' read -r BUSY_PRODUCT BUSY_USER < <(psqlq -c "SELECT r.product_id, min(r.user_id) FROM reviews AS r
  JOIN products AS p ON p.id = r.product_id WHERE p.deleted_at IS NULL
  GROUP BY r.product_id ORDER BY count(*) DESC, r.product_id LIMIT 1")
declare -A EXTRA
EXTRA[products]="/api/products?category=books&min_price=10&max_price=500&page=2&optimize=true
/api/products?ordering=name&page=3&optimize=true /api/products?ordering=-created_at&page_size=100&page=2&optimize=true"
EXTRA[search]="/api/search/products?q=$SEARCH_Q&category=books&in_stock=true&optimize=true
/api/search/products?q=$SEARCH_Q&in_stock=false&optimize=true /api/search/products?page=3&optimize=true"
EXTRA[product-reviews]="/api/products/${BUSY_PRODUCT:-1}/reviews?page=2&optimize=true"
EXTRA[reviews]="/api/reviews?rating=5&page=2&optimize=true /api/reviews?product_id=${BUSY_PRODUCT:-1}&user_id=${BUSY_USER:-1}&optimize=true
/api/reviews?product_id=${BUSY_PRODUCT:-1}&rating=4&page=2&page_size=5&optimize=true"
EXTRA[top-products]="/api/stats/top-products?limit=100"
checked=(); SQL_SEEN=0
for name in "${READS[@]}"; do
  values=(1); [ -n "${RANGE[$name]:-}" ] && mapfile -t values < <(samples "${RANGE[$name]}")
  paths=()
  for v in "${values[@]}"; do paths+=("$(fill "${PATH_T[$name]}" "$v")"); done
  [ "${SERVERS[$name]}" = all ] && read -r -a extra <<<"$(tr '\n' ' ' <<<"${EXTRA[$name]:-}")" && paths+=("${extra[@]}")
  for path in "${paths[@]}"; do
    [ "${SERVERS[$name]}" = all ] && check_same "$name" "$path"
    [ "$HAVE_DJANGO" = 1 ] && check_django "$name" "$path"
  done
  [ "${SERVERS[$name]}" = all ] && checked+=("$name (${#paths[@]})")
done
# No statement logged at all would mean the check compared nothing (health alone runs none).
[ "$SQL_CHECK" = 0 ] || [ "$SQL_SEEN" -gt 0 ] || [[ " ${READS[*]} " =~ ^\ (health\ )?$ ]] \
  || die "the SQL check saw no statement in PostgreSQL's log ($LOG): SQL_CHECK=0 skips it"
if [ "$SQL_CHECK" != 0 ]; then psqlq -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null; sleep 1; fi
[ ${#checked[@]} -eq 0 ] || echo "bench: ExBuy and raw: same bytes$([ "$SQL_CHECK" != 0 ] && echo " and same SQL") for ${checked[*]}"

# ---- Measuring -------------------------------------------------------------------------------------------------------
declare -A RPS CPU RATIO_RAW RATIO_DJANGO
LAST_RPS=0
run_wrk() { # server endpoint seconds → the RESULT line
  local out
  out=$(WRK_PATH=${PATH_T[$2]} WRK_RANGES=${RANGE[$2]:-} WRK_METHOD=${METHOD[$2]} WRK_BODY=${BODY_T[$2]} \
    timeout $(( $3 + WRK_TIMEOUT + 30 )) wrk -t1 -c"$CONNECTIONS" -d"$3s" --timeout "${WRK_TIMEOUT}s" \
    -s bench/lib/random-id.lua "http://127.0.0.1:${PORT[$1]}" 2>&1) || die "wrk failed on $1 $2: $out"
  grep '^RESULT' <<<"$out" || die "wrk printed no result on $1 $2: $out"
}
measure() { # server endpoint → appends to RPS/CPU, sets LAST_RPS
  local line c0 c1 us req err
  c0=$(cpu_of "${PORT[$1]}")
  line=$(run_wrk "$1" "$2" "$DURATION")
  c1=$(cpu_of "${PORT[$1]}")
  LAST_RPS=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$line")
  req=$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line"); err=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  # Server CPU per request: steadier than requests/s on a machine the server shares with PostgreSQL and wrk.
  us=$(awk -v a="$c0" -v b="$c1" -v n="$req" 'BEGIN{printf "%.0f", (n > 0 ? (b - a) * 1e6 / n : 0)}')
  RPS[$1|$2]="${RPS[$1|$2]:-} $LAST_RPS"; CPU[$1|$2]="${CPU[$1|$2]:-} $us"
  printf '  %-20s %-7s %s cpu_us_per_req=%s\n' "$2" "$1" "$line" "$us"
  # Non-2xx answers, or socket errors beyond 0.1% of requests (a stalled VM can time out a few), measured something
  # else: stop rather than print a ratio of it.
  [ "$req" -gt 0 ] || die "$1 $2: no request completed in ${DURATION}s (raise DURATION): $line"
  if ! grep -q ' non2xx=0 ' <<<"$line" || [ $(( err * 1000 )) -gt "$req" ]; then
    die "$1 $2 had non-2xx responses or too many socket errors: $line"
  fi
}
# One round of an endpoint: its servers back to back, in the opposite order every other round (so drift on this shared
# machine favours no side); the ratios of the round are kept.
round_of() { # endpoint round
  local order s
  mapfile -t order < <(servers_of "$1")
  if [ $(( $2 % 2 )) -eq 0 ]; then mapfile -t order < <(printf '%s\n' "${order[@]}" | tac); fi
  declare -A got
  for s in "${order[@]}"; do measure "$s" "$1"; got[$s]=$LAST_RPS; done
  [ -n "${got[raw]:-}" ] && RATIO_RAW[$1]="${RATIO_RAW[$1]:-} $(awk -v a="${got[exbuy]}" -v b="${got[raw]}" 'BEGIN{printf "%.3f", a / b}')"
  [ -n "${got[django]:-}" ] && RATIO_DJANGO[$1]="${RATIO_DJANGO[$1]:-} $(awk -v a="${got[exbuy]}" -v b="${got[django]}" 'BEGIN{printf "%.3f", a / b}')"
  return 0
}
warm() { # endpoint
  local s
  [ "$WARMUP" -gt 0 ] || return 0
  for s in $(servers_of "$1"); do run_wrk "$s" "$1" "$WARMUP" >/dev/null; done
}

if [ ${#READS[@]} -gt 0 ]; then
  echo "bench: warm-up, ${WARMUP}s per server and endpoint (the same request sequence as the measurement)"
  for name in "${READS[@]}"; do warm "$name"; done
  for round in $(seq 1 "$ROUNDS"); do
    echo "bench: reads, round $round/$ROUNDS (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
    for name in "${READS[@]}"; do round_of "$name" "$round"; done
  done
fi
if [ ${#WRITE_SET[@]} -gt 0 ]; then
  # Stock for every write of the run, so the measurement is of writes, not of 409s.
  psqlq -c "UPDATE products SET stock = 1000000" -c "VACUUM ANALYZE products" >/dev/null
  for name in "${WRITE_SET[@]}"; do
    for s in $(servers_of "$name"); do
      code=$(curl -s --max-time 30 -o "$WORK/write.body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
        --data-binary "$(fill "${BODY_T[$name]}" "${PRODUCT_IDS%-*}")" "http://127.0.0.1:${PORT[$s]}${PATH_T[$name]}")
      [[ "$code" == 2* ]] || { cat "$WORK/write.body" >&2; die "$s $name answered $code"; }
    done
  done
  echo "bench: writes, warm-up ${WARMUP}s per server and endpoint (every product's stock set to 1000000 first)"
  for name in "${WRITE_SET[@]}"; do warm "$name"; done
  for round in $(seq 1 "$ROUNDS"); do
    echo "bench: writes, round $round/$ROUNDS (wrk -t1 -c$CONNECTIONS -d${DURATION}s)"
    for name in "${WRITE_SET[@]}"; do round_of "$name" "$round"; done
  done
fi

# ---- Report ----------------------------------------------------------------------------------------------------------
dash() { if [ -n "$1" ]; then echo "$1"; else echo "–"; fi; }
fmt_rps() { [ -n "$1" ] && awk -v v="$1" 'BEGIN{printf "%.0f", v}'; return 0; }
fmt_ratio() { [ -n "$1" ] && awk -v v="$1" 'BEGIN{printf "%.2f×", v}'; return 0; }
req_of() { local p=${PATH_T[$1]}; [ -n "${RANGE[$1]:-}" ] && p=${p//\{1\}/\{${RANGE[$1]}\}}; echo "${METHOD[$1]} $p"; }
echo
echo "ExBuy vs raw Npgsql (same SQL) vs Django/DRF ($HAVE_DJANGO = Django measured), preset $PRESET, median of $ROUNDS" \
  "round(s) of wrk -t1 -c$CONNECTIONS -d${DURATION}s; req/s = median over rounds; ratios = median of per-round ratios;" \
  "CPU = server process user+system µs per request (PostgreSQL not included)"
echo
echo "| endpoint | request | ExBuy req/s | raw req/s | Django req/s | ExBuy÷raw | ExBuy÷Django | CPU µs/req ExBuy | raw | Django |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for name in "${SELECTED[@]}"; do
  [ -n "${RPS[exbuy|$name]:-}" ] || continue
  printf "| %s | \`%s\` | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$name" "$(req_of "$name")" \
    "$(fmt_rps "$(median "${RPS[exbuy|$name]}")")" \
    "$(dash "$(fmt_rps "$(median "${RPS[raw|$name]:-}")")")" \
    "$(dash "$(fmt_rps "$(median "${RPS[django|$name]:-}")")")" \
    "$(dash "$(fmt_ratio "$(median "${RATIO_RAW[$name]:-}")")")" \
    "$(dash "$(fmt_ratio "$(median "${RATIO_DJANGO[$name]:-}")")")" \
    "$(median "${CPU[exbuy|$name]}")" "$(dash "$(median "${CPU[raw|$name]:-}")")" "$(dash "$(median "${CPU[django|$name]:-}")")"
done
echo
echo "Per-round ratios (ExBuy÷raw / ExBuy÷Django):"
for name in "${SELECTED[@]}"; do
  [ -n "${RPS[exbuy|$name]:-}" ] || continue
  printf '  %-20s raw:%s  django:%s\n' "$name" "$(dash "${RATIO_RAW[$name]:-}")" "$(dash "${RATIO_DJANGO[$name]:-}")"
done
if [ -n "${RPS[exbuy|detail-naive]:-}" ] && [ -n "${RPS[exbuy|detail]:-}" ]; then
  echo "  ExBuy detail optimize=false is $(awk -v a="$(median "${RPS[exbuy|detail-naive]}")" -v b="$(median "${RPS[exbuy|detail]}")" \
    'BEGIN{printf "%.2f", a / b}')× of optimize=true"
fi
