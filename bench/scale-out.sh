#!/usr/bin/env bash
# Scale-out on real engines (docs/SCALE-OUT.md): ExBuy replicas behind HAProxy, PgBouncer in transaction pooling, a
# PostgreSQL hot standby for reads and a failover drill, all on loopback from the files of deploy/scale-out/, with
# exbuy-load (Release) driving the mixed scenario through HAProxy. Prints one set of tables:
#   1. direct vs PgBouncer (2 replicas): rps, p99, PostgreSQL connections the app held (pg_stat_activity, max)
#   2. 1 vs 2 replicas behind HAProxy: rps, p99, CPU seconds per 1000 requests (/proc of the replicas), share per replica
#   3. primary-only vs standby reads: the standby's share of the app database's transactions (pg_stat_database),
#      replication lag on the primary (pg_stat_replication: replay_lag, bytes not yet replayed), also under write-heavy
#   4. the failover drill, asynchronous then synchronous replication: the primary is stopped (immediate) under the mixed
#      load, the standby promoted (pg_ctl promote) PROMOTE_AFTER s later; ExBuy is not restarted (DB_HOST lists both).
#      Write downtime (from the first failed order to the first acknowledged one after it, measured by a probe that
#      places orders on a product of its own), 503s, other 5xx (must be 0), the runner's correctness verdict and the
#      probe's orders acknowledged with 201 but missing on the promoted standby (must be 0 with synchronous replication).
#   bench/scale-out.sh                  # 30 s per phase, 40 s per drill, 16 VUs, small preset (about 7 minutes on 2 cores)
#   QUICK=1 bench/scale-out.sh          # a short check: 8 s per phase, 20 s per drill, 8 VUs (about 4 minutes)
# Knobs: DURATION (s per phase, 5..600, default 30) WARMUP (s, 0..60, default 5) DRILL_DURATION (s, 10..600, default 40)
#   VUS (1..1000, default 16) POOL (each replica's DB_POOL_MAX, 1..200, default 32) PROBE_CLIENTS (1..16, default 2)
#   PROMOTE_AFTER (s between the primary's stop and the promotion, 0..30, default 2) PRESET (small|medium|large,
#   default small) SEED OUT (keep the runner's result files). Exits 1 when a drill answered a 5xx other than 503, or
#   when with synchronous replication an acknowledged order is missing or the correctness verdict is not OK.
# Needs haproxy and pgbouncer (apt-get install -y haproxy pgbouncer) and the PostgreSQL server binaries. Bounded: every
# load runs under `timeout`, every wait has a limit; everything listens on 127.0.0.1 and is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

if [ -n "${QUICK:-}" ]; then
  DURATION=${DURATION:-8}; WARMUP=${WARMUP:-2}; DRILL_DURATION=${DRILL_DURATION:-20}; VUS=${VUS:-8}
fi
DURATION=${DURATION:-30}; WARMUP=${WARMUP:-5}; DRILL_DURATION=${DRILL_DURATION:-40}; VUS=${VUS:-16}; POOL=${POOL:-32}
PROBE_CLIENTS=${PROBE_CLIENTS:-2}; PROMOTE_AFTER=${PROMOTE_AFTER:-2}; PRESET=${PRESET:-small}; SEED=${SEED:-42}; OUT=${OUT:-}
in_range DURATION "$DURATION" 5 600
in_range WARMUP "$WARMUP" 0 60
in_range DRILL_DURATION "$DRILL_DURATION" 10 600
in_range VUS "$VUS" 1 1000
in_range POOL "$POOL" 1 200
in_range PROBE_CLIENTS "$PROBE_CLIENTS" 1 16
in_range PROMOTE_AFTER "$PROMOTE_AFTER" 0 30
in_range SEED "$SEED" 1 2000000000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
require_tools curl ss dotnet jq awk timeout flock python3 haproxy pgbouncer

bench_frame scale-out
source bench/lib/topology.sh
topo_init
build_release

export DB_ENGINE=postgres DB_NAME=exbuy DB_USER=postgres DB_PASSWORD=$TOPO_PASSWORD DB_POOL_MAX=$POOL
unset DB_READ_HOSTS DB_PGBOUNCER SHUTDOWN_DELAY DB_OPTIONS DB_AUTO_PREPARE ADMIN_TOKEN
R1=$(free_port); R2=$(free_port)

