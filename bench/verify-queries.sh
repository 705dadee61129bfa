#!/usr/bin/env bash
# Verified query counts (TechEmpower's verify mode, stricter): X-Query-Count against what PostgreSQL itself executed.
# Starts a throwaway PostgreSQL with pg_stat_statements (track=all), seeds it with ExBuy's seeder, starts ExBuy (Release)
# and, for every optimize endpoint × optimize=false/true × page_size 20/100 (page_size only where the endpoint pages),
# resets the statistics of the app's database, sends REQUESTS requests (ids and pages varied inside the data) and checks
# that the statements PostgreSQL executed in that database equal the sum of X-Query-Count exactly.
#   bench/verify-queries.sh                        # small preset, 20 requests per row
#   REQUESTS=10 bench/verify-queries.sh            # a short run
#   PRESET=medium SEARCH_Q=pro bench/verify-queries.sh
# Knobs: REQUESTS (1..1000, default 20) PRESET (small|medium|large, default small) SEARCH_Q (default pro)
# Prints a Markdown table (endpoint, optimize, page_size, requests, Σ X-Query-Count, statements executed,
# transaction-control statements, verdict) and exits 1 on any MISMATCH, after listing the statements of each one.
#
# What is compared, per row (pg_stat_statements, only the app database's dbid, only top-level statements):
#   statements executed  = sum(calls) of every statement except the transaction-control/session ones below; must equal
#                          Σ X-Query-Count (one per command Npgsql reports on its meter, see NpgsqlCommandCounter.cs).
#   transaction-control  = sum(calls) of BEGIN/START TRANSACTION/COMMIT/END/ROLLBACK/ABORT/SAVEPOINT/RELEASE/SET/RESET/
#                          DISCARD/DEALLOCATE/CLOSE/UNLISTEN: statements Npgsql may send on its own (a BEGIN prepended to
#                          a command, COMMIT, the reset of a pooled connection) that no X-Query-Count counts. They are
#                          reported in their own column and must equal the expected number, which is 0 for every
#                          endpoint here: these reads run no transaction, and ExBuy's connection string sets
#                          No Reset On Close=true. DB_OPTIONS is cleared for the run for that reason: with
#                          DB_OPTIONS="No Reset On Close=false" every pooled open/close costs "SET SESSION AUTHORIZATION
#                          DEFAULT", "RESET ALL", "UNLISTEN *", "DISCARD SEQUENCES", "DISCARD TEMP" (counted here) and
#                          "SELECT pg_advisory_unlock_all()" (a plain statement, so a MISMATCH) — checked once by hand.
#   nested statements    = statements run inside another (functions, triggers; counted with track=all): expected 0,
#                          listed on a MISMATCH if any.
# Npgsql's automatic preparation (Max Auto Prepare=64, ExBuy's default) sends Parse once per statement and connection
# and then Bind/Execute: pg_stat_statements counts every execution in calls whether prepared or not (Parse, Bind, Close
# are protocol messages, not executions), so nothing is subtracted for it. Npgsql's type loading on a data source's first
# connection happens at start-up (migrations) before any reset, and is not part of any row.
# The statistic statements themselves (reset, reads) run in the `postgres` database, so the dbid filter excludes them.
# Order ids come from SQL (the API has no order listing) and are checked through the API; every other id and page is
# discovered through the API. Bounded: every curl has a 30 s timeout, every psql statement 60 s, build and seed a
# timeout; the server and the cluster are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh

REQUESTS=${REQUESTS:-20}; PRESET=${PRESET:-small}; SEARCH_Q=${SEARCH_Q:-pro}

die() { echo "verify: $*" >&2; exit 1; }
in_range() { if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then die "$1=$2 must be a whole number in $3..$4"; fi; }
in_range REQUESTS "$REQUESTS" 1 1000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
[[ "$SEARCH_Q" =~ ^[A-Za-z0-9]{1,40}$ ]] || die "SEARCH_Q=$SEARCH_Q: letters and digits only (it goes into a URL)"
for tool in curl dotnet awk timeout python3; do command -v "$tool" >/dev/null || die "$tool is required"; done

