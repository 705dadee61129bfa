#!/usr/bin/env bash
# Source this after bench/lib/pg.sh and bench/lib/frame.sh (and after bench_frame): the scale-out topology of
# deploy/scale-out/ on loopback, each piece a process of this script on a free 127.0.0.1 port, never a system service.
# PostgreSQL, PgBouncer and HAProxy run as 'nobody' when the script runs as root (PostgreSQL and PgBouncer refuse root).
# Everything lives in TOPO_DIR, and is stopped and removed on exit. Used by bench/scale-out.sh.
#   topo_init                       TOPO_DIR, PG_BIN, TOPO_RUN; the EXIT trap also stops the clusters; the password
#                                   every client uses (PostgreSQL trusts loopback; PgBouncer checks it): TOPO_PASSWORD
#   topo_pg_primary NAME            initdb, postgresql.primary.conf included, started; TOPO_PORT[NAME]
#   topo_pg_standby NAME PRIMARY    pg_basebackup -R (slot "standby", application_name "standby") from PRIMARY,
#                                   postgresql.standby.conf included, started; waits until it streams
#   topo_pg_synchronous PRIMARY     postgresql.synchronous.conf included on PRIMARY, reloaded; waits for sync_state=sync
#   topo_pg_stop NAME [MODE]        pg_ctl stop (fast; immediate = a crash, no shutdown checkpoint)
#   topo_pg_promote NAME            pg_ctl promote, waits until it accepts writes
#   topo_psql NAME SQL [DB]         psql -tA (unaligned, tuples only) on cluster NAME, database DB (postgres)
#   topo_pgbouncer NAME PRIMARY     pgbouncer.ini + userlist.txt rendered by render-config.sh, pgbouncer on a free port
#   topo_haproxy NAME ADDR1 ADDR2   haproxy.cfg (checked with haproxy -c), replicas ADDR1 and ADDR2 (host:port); the
#                                   frontend on TOPO_PORT[NAME], the stats page on TOPO_PORT[NAME-stats]
#   topo_haproxy_cmd NAME CMD       a runtime API command on its socket; prints the answer
#   topo_haproxy_wait NAME N        waits until N servers of backend exbuy are UP
#   topo_haproxy_counts NAME        "web1 N" per server: requests HAProxy sent to it so far (show stat: stot)
#   topo_exbuy NAME PORT VAR=v...   ExBuy ($API_DLL, build_release) on 127.0.0.1:PORT with those settings on top of the
#                                   exported DB_*; waits until /api/health/ready is 200; TOPO_PID[NAME]
#   topo_exbuy_stop NAME            SIGTERM, waits (bounded) for the exit; prints the exit code
#   topo_cpu NAME...                CPU seconds (user + system) the ExBuy processes have used so far
#   topo_sample OUT SECONDS NAME SQL  in the background: SQL on cluster NAME once a second, "i<TAB>first row" lines
#                                   (columns tab-separated) to OUT
declare -gA TOPO_PORT TOPO_PID TOPO_CLUSTERS
TOPO_DIR=""; TOPO_RUN=(); TOPO_PASSWORD=exbuy-scale-out
TOPO_FILES=deploy/scale-out

topo_init() {
  PG_BIN=$(pg_bin)
  if [ ! -x "$PG_BIN/pg_ctl" ] || [ ! -x "$PG_BIN/pg_basebackup" ]; then die "PostgreSQL server binaries (pg_ctl, pg_basebackup) not found in $PG_BIN: apt-get install -y postgresql, or set PG_BIN"; fi
  TOPO_DIR=$(mktemp -d /tmp/exbuy-scale-out.XXXXXX)
  chmod 755 "$TOPO_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown nobody "$TOPO_DIR"; TOPO_RUN=(runuser -u nobody --); fi
  mkdir -p "$TOPO_DIR/uploads"
  topo_own "$TOPO_DIR/uploads"
  # ExBuy's processes (PIDS) go first, then the clusters.
  trap 'bench_cleanup; topo_cleanup' EXIT
}

# A file or directory of TOPO_DIR made the unprivileged user's (when running as root).
topo_own() { if [ "$(id -u)" -eq 0 ]; then chown -R nobody "$@"; fi; }

topo_cleanup() {
  set +e
  local name
  for name in "${!TOPO_CLUSTERS[@]}"; do
    "${TOPO_RUN[@]}" "$PG_BIN/pg_ctl" -D "$TOPO_DIR/pg-$name/data" -m immediate -w -t 30 stop >/dev/null 2>&1
  done
  if [ -n "$TOPO_DIR" ] && [ -d "$TOPO_DIR" ]; then rm -rf "$TOPO_DIR"; fi
}

topo_psql() { # name sql [db]
  "$PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${TOPO_PORT[$1]}" -U postgres -d "${3:-postgres}" -c "$2"
}