seed() { # cluster: migrations and seed straight on PostgreSQL (session-level features: never through PgBouncer)
  echo "bench: seeding preset $PRESET into $1"
  DB_HOST=127.0.0.1 DB_PORT=${TOPO_PORT[$1]} SEED_ON_EMPTY=none timeout 1800 dotnet "$API_DLL" seed --preset "$PRESET" \
    >"$WORK/seed-$1.log" 2>&1 || { tail -20 "$WORK/seed-$1.log" >&2; die "seeding $1 failed"; }
  # Statistics for the planner and a checkpoint now, not by autovacuum and the checkpointer during the first phase.
  topo_psql "$1" "VACUUM ANALYZE" exbuy >/dev/null || die "VACUUM ANALYZE on $1 failed"
  topo_psql "$1" "CHECKPOINT" >/dev/null || die "CHECKPOINT on $1 failed"
}

replicas() { # VAR=value... for both replicas; (re)started on R1 and R2, HAProxy waits for both
  local n
  for n in web1 web2; do [ -z "${TOPO_PID[$n]:-}" ] || topo_exbuy_stop "$n" >/dev/null; done
  topo_exbuy web1 "$R1" "$@"
  topo_exbuy web2 "$R2" "$@"
  topo_haproxy_wait lb 2
  # Unrecorded: every read endpoint of each replica (JIT, EF's query cache), so the first phase is not the cold one.
  for n in "$R1" "$R2"; do
    timeout 150 dotnet "$API_DLL" warmup --url "http://127.0.0.1:$n" >>"$WORK/warmup.log" 2>&1 || die "warming up the replica on :$n failed: $(tail -3 "$WORK/warmup.log")"
  done
}

# A phase: the runner through HAProxy, with the replicas' CPU, HAProxy's per-server counts and the samplers around it.
# Writes $WORK/phase-LABEL.tsv: key<TAB>value lines (rps, p99, cpu_per_1000, share, conns_max, lag_ms, lag_bytes, ...).
phase() { # label scenario
  local label=$1 scenario=$2 cpu0 cpu1 seconds
  local -A before after
  seconds=$((DURATION + WARMUP + 20))
  : >"$WORK/conns-$label.tsv"; : >"$WORK/lag-$label.tsv"; : >"$WORK/xact-$label.tsv"
  topo_sample "$WORK/conns-$label.tsv" "$seconds" primary \
    "SELECT count(*) FROM pg_stat_activity WHERE datname = 'exbuy' AND backend_type = 'client backend'" &
  PIDS+=("$!"); local s1=$!
  topo_sample "$WORK/lag-$label.tsv" "$seconds" primary \
    "SELECT coalesce(round(extract(epoch FROM replay_lag) * 1000), 0), coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0) FROM pg_stat_replication WHERE application_name = 'standby'" &
  PIDS+=("$!"); local s2=$!
  xact() { echo "$(topo_psql primary "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'exbuy'") $(topo_psql standby "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'exbuy'")"; }
  read -r x0p x0s <<<"$(xact)"
  while read -r n c; do before[$n]=$c; done < <(topo_haproxy_counts lb)
  cpu0=$(topo_cpu web1 web2)
  echo "bench: phase $label ($scenario, $VUS VUs, ${DURATION} s)"
  load_run "$label" --scenario "$scenario" --base-url "http://127.0.0.1:${TOPO_PORT[lb]}" --vus "$VUS" \
    --duration "${DURATION}s" --warmup "${WARMUP}s" --seed "$SEED" --label "$label"
  [ "$LOAD_RC" = 0 ] || [ "$LOAD_RC" = 99 ] || { tail -30 "$WORK/runs/$label.log" >&2; die "exbuy-load ($label) exited $LOAD_RC"; }
  cpu1=$(topo_cpu web1 web2)
  while read -r n c; do after[$n]=$c; done < <(topo_haproxy_counts lb)
  read -r x1p x1s <<<"$(xact)"
  kill "$s1" "$s2" 2>/dev/null || true
  local d1=$(( after[web1] - before[web1] )) d2=$(( after[web2] - before[web2] ))
  {
    printf 'rps\t%s\n' "$(jqr '.totals.rps * 10 | round / 10')"
    printf 'p99\t%s\n' "$(jqr '.totals.latency_ms.p99 * 10 | round / 10')"
    printf 'errors\t%s\n' "$(jqr '.totals.errors')"
    printf 'correctness\t%s\n' "$(jqr 'if .correctness.checked | not then "not checked" elif .correctness.ok then "OK" else "VIOLATED" end')"
    awk -v c0="$cpu0" -v c1="$cpu1" -v n=$((d1 + d2)) 'BEGIN { printf "cpu_per_1000\t%.2f\n", n ? (c1 - c0) * 1000 / n : 0 }'
    awk -v a="$d1" -v b="$d2" 'BEGIN { t = a + b; printf "share\t%.0f %% / %.0f %%\n", t ? 100 * a / t : 0, t ? 100 * b / t : 0 }'
    printf 'conns_max\t%s\n' "$(cut -f2 "$WORK/conns-$label.tsv" | sort -n | tail -1)"
    printf 'lag_ms\t%s\n' "$(cut -f2 "$WORK/lag-$label.tsv" | sort -g | tail -1)"
    printf 'lag_bytes\t%s\n' "$(cut -f3 "$WORK/lag-$label.tsv" | sort -g | tail -1)"
    awk -v p=$((x1p - x0p)) -v s=$((x1s - x0s)) 'BEGIN { printf "standby_share\t%.0f %%\n", p + s ? 100 * s / (p + s) : 0 }'
  } >"$WORK/phase-$label.tsv"
}
val() { awk -F'\t' -v k="$2" '$1 == k {print $2}' "$WORK/phase-$1.tsv"; }

