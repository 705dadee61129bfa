#!/usr/bin/env bash
# Seeder benchmark on PostgreSQL: starts a throwaway cluster (temp data dir, free loopback port, stopped and removed on
# exit), then seeds each preset with each method into a fresh database and prints rows/s per table and wall time.
#
#   bench/seed.sh                      medium and large × copy and insert (targets: copy medium < 10 s, large < 90 s)
#   PRESETS=medium METHODS=copy bench/seed.sh
#
# Settings (environment): PG_BIN (default: the newest /usr/lib/postgresql/*/bin), FSYNC (default on: durable),
# SEED_TIMEOUT seconds per run (default 600). The server is bench/lib/pg.sh's (shared_buffers=512MB,
# max_wal_size=4GB: fewer forced checkpoints during a bulk load); wal_level stays replica, so COPY is fully WAL-logged.
# The app is built once in Release first, so build time is not counted; "wall" is the seed process end to end
# (start-up, generation, load, indexes, ANALYZE, commit), migrations excluded (applied before the clock starts).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PRESETS=${PRESETS:-"medium large"}
METHODS=${METHODS:-"copy insert"}
FSYNC=${FSYNC:-on}
SEED_TIMEOUT=${SEED_TIMEOUT:-600}
source "$ROOT/bench/lib/pg.sh"

work=$(mktemp -d /tmp/exbuy-seed-bench.XXXXXX)
cleanup() { pg_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== build (Release, not timed)"
dotnet build -c Release "$ROOT/src/ExBuy.Api" -v quiet -nologo | grep -E "error|Warn|Elapsed" || true
DLL="$ROOT/src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll"
[[ -f "$DLL" ]] || { echo "seed.sh: build produced no $DLL" >&2; exit 1; }

PG_FSYNC=$FSYNC pg_start
psql_() { psql_run "$@"; }

results=()
for preset in $PRESETS; do
    for method in $METHODS; do
        db="exbuy_${preset}_${method}"
        echo
        echo "== $preset, --method $method (database $db)"
        psql_ -d postgres -c "CREATE DATABASE $db"
        DB_NAME=$db dotnet "$DLL" migrate >/dev/null
        log="$work/$db.log"
        start=$(date +%s.%N)
        if ! DB_NAME=$db timeout "$SEED_TIMEOUT" dotnet "$DLL" seed --preset "$preset" --method "$method" >"$log" 2>&1; then
            cat "$log"
            echo "seed.sh: $preset/$method failed or exceeded ${SEED_TIMEOUT}s" >&2
            exit 1
        fi
        wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
        # The seeder's own summary (rows, seconds, rows/s per step), then a check that the schema came back whole.
        summary="$work/$db.summary"
        sed -n '/^  step /,$p' "$log" >"$summary"
        cat "$summary"
        invalid=$(psql_ -d "$db" -At -c "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
            WHERE c.relname IN ('products','orders','order_items','reviews') AND NOT (i.indisvalid AND i.indisready)")
        indexes=$(psql_ -d "$db" -At -c "SELECT count(*) FROM pg_indexes WHERE tablename IN ('products','orders','order_items','reviews')")
        fks=$(psql_ -d "$db" -At -c "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND convalidated")
        printf '  wall %.2f s end to end; %s indexes (%s invalid), %s validated foreign keys\n' "$wall" "$indexes" "$invalid" "$fks"
        rate() { awk -v t="$1" '$1 == t { print $4 }' "$summary"; }
        secs() { awk -v t="$1" '$1 == t { print (NF == 2) ? $2 : $3 }' "$summary"; }
        results+=("$(printf '%-7s %-7s %9.2f %12s %12s %12s %12s %8s %8s' "$preset" "$method" "$wall" \
            "$(rate products)" "$(rate orders)" "$(rate order_items)" "$(rate reviews)" "$(secs indexes)" "$(secs analyze)")")
        psql_ -d postgres -c "DROP DATABASE $db"
    done
done

echo
echo "== summary (rows/s per table; indexes = secondary indexes + foreign keys rebuilt; seconds)"
printf '%-7s %-7s %9s %12s %12s %12s %12s %8s %8s\n' preset method "wall s" products orders order_items reviews indexes analyze
printf '%s\n' "${results[@]}"