topo_pg_start() { # name
  local d=$TOPO_DIR/pg-$1
  # fsync on: the failover drill is about what a crash keeps. Replication settings come from the included files, so
  # nothing here overrides them (command-line settings would win over postgresql.conf and its includes).
  "${TOPO_RUN[@]}" "$PG_BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 120 \
    -o "-p ${TOPO_PORT[$1]} -k $d -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" start >/dev/null \
    || die "PostgreSQL $1 did not start: $(tail -5 "$d/server.log" 2>/dev/null)"
}

topo_pg_primary() { # name
  local d=$TOPO_DIR/pg-$1
  mkdir -p "$d"; topo_own "$d"
  TOPO_PORT[$1]=$(pg_free_port); TOPO_CLUSTERS[$1]=1
  "${TOPO_RUN[@]}" "$PG_BIN/initdb" -D "$d/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null \
    || die "initdb for $1 failed"
  cp "$TOPO_FILES/postgresql.primary.conf" "$d/data/"
  echo "include 'postgresql.primary.conf'" >>"$d/data/postgresql.conf"
  topo_own "$d/data/postgresql.primary.conf"
  topo_pg_start "$1"
}

topo_pg_standby() { # name primary
  local d=$TOPO_DIR/pg-$1 i
  mkdir -p "$d"; topo_own "$d"
  TOPO_PORT[$1]=$(pg_free_port); TOPO_CLUSTERS[$1]=1
  "${TOPO_RUN[@]}" "$PG_BIN/pg_basebackup" -D "$d/data" -X stream -C -S standby -R -c fast \
    -d "host=127.0.0.1 port=${TOPO_PORT[$2]} user=postgres application_name=standby" >"$d/basebackup.log" 2>&1 \
    || die "pg_basebackup of $2 failed: $(tail -5 "$d/basebackup.log")"
  cp "$TOPO_FILES/postgresql.standby.conf" "$d/data/"
  echo "include 'postgresql.standby.conf'" >>"$d/data/postgresql.conf"
  topo_own "$d/data/postgresql.standby.conf"
  topo_pg_start "$1"
  for i in $(seq 1 300); do
    [ "$(topo_psql "$2" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby' AND state = 'streaming'")" = 1 ] && return 0
    sleep 0.1
  done
  die "standby $1 does not stream from $2 after 30 s: $(tail -5 "$d/server.log")"
}