# ---- the topology: primary, standby, PgBouncer, HAProxy in front of two replicas --------------------------------------
topo_pg_primary primary
seed primary
topo_pg_standby standby primary
topo_pgbouncer bouncer primary
topo_haproxy lb "127.0.0.1:$R1" "127.0.0.1:$R2"
echo "bench: primary :${TOPO_PORT[primary]}, standby :${TOPO_PORT[standby]}, PgBouncer :${TOPO_PORT[bouncer]}," \
  "HAProxy :${TOPO_PORT[lb]} (stats http://127.0.0.1:${TOPO_PORT[lb-stats]}/stats), replicas :$R1 :$R2"
DIRECT=(DB_HOST=127.0.0.1 DB_PORT="${TOPO_PORT[primary]}")

replicas "${DIRECT[@]}"
phase direct mixed
topo_haproxy_cmd lb "disable server exbuy/web2" >/dev/null
phase one mixed
topo_haproxy_cmd lb "enable server exbuy/web2" >/dev/null
topo_haproxy_wait lb 2

replicas DB_HOST=127.0.0.1 DB_PORT="${TOPO_PORT[bouncer]}" DB_PGBOUNCER=true
phase bouncer mixed

replicas "${DIRECT[@]}" DB_READ_HOSTS="127.0.0.1:${TOPO_PORT[standby]}"
phase standby mixed
phase standby-writes write-heavy
topo_exbuy_stop web1 >/dev/null; topo_exbuy_stop web2 >/dev/null
unset 'TOPO_PID[web1]' 'TOPO_PID[web2]'

# ---- the failover drill -------------------------------------------------------------------------------------------------
# The probe: PROBE_CLIENTS clients placing one-item orders on the probe product until the deadline; one line per
# request: start, end (epoch s), status (0 = no answer), order id when 201.
probe() { # port product seconds out
  python3 - "$@" "$PROBE_CLIENTS" <<'EOF'
import http.client, json, sys, threading, time
port, product, seconds, out, clients = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
deadline = time.time() + seconds
rows, lock = [], threading.Lock()
def client(c):
    conn = None
    for _ in range(1_000_000):
        if time.time() >= deadline:
            break
        body = json.dumps({"user_id": 1 + c, "items": [{"product_id": product, "quantity": 1}]})
        start, status, order = time.time(), 0, ""
        try:
            conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/orders", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            status = response.status
            if status == 201:
                order = str(json.loads(data)["id"])
            if (response.getheader("Connection") or "").lower() == "close":
                conn.close(); conn = None
        except Exception:
            if conn:
                conn.close()
            conn = None
        with lock:
            rows.append(f"{start:.3f}\t{time.time():.3f}\t{status}\t{order}")
        time.sleep(0.02 if status in (201, 409) else 0.1)
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
open(out, "w").write("\n".join(rows) + "\n")
EOF
}

