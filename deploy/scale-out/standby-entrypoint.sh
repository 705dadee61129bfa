#!/bin/sh
# The compose `db-standby` service (user postgres, image postgres): on its first start, clones the primary with
# pg_basebackup -R (WAL streamed during the copy, a replication slot named standby created on the primary), then runs
# PostgreSQL as a hot standby. Later starts find the data directory and only run the server.
#   PRIMARY_HOST, PRIMARY_PORT   the primary;  PGUSER, PGPASSWORD   a role allowed to replicate;  PGDATA   the data dir
set -eu
: "${PRIMARY_HOST:?set PRIMARY_HOST to the primary host}" "${PRIMARY_PORT:=5432}" "${PGDATA:?set PGDATA}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  tries=0
  until pg_isready -q -h "$PRIMARY_HOST" -p "$PRIMARY_PORT"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "standby: the primary $PRIMARY_HOST:$PRIMARY_PORT did not answer in 60 s; start the db service first" >&2
      exit 1
    fi
    sleep 1
  done
  # An earlier attempt that died half-way left a slot behind: drop it, then clone.
  psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -d postgres -qAtc \
    "SELECT pg_drop_replication_slot('standby') FROM pg_replication_slots WHERE slot_name = 'standby' AND NOT active" >/dev/null
  rm -rf "$PGDATA"
  pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -D "$PGDATA" -X stream -C -S standby -R -c fast \
    -d "application_name=standby"
  cp /etc/postgresql/scale-out/postgresql.standby.conf "$PGDATA/postgresql.standby.conf"
  echo "include 'postgresql.standby.conf'" >>"$PGDATA/postgresql.conf"
  chmod 700 "$PGDATA"
fi
exec postgres -D "$PGDATA"