topo_pg_synchronous() { # primary
  local d=$TOPO_DIR/pg-$1 i
  cp "$TOPO_FILES/postgresql.synchronous.conf" "$d/data/"
  echo "include 'postgresql.synchronous.conf'" >>"$d/data/postgresql.conf"
  topo_own "$d/data/postgresql.synchronous.conf"
  "${TOPO_RUN[@]}" "$PG_BIN/pg_ctl" -D "$d/data" reload >/dev/null
  for i in $(seq 1 100); do
    [ "$(topo_psql "$1" "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby' AND sync_state = 'sync'")" = 1 ] && return 0
    sleep 0.1
  done
  die "the standby of $1 did not become synchronous in 10 s (synchronous_standby_names: $(topo_psql "$1" 'SHOW synchronous_standby_names'))"
}

topo_pg_stop() { # name [mode]
  "${TOPO_RUN[@]}" "$PG_BIN/pg_ctl" -D "$TOPO_DIR/pg-$1/data" -m "${2:-fast}" -w -t 60 stop >/dev/null
}

topo_pg_promote() { # name
  "${TOPO_RUN[@]}" "$PG_BIN/pg_ctl" -D "$TOPO_DIR/pg-$1/data" -w -t 60 promote >/dev/null || die "promoting $1 failed"
  [ "$(topo_psql "$1" 'SELECT pg_is_in_recovery()')" = f ] || die "$1 is still in recovery after pg_ctl promote"
}

# Waits (bounded, 10 s) until something accepts TCP connections on 127.0.0.1:PORT, or PID has exited.
topo_wait_port() { # port pid what log
  local i
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1: $(tail -5 "$4")"
}

topo_pgbouncer() { # name primary
  local d=$TOPO_DIR/pgbouncer-$1 port pid
  mkdir -p "$d"
  port=$(free_port); TOPO_PORT[$1]=$port
  export PG_PRIMARY_HOST=127.0.0.1 PG_PRIMARY_PORT=${TOPO_PORT[$2]} PGBOUNCER_LISTEN_ADDR=127.0.0.1 PGBOUNCER_PORT=$port \
    PGBOUNCER_USERLIST=$d/userlist.txt PGBOUNCER_USER=postgres PGBOUNCER_PASSWORD=$TOPO_PASSWORD
  sh "$TOPO_FILES/render-config.sh" "$TOPO_FILES/pgbouncer.ini" >"$d/pgbouncer.ini" || die "rendering pgbouncer.ini failed"
  sh "$TOPO_FILES/render-config.sh" "$TOPO_FILES/userlist.txt" >"$d/userlist.txt" || die "rendering userlist.txt failed"
  unset PG_PRIMARY_HOST PG_PRIMARY_PORT PGBOUNCER_LISTEN_ADDR PGBOUNCER_PORT PGBOUNCER_USERLIST PGBOUNCER_USER PGBOUNCER_PASSWORD
  chmod 600 "$d/userlist.txt"
  topo_own "$d"
  "${TOPO_RUN[@]}" pgbouncer "$d/pgbouncer.ini" >"$d/pgbouncer.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  topo_wait_port "$port" "$pid" "pgbouncer ($1)" "$d/pgbouncer.log"
  for pid in $(pids_on "$port"); do PIDS+=("$pid"); done
}

topo_haproxy() { # name addr1 addr2
  local d=$TOPO_DIR/haproxy-$1 port stats pid
  mkdir -p "$d"
  port=$(free_port); stats=$(free_port)
  TOPO_PORT[$1]=$port; TOPO_PORT[$1-stats]=$stats
  cp "$TOPO_FILES/haproxy.cfg" "$d/haproxy.cfg"
  topo_own "$d"
  local vars=(EXBUY_BIND="127.0.0.1:$port" EXBUY_SERVER_1="$2" EXBUY_SERVER_2="$3" HAPROXY_STATS_BIND="127.0.0.1:$stats"
    HAPROXY_SOCKET="$d/haproxy.sock")
  env "${vars[@]}" haproxy -c -q -f "$d/haproxy.cfg" >"$d/check.log" 2>&1 || die "haproxy -c rejects haproxy.cfg: $(cat "$d/check.log")"
  "${TOPO_RUN[@]}" env "${vars[@]}" haproxy -db -f "$d/haproxy.cfg" >"$d/haproxy.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  topo_wait_port "$port" "$pid" "haproxy ($1)" "$d/haproxy.log"
  for pid in $(pids_on "$port"); do PIDS+=("$pid"); done
}

topo_haproxy_cmd() { # name command
  python3 - "$TOPO_DIR/haproxy-$1/haproxy.sock" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
out = b""
while chunk := s.recv(65536):
    out += chunk
sys.stdout.write(out.decode())
EOF
}

# "show stat" is CSV: # pxname,svname,qcur,qmax,scur,smax,slim,stot,...,status (field 18)
topo_haproxy_counts() { topo_haproxy_cmd "$1" "show stat" | awk -F, '$1 == "exbuy" && $2 ~ /^web/ {print $2, $8}'; }

topo_haproxy_wait() { # name n
  local i
  for i in $(seq 1 200); do
    [ "$(topo_haproxy_cmd "$1" "show stat" | awk -F, '$1 == "exbuy" && $2 ~ /^web/ && $18 == "UP"' | wc -l)" -ge "$2" ] && return 0
    sleep 0.1
  done
  die "HAProxy ($1) does not see $2 replicas UP after 20 s: $(topo_haproxy_cmd "$1" "show stat" | awk -F, '$1 == "exbuy" {print $2, $18}' | tr '\n' ' ')"
}

topo_exbuy() { # name port VAR=value...
  local name=$1 port=$2 i; shift 2
  env SEED_ON_EMPTY=none LOG_LEVEL=WARNING DB_MIGRATE=false UPLOAD_DIR="$TOPO_DIR/uploads" "$@" \
    dotnet "$API_DLL" --urls "http://127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  TOPO_PID[$name]=$!; PIDS+=("$!")
  for i in $(seq 1 240); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/api/health/ready")" = 200 ] && return 0
    kill -0 "${TOPO_PID[$name]}" 2>/dev/null || die "ExBuy ($name) exited before serving: $(tail -5 "$WORK/$name.log")"
    sleep 0.5
  done
  die "ExBuy ($name) not ready after 120 s: $(tail -5 "$WORK/$name.log")"
}

topo_exbuy_stop() { # name
  local pid=${TOPO_PID[$1]} rc=0 p rest=()
  kill -TERM "$pid" 2>/dev/null || true
  timeout 30 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || rest+=("$p"); done
  PIDS=("${rest[@]}")
  echo "$rc"
}

topo_cpu() { # names...
  local name total=0 hz
  hz=$(getconf CLK_TCK)
  for name in "$@"; do
    total=$(awk -v t="$total" -v hz="$hz" '{printf "%.4f", t + ($14 + $15) / hz}' "/proc/${TOPO_PID[$name]}/stat")
  done
  echo "$total"
}

topo_sample() { # out seconds name sql
  local i
  for ((i = 0; i < $2; i++)); do
    printf '%s\t%s\n' "$i" "$(topo_psql "$3" "$4" 2>/dev/null | head -1 | tr '|' '\t')" >>"$1"
    sleep 1
  done
}
