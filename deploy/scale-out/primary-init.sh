#!/bin/sh
# The compose `db` service's first start (/docker-entrypoint-initdb.d/): makes it the primary of the scale-out
# profile. Copies postgresql.primary.conf next to postgresql.conf and includes it, and lets the standby connect for
# replication with the same password authentication as every other host connection. Runs once, when the data volume
# is initialised; an existing volume is left as it is (recreate it with `docker compose down -v`).
set -eu
cp /etc/postgresql/scale-out/postgresql.primary.conf "$PGDATA/postgresql.primary.conf"
echo "include 'postgresql.primary.conf'" >>"$PGDATA/postgresql.conf"
echo "host replication all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