API_PID=""; WORK=$(mktemp -d /tmp/exbuy-verify-queries.XXXXXX)
cleanup() {
  set +e
  if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; fi
  pg_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PG_EXTRA_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all -c pg_stat_statements.track_utility=on" \
  pg_start
psql_app() { PGOPTIONS="-c statement_timeout=60000" psql_run -d "$DB_NAME" -At "$@"; }
psql_pg() { PGOPTIONS="-c statement_timeout=60000" psql_run -d postgres -At "$@"; }

echo "verify: building (Release)"
timeout 900 dotnet build -c Release src/ExBuy.Api -v q -nologo >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
API_DLL=src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll
export SEED_ON_EMPTY=none LOG_LEVEL=WARNING
unset DB_OPTIONS   # ExBuy's own connection settings (auto-prepare on, no reset on close): the ones being verified

echo "verify: seeding preset $PRESET (ExBuy's seeder)"
timeout 1800 dotnet "$API_DLL" seed --preset "$PRESET" >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
grep 'exbuy seed: loaded' "$WORK/seed.log" | sed 's/^/  /' || true

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
dotnet "$API_DLL" --urls "$BASE" >"$WORK/server.log" 2>&1 &
API_PID=$!
for _ in $(seq 1 240); do curl -sf --max-time 2 "$BASE/api/health" >/dev/null && break; sleep 0.5; done
curl -sf --max-time 2 "$BASE/api/health" >/dev/null || die "ExBuy did not start: $(tail -5 "$WORK/server.log")"
echo "verify: ExBuy on $BASE (pid $API_PID), database $DB_NAME"

# pg_stat_statements: the view lives in the postgres database (it reads the cluster-wide statistics), so the statistic
# statements never land in the app database's rows.
psql_pg -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
[ "$(psql_pg -c "SHOW server_version_num")" -ge 140000 ] || die "PostgreSQL 14+ needed (pg_stat_statements' toplevel, pg_stat_statements_info)"
DBID=$(psql_pg -c "SELECT oid FROM pg_database WHERE datname = '$DB_NAME'")
[[ "$DBID" =~ ^[0-9]+$ ]] || die "no database $DB_NAME"
# The server log, a second witness: every execution logged with its database, named prepared statements
# ("execute _p3: …") apart from unnamed ones ("execute <unnamed>: …", "statement: …"), so the run shows that Npgsql's
# automatic preparation was really in play when pg_stat_statements' calls matched.
psql_pg -c "ALTER SYSTEM SET log_statement = 'all'" -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] db=%d '" \
  -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
LOG=$PG_DIR/server.log
logged() { # first-line last-line → "prepared unnamed" executions the log shows in the app database
  sed -n "$(( $1 + 1 )),$2p" "$LOG" | awk -v tag=" db=$DB_NAME LOG:  " '
    /^[0-9][0-9][0-9][0-9]-/ && index($0, tag) {
      if ($0 ~ / LOG:  (execute <unnamed>|statement): /) u++; else if ($0 ~ / LOG:  execute [^ :]+: /) p++ }
    END { print p + 0, u + 0 }'
}

# ---- Ids and pages, discovered ---------------------------------------------------------------------------------------
get_body() { # path → body on stdout (200 required)
  local code
  code=$(curl -s --max-time 30 -o "$WORK/body" -w '%{http_code}' "$BASE$1") || die "GET $1 failed"
  [ "$code" = 200 ] || die "GET $1 answered $code: $(head -c 500 "$WORK/body")"
  cat "$WORK/body"
}
count_of() { get_body "$1" | grep -o '"count":[0-9]*' | head -1 | cut -d: -f2; }
ids_of() { grep -o "\"$1\":[0-9]*" | cut -d: -f2; }   # field → the values of that field in the JSON on stdin
spread() { # n values... → n values picked evenly across the list (repeating when the list is shorter)
  local n=$1; shift
  local len=$# i; local all=("$@")
  for (( i = 0; i < n; i++ )); do echo "${all[$(( (i * len) / n ))]}"; done
}
PRODUCTS=$(count_of "/api/products?page_size=100&optimize=true")
REVIEWS=$(count_of "/api/reviews?page_size=100&optimize=true")
MATCHES=$(count_of "/api/search/products?q=$SEARCH_Q&page_size=100&optimize=true")
for what in PRODUCTS REVIEWS MATCHES; do [ "${!what:-0}" -gt 0 ] || die "no rows for $what (search q=$SEARCH_Q)"; done
last_page() { echo $(( ($1 + $2 - 1) / $2 )); }   # rows size
# Product ids from the first, middle and last page of the list; products with reviews from the review list.
mapfile -t product_pool < <(for p in 1 $(( ($(last_page "$PRODUCTS" 100) + 1) / 2 )) "$(last_page "$PRODUCTS" 100)"; do
  get_body "/api/products?page_size=100&page=$p&optimize=true" | ids_of id; done | sort -un)
mapfile -t reviewed_pool < <(for p in 1 "$(last_page "$REVIEWS" 100)"; do
  get_body "/api/reviews?page_size=100&page=$p&optimize=true" | ids_of product; done | sort -un)
