#!/usr/bin/env bash
# A throwaway PostgreSQL on 127.0.0.1 that outlives the command that started it (bench/lib/pg.sh's cluster, kept):
#   scripts/pg-local.sh up     start it (free port, data in a temp directory; fsync off) unless it is already up
#   scripts/pg-local.sh env    print the export line of the DB_* variables ExBuy reads: eval "$(scripts/pg-local.sh env)"
#   scripts/pg-local.sh down   stop it and delete its data
# Where it runs is recorded in $PG_STATE/cluster.env (default .pgdata/, gitignored). As root the server runs as
# 'nobody' (PostgreSQL refuses root), which is why the data lives under /tmp and not in the working tree.
# PG_BIN, PG_FSYNC, PG_EXTRA_OPTS and DB_NAME (default exbuy) as for bench/lib/pg.sh. `make pg-up|pg-env|pg-down` call this.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../bench/lib/pg.sh disable=SC1091 # followed with shellcheck -x
source "$here/../bench/lib/pg.sh"

state_dir=${PG_STATE:-.pgdata}
state="$state_dir/cluster.env"

load_state() { # sets PG_DIR, PG_BIN, PGPORT, DB_NAME from the state file; 1 when there is none
  [ -f "$state" ] || return 1
  # shellcheck source=/dev/null
  source "$state"
  PG_RUN=()
  if [ "$(id -u)" -eq 0 ]; then PG_RUN=(runuser -u nobody --); fi
}

running() { [ -d "$PG_DIR/data" ] && "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; }

case "${1:-}" in
  up)
    if load_state; then
      if running; then
        echo "pg-local: already up on 127.0.0.1:$PGPORT (data in $PG_DIR)"
        exit 0
      fi
      pg_stop
      rm -f "$state"
    fi
    pg_start >/dev/null
    mkdir -p "$state_dir"
    printf 'PG_DIR=%q\nPG_BIN=%q\nPGPORT=%q\nDB_NAME=%q\n' "$PG_DIR" "$PG_BIN" "$PGPORT" "$DB_NAME" >"$state"
    echo "pg-local: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') up on 127.0.0.1:$PGPORT (fsync=${PG_FSYNC:-off}, data in $PG_DIR)"
    echo "pg-local: use it with: eval \"\$(make -s pg-env)\"; stop it with: make pg-down"
    ;;
  env)
    load_state || { echo "pg-local: no cluster recorded in $state: start one with make pg-up" >&2; exit 1; }
    running || { echo "pg-local: the cluster in $PG_DIR is not running: make pg-down && make pg-up" >&2; exit 1; }
    echo "export DB_ENGINE=postgres DB_HOST=127.0.0.1 DB_PORT=$PGPORT DB_NAME=$DB_NAME DB_USER=postgres DB_PASSWORD=''"
    ;;
  down)
    if ! load_state; then
      echo "pg-local: nothing to stop (no $state)"
      exit 0
    fi
    pg_stop
    rm -f "$state"
    rmdir "$state_dir" 2>/dev/null || true
    echo "pg-local: stopped, $PG_DIR deleted"
    ;;
  *)
    echo "usage: scripts/pg-local.sh up|env|down" >&2
    exit 2
    ;;
esac