DRILL_FAILED=0
drill() { # mode: async | sync
  local mode=$1 p=drill-$1-primary s=drill-$1-standby port product t_stop t_promoted pid
  echo "bench: failover drill, $mode replication"
  topo_pg_primary "$p"
  seed "$p"
  topo_pg_standby "$s" "$p"
  [ "$mode" = async ] || topo_pg_synchronous "$p"
  port=$(free_port)
  topo_exbuy "drill-$mode" "$port" DB_HOST="127.0.0.1:${TOPO_PORT[$p]},127.0.0.1:${TOPO_PORT[$s]}" DB_PORT="${TOPO_PORT[$p]}" \
    DB_READ_HOSTS="127.0.0.1:${TOPO_PORT[$s]}"
  pid=${TOPO_PID[drill-$mode]}
  load_run_bg "drill-$mode" --scenario mixed --base-url "http://127.0.0.1:$port" --vus "$VUS" --duration "${DRILL_DURATION}s" \
    --warmup "${WARMUP}s" --seed "$SEED" --label "drill-$mode"
  wait_line "$WORK/runs/drill-$mode.log" '^ *1\.0s' "$LOAD_PID" || die "exbuy-load ended before its measured phase: $(tail -5 "$WORK/runs/drill-$mode.log")"
  local start; start=$(date +%s.%N)
  # The probe's product: created after the runner sampled the catalog, so the runner's stock ledger never sees it.
  product=$(topo_psql "$p" "INSERT INTO products (name, price, stock, category, version, created_at, updated_at) SELECT 'failover probe', price, 100000000, category, 0, now(), now() FROM products ORDER BY id LIMIT 1 RETURNING id" exbuy 2>&1 | head -1 || true)
  [[ "$product" =~ ^[0-9]+$ ]] || die "could not create the probe product on $p: $product"
  probe "$port" "$product" "$((DRILL_DURATION - 2))" "$WORK/probe-$mode.tsv" &
  local probe_pid=$!; PIDS+=("$probe_pid")
  sleep "$(python3 -c "import time; print(max(0, $start + $DRILL_DURATION / 3 - time.time()))")"
  t_stop=$(date +%s.%N)
  topo_pg_stop "$p" immediate
  sleep "$PROMOTE_AFTER"
  topo_pg_promote "$s"
  t_promoted=$(date +%s.%N)
  echo "bench: $mode: primary stopped (immediate) at $(python3 -c "print(round($t_stop - $start, 1))") s, standby promoted" \
    "$(python3 -c "print(round($t_promoted - $t_stop, 1))") s later"
  wait "$probe_pid" || die "the probe failed"
  load_wait
  [ "$LOAD_RC" = 0 ] || [ "$LOAD_RC" = 1 ] || [ "$LOAD_RC" = 99 ] || { tail -30 "$WORK/runs/drill-$mode.log" >&2; die "exbuy-load (drill $mode) exited $LOAD_RC"; }
  kill -0 "$pid" 2>/dev/null || die "ExBuy exited during the drill: $(tail -5 "$WORK/drill-$mode.log")"
  # Acknowledged orders (201) that the promoted standby does not have.
  local acked present
  acked=$(awk -F'\t' '$3 == 201 {print $4}' "$WORK/probe-$mode.tsv" | paste -sd, -)
  present=0
  if [ -n "$acked" ]; then
    present=$(topo_psql "$s" "SELECT count(*) FROM orders WHERE id IN ($acked)" exbuy) || die "could not read the orders back from the promoted $s"
  fi
  python3 - "$WORK/probe-$mode.tsv" "$t_stop" "$present" "$LOAD_JSON" "$mode" >"$WORK/drill-$mode.tsv" <<'EOF'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
t_stop, present, result, mode = float(sys.argv[2]), int(sys.argv[3]), json.load(open(sys.argv[4])), sys.argv[5]
rows = [(float(a), float(b), int(s), o) for a, b, s, o in rows]
acked = sum(1 for r in rows if r[2] == 201)
# From the answer of the first write that failed after the crash to the answer of the first write, sent after that,
# that was acknowledged (201).
failed = sorted((r for r in rows if r[2] not in (201, 409) and r[0] >= t_stop - 1), key=lambda r: r[1])
downtime = "none"
if failed:
    first_fail = failed[0][1]
    ok = [r[1] for r in rows if r[2] == 201 and r[0] >= first_fail]
    downtime = f"{min(ok) - first_fail:.1f}" if ok else "not back"
statuses = {}
for op in result["operations"].values():
    for s, n in op["statuses"].items():
        statuses[s] = statuses.get(s, 0) + n
for r in rows:
    key = "transport" if r[2] == 0 else str(r[2])
    statuses[key] = statuses.get(key, 0) + 1
other5xx = sum(n for s, n in statuses.items() if s.isdigit() and int(s) >= 500 and s != "503")
c = result["correctness"]
verdict = "not checked" if not c["checked"] else "OK" if c["ok"] else f"VIOLATED ({len(c['violations'])} products)"
print(f"downtime\t{downtime}")
print(f"s503\t{statuses.get('503', 0)}")
print(f"other5xx\t{other5xx}")
print(f"transport\t{statuses.get('transport', 0)}")
print(f"correctness\t{verdict}")
print(f"acked\t{acked}")
print(f"missing\t{acked - present}")
print(f"runner_orders\t{c.get('orders_placed', 0)}")
EOF
  local e
  e=$(awk -F'\t' '$1 == "other5xx" {print $2}' "$WORK/drill-$mode.tsv")
  [ "$e" = 0 ] || { echo "bench: $mode drill: $e answers were a 5xx other than 503" >&2; DRILL_FAILED=1; }
  if [ "$mode" = sync ]; then
    [ "$(awk -F'\t' '$1 == "missing" {print $2}' "$WORK/drill-$mode.tsv")" = 0 ] \
      || { echo "bench: synchronous drill: acknowledged orders are missing after the failover" >&2; DRILL_FAILED=1; }
    [ "$(awk -F'\t' '$1 == "correctness" {print $2}' "$WORK/drill-$mode.tsv")" = OK ] \
      || { echo "bench: synchronous drill: the correctness verdict is not OK" >&2; DRILL_FAILED=1; }
  fi
  topo_exbuy_stop "drill-$mode" >/dev/null
  topo_pg_stop "$s" immediate
}
drill async
drill sync

