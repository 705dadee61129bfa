#!/usr/bin/env bash
# Seeder benchmark on PostgreSQL: starts a throwaway cluster (temp data dir, free loopback port, stopped and removed on
# exit), then seeds each preset with each method into a fresh database and prints rows/s per table and wall time.
#
#   bench/seed.sh                      medium and large × copy and insert (targets: copy medium < 10 s, large < 90 s)
#   PRESETS=medium METHODS=copy bench/seed.sh
#
# Settings (environment): PG_BIN (default /usr/lib/postgresql/15/bin), FSYNC (default on: durable, as a real server),
# SEED_TIMEOUT seconds per run (default 600). The server runs with its defaults except shared_buffers=256MB and
# max_wal_size=4GB (fewer forced checkpoints during a bulk load); wal_level stays replica, so COPY is fully WAL-logged.
# The app is built once in Release first, so build time is not counted; "wall" is the seed process end to end
# (start-up, generation, load, indexes, ANALYZE, commit), migrations excluded (applied before the clock starts).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PRESETS=${PRESETS:-"medium large"}
METHODS=${METHODS:-"copy insert"}
FSYNC=${FSYNC:-on}
SEED_TIMEOUT=${SEED_TIMEOUT:-600}
RUN_AS=nobody

[[ -x "$PG_BIN/pg_ctl" ]] || { echo "seed.sh: no PostgreSQL server binaries in $PG_BIN (set PG_BIN)" >&2; exit 1; }

work=$(mktemp -d /tmp/exbuy-seed-bench.XXXXXX)
chmod 755 "$work"
pg() { if [[ $(id -u) == 0 ]]; then runuser -u "$RUN_AS" -- "$@"; else "$@"; fi; }
if [[ $(id -u) == 0 ]]; then chown "$RUN_AS" "$work"; fi

cleanup() {
    if [[ -f "$work/data/postmaster.pid" ]]; then
        pg "$PG_BIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

echo "== build (Release, not timed)"
dotnet build -c Release "$ROOT/src/ExBuy.Api" -v quiet -nologo | grep -E "error|Warn|Elapsed" || true
DLL="$ROOT/src/ExBuy.Api/bin/Release/net10.0/ExBuy.Api.dll"
[[ -f "$DLL" ]] || { echo "seed.sh: build produced no $DLL" >&2; exit 1; }

echo "== PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, fsync=$FSYNC, data in $work"
pg "$PG_BIN/initdb" -D "$work/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
pg "$PG_BIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 60 start -o \
    "-p $port -k $work -c listen_addresses=127.0.0.1 -c fsync=$FSYNC -c shared_buffers=256MB -c max_wal_size=4GB -c max_connections=50" >/dev/null

psql_() { "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
export DB_ENGINE=postgres DB_HOST=127.0.0.1 DB_PORT=$port DB_USER=postgres DB_PASSWORD=postgres

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