# For a product's reviews, the products of both pools with the most reviews (their counts through the API), so that
# page_size 100 reads more than page_size 20 does, and their pages vary.
mapfile -t busiest < <(printf '%s\n' "${reviewed_pool[@]}" "${product_pool[@]}" | sort -un | while read -r id; do
  echo "$(count_of "/api/products/$id/reviews?page_size=1&optimize=true") $id"; done | sort -k1,1nr -k2,2n | head -"$REQUESTS")
# Orders: no listing endpoint, so REQUESTS ids spread over the table (ntile), each checked through the API below.
mapfile -t order_pool < <(psql_app -c "SELECT min(id) FROM (SELECT id, ntile($REQUESTS) OVER (ORDER BY id) AS t FROM orders) s
  GROUP BY t ORDER BY 1")
if [ ${#product_pool[@]} -eq 0 ] || [ ${#busiest[@]} -eq 0 ] || [ ${#order_pool[@]} -eq 0 ]; then
  die "no products, reviewed products or orders found"
fi
mapfile -t PRODUCT_IDS < <(spread "$REQUESTS" "${product_pool[@]}")
mapfile -t REVIEWED < <(spread "$REQUESTS" "${busiest[@]}")   # "review-count product-id"
mapfile -t ORDER_IDS < <(spread "$REQUESTS" "${order_pool[@]}")
for id in "${ORDER_IDS[@]}"; do get_body "/api/orders/$id?optimize=true" >/dev/null; done
echo "verify: $PRODUCTS products (${#product_pool[@]} ids drawn), $REVIEWS reviews (${#reviewed_pool[@]} reviewed products)," \
  "$MATCHES names match '$SEARCH_Q', ${#order_pool[@]} order ids; $REQUESTS requests per row;" \
  "product reviews on products with ${REVIEWED[-1]%% *}..${REVIEWED[0]%% *} reviews"

# ---- Rows ------------------------------------------------------------------------------------------------------------
# name|path template|rows (for pages; empty = not paged)|expected transaction-control statements per request.
# {ID} = a product id, {RID} = one of the products with most reviews and {RP} a page of its reviews, {OID} = an order id,
# {P} = a page inside the data, {S} = page_size, {O} = optimize.
ENDPOINTS=(
  "GET /api/products|/api/products?page={P}&page_size={S}&optimize={O}|$PRODUCTS|0"
  "GET /api/products?ordering=-price|/api/products?ordering=-price&page={P}&page_size={S}&optimize={O}|$PRODUCTS|0"
  "GET /api/products/{id}|/api/products/{ID}?optimize={O}||0"
  "GET /api/products/{id}/reviews|/api/products/{RID}/reviews?page={RP}&page_size={S}&optimize={O}||0"
  "GET /api/search/products?q=$SEARCH_Q|/api/search/products?q=$SEARCH_Q&page={P}&page_size={S}&optimize={O}|$MATCHES|0"
  "GET /api/reviews|/api/reviews?page={P}&page_size={S}&optimize={O}|$REVIEWS|0"
  "GET /api/orders/{id}|/api/orders/{OID}?optimize={O}||0"
)
TX_RE='^\s*(BEGIN|START\s+TRANSACTION|COMMIT|END|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION|SET|RESET|DISCARD|DEALLOCATE|CLOSE|UNLISTEN)\M'
STATS_SQL="SELECT coalesce(sum(calls) FILTER (WHERE toplevel AND query !~* '$TX_RE'), 0),
  coalesce(sum(calls) FILTER (WHERE toplevel AND query ~* '$TX_RE'), 0),
  coalesce(sum(calls) FILTER (WHERE NOT toplevel), 0)
  FROM pg_stat_statements WHERE dbid = $DBID AND query NOT ILIKE '%pg_stat_statements%'"
DETAIL_SQL="SELECT CASE WHEN NOT toplevel THEN 'nested' WHEN query ~* '$TX_RE' THEN 'tx-control' ELSE 'statement' END,
  calls, regexp_replace(left(query, 400), '\s+', ' ', 'g')
  FROM pg_stat_statements WHERE dbid = $DBID AND query NOT ILIKE '%pg_stat_statements%' ORDER BY calls DESC, query"

send() { # path → the X-Query-Count of a 200 answer
  local out code qc
  out=$(curl -s --max-time 30 -o /dev/null -D - -w 'HTTP_CODE=%{http_code}\n' "$BASE$1") || die "GET $1 failed"
  code=$(sed -n 's/^HTTP_CODE=//p' <<<"$out")
  [ "$code" = 200 ] || die "GET $1 answered $code"
  qc=$(awk -F': *' 'tolower($1) == "x-query-count" { gsub(/\r/, "", $2); print $2 }' <<<"$out")
  [[ "$qc" =~ ^[0-9]+$ ]] || die "GET $1: no X-Query-Count header"
  echo "$qc"
}
url_for() { # template optimize size i rows
  local t=$1 pages=1
  [ -n "$5" ] && pages=$(last_page "$5" "$3")
  t=${t//\{O\}/$2}; t=${t//\{S\}/$3}; t=${t//\{P\}/$(( 1 + ($4 * pages / REQUESTS) % pages ))}
  local reviews=${REVIEWED[$4]%% *} rid=${REVIEWED[$4]#* }
  [[ "$t" == *"{RP}"* ]] && t=${t//\{RP\}/$(( 1 + $4 % $(last_page "$reviews" "$3") ))}
  t=${t//\{ID\}/${PRODUCT_IDS[$4]}}; t=${t//\{RID\}/$rid}; t=${t//\{OID\}/${ORDER_IDS[$4]}}
  echo "$t"
}

TABLE=(); FAILED=0; DETAILS=""; PREPARED=0; LOGGED=0; LOG_DIFF=""
for row in "${ENDPOINTS[@]}"; do
  IFS='|' read -r name template rows tx_per_request <<<"$row"
  sizes=(20 100); [[ "$template" == *"{S}"* ]] || sizes=("–")
  for optimize in false true; do
    for size in "${sizes[@]}"; do
      dealloc0=$(psql_pg -c "SELECT dealloc FROM pg_stat_statements_info")
      psql_pg -c "SELECT pg_stat_statements_reset(0, $DBID, 0)" >/dev/null
      line0=$(wc -l <"$LOG")
      sum=0
      for (( i = 0; i < REQUESTS; i++ )); do
        qc=$(send "$(url_for "$template" "$optimize" "$size" "$i" "$rows")")
        sum=$(( sum + qc ))
      done
      # Every command of a request has completed before its response (X-Query-Count is written when the response
      # starts); the pause only lets a statement sent after the response (none expected) show up as a mismatch.
      sleep 0.2
      IFS='|' read -r executed tx nested < <(psql_pg -c "$STATS_SQL")
      read -r prepared unnamed < <(logged "$line0" "$(wc -l <"$LOG")")
      PREPARED=$(( PREPARED + prepared )); LOGGED=$(( LOGGED + prepared + unnamed ))
      [ $(( prepared + unnamed )) = $(( executed + tx )) ] || LOG_DIFF+=" $name/optimize=$optimize/page_size=$size"
      dealloc1=$(psql_pg -c "SELECT dealloc FROM pg_stat_statements_info")
      [ "$dealloc0" = "$dealloc1" ] || die "pg_stat_statements evicted entries during '$name' (raise pg_stat_statements.max)"
      expected_tx=$(( tx_per_request * REQUESTS ))
      verdict=OK
      if [ "$executed" != "$sum" ] || [ "$tx" != "$expected_tx" ] || [ "$nested" != 0 ]; then
        verdict=MISMATCH; FAILED=1
        DETAILS+="
$name optimize=$optimize page_size=$size: Σ X-Query-Count $sum, executed $executed, transaction-control $tx (expected $expected_tx), nested $nested
$(psql_pg -F ' | ' -c "$DETAIL_SQL" | sed 's/^/  /')"
      fi
      TABLE+=("| \`$name\` | $optimize | $size | $REQUESTS | $sum | $executed | $tx | $verdict |")
      printf '  %-36s optimize=%-5s page_size=%-3s Σ X-Query-Count=%-6s executed=%-6s tx=%s log: %s prepared + %s unnamed %s\n' \
        "$name" "$optimize" "$size" "$sum" "$executed" "$tx" "$prepared" "$unnamed" "$verdict"
    done
  done
done

echo
echo "Verified query counts: pg_stat_statements (top-level calls in database $DB_NAME, statistic queries excluded) against" \
  "Σ X-Query-Count, preset $PRESET, $REQUESTS requests per row; transaction-control = BEGIN/COMMIT/ROLLBACK/SET/DISCARD/…," \
  "counted apart and expected 0 for these reads"
echo
echo "| endpoint | optimize | page_size | requests | Σ X-Query-Count | statements executed | transaction-control statements | verdict |"
echo "|---|---|---:|---:|---:|---:|---:|---|"
printf '%s\n' "${TABLE[@]}"
echo
echo "Server log (log_statement=all): $PREPARED of $LOGGED executions in $DB_NAME ran as named (auto-)prepared statements;" \
  "logged executions $([ -z "$LOG_DIFF" ] && echo "equal pg_stat_statements' calls in every row" || echo "differ from pg_stat_statements' calls in:$LOG_DIFF")"
if [ "$FAILED" != 0 ]; then
  echo
  echo "MISMATCH details (kind | calls | query, from pg_stat_statements):$DETAILS"
  exit 1
fi