# ---- one set of tables ------------------------------------------------------------------------------------------------
echo
echo "ExBuy (Release) replicas behind HAProxy, PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (fsync on)," \
  "preset $PRESET; exbuy-load closed model, $VUS VUs, ${DURATION} s per phase after ${WARMUP} s warm-up; DB_POOL_MAX=$POOL per replica;" \
  "PgBouncer default_pool_size $(awk -F' *= *' '$1 == "default_pool_size" {print $2}' deploy/scale-out/pgbouncer.ini)."
echo
echo "| database path (2 replicas, mixed) | rps | p99 ms | errors | PostgreSQL connections of the app (max) |"
echo "|---|---:|---:|---:|---:|"
echo "| direct | $(val direct rps) | $(val direct p99) | $(val direct errors) | $(val direct conns_max) |"
echo "| PgBouncer (transaction pooling) | $(val bouncer rps) | $(val bouncer p99) | $(val bouncer errors) | $(val bouncer conns_max) |"
echo
echo "| replicas behind HAProxy (mixed, direct) | rps | p99 ms | CPU s per 1000 requests | share web1 / web2 |"
echo "|---|---:|---:|---:|---|"
echo "| 1 (web2 disabled) | $(val one rps) | $(val one p99) | $(val one cpu_per_1000) | $(val one share) |"
echo "| 2 | $(val direct rps) | $(val direct p99) | $(val direct cpu_per_1000) | $(val direct share) |"
echo
echo "| catalog reads | scenario | rps | p99 ms | standby's share of transactions | replay lag max ms | lag max bytes |"
echo "|---|---|---:|---:|---:|---:|---:|"
echo "| primary only | mixed | $(val direct rps) | $(val direct p99) | $(val direct standby_share) | $(val direct lag_ms) | $(val direct lag_bytes) |"
echo "| standby (DB_READ_HOSTS) | mixed | $(val standby rps) | $(val standby p99) | $(val standby standby_share) | $(val standby lag_ms) | $(val standby lag_bytes) |"
echo "| standby (DB_READ_HOSTS) | write-heavy | $(val standby-writes rps) | $(val standby-writes p99) | $(val standby-writes standby_share) | $(val standby-writes lag_ms) | $(val standby-writes lag_bytes) |"
echo
echo "| failover (mixed, ${DRILL_DURATION} s, promotion ${PROMOTE_AFTER} s after the stop) | write downtime s | 503s | other 5xx | no answer | correctness | probe orders acknowledged | acknowledged but missing | runner's orders (201) |"
echo "|---|---:|---:|---:|---:|---|---:|---:|---:|"
for mode in async sync; do
  dv() { awk -F'\t' -v k="$1" '$1 == k {print $2}' "$WORK/drill-$mode.tsv"; }
  echo "| $([ "$mode" = async ] && echo asynchronous || echo synchronous) | $(dv downtime) | $(dv s503) | $(dv other5xx) | $(dv transport) | $(dv correctness) | $(dv acked) | $(dv missing) | $(dv runner_orders) |"
done
echo
echo "Errors: requests the runner counted as failed. Connections: client backends in the app's database, sampled every"
echo "second. CPU: user + system seconds of both replicas over the run (warm-up included) per 1000 requests HAProxy sent"
echo "them. Standby's share: transactions (pg_stat_database) on the standby / on both. Write downtime: from the first"
echo "failed probe order to the first acknowledged one after it. No answer: requests with no HTTP answer."
exit "$DRILL_FAILED"
