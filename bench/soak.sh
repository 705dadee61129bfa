#!/usr/bin/env bash
# Soak: the mixed scenario at a moderate, constant arrival rate (exbuy-load's open model) against ExBuy (Release) on a
# throwaway PostgreSQL for 30 minutes. Per 5-minute window: requests, rps, p50 and p99 (exact, one HDR histogram per
# window), and the server's RSS, open file descriptors and PostgreSQL connections (sampled every 10 s). After the first
# window (warm-up), p99 and RSS must stay within ±10 % of their median, and neither file descriptors (sockets apart),
# nor sockets that are no connection, nor PostgreSQL connections may grow window after window.
#   bench/soak.sh                                  # 30 min at 150 req/s, small preset
#   DURATION=600 WINDOW=120 RATE=100 bench/soak.sh # a shorter one
# Knobs: DURATION (s, 60..7200, default 1800) WINDOW (s, 30..1800, default 300) RATE (req/s, 1..5000, default 150)
#   PRESET (small|medium|large, default small) SEED OUT (keep the result, its report and the samples).
# Exits 1 when the correctness verdict is not OK or the table is not flat. Bounded: the runner runs under `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

DURATION=${DURATION:-1800}; WINDOW=${WINDOW:-300}; RATE=${RATE:-150}; PRESET=${PRESET:-small}; SEED=${SEED:-42}; OUT=${OUT:-}
in_range DURATION "$DURATION" 60 7200
in_range WINDOW "$WINDOW" 30 1800
in_range RATE "$RATE" 1 5000
in_range SEED "$SEED" 1 2000000000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
(( DURATION >= 2 * WINDOW )) || die "DURATION=$DURATION must hold at least two windows of WINDOW=$WINDOW s"
require_tools curl ss dotnet jq awk timeout flock python3

bench_frame soak

pg_start
build_release
start_seeded_exbuy "$PRESET"
# A steady request mix for the whole run: the mixed scenario takes ~250,000 units of stock in 30 minutes at 150 req/s,
# about what the small preset holds, so without this more and more orders would answer a cheap 409 as stock runs out and
# p99 would drift down with the mix, not with the server. Done before exbuy-load starts: its correctness ledger begins
# from the topped-up stock.
psql_run -d "$DB_NAME" -c "UPDATE products SET stock = stock + 1000000" >/dev/null
SERVER_PID=$(pids_on "${PORT[exbuy]}" | head -1)
[ -n "$SERVER_PID" ] || die "no process listens on ${PORT[exbuy]}"
echo "bench: ExBuy on $URL (pid $SERVER_PID); $RATE req/s for $DURATION s in windows of $WINDOW s"

# The runner's windows: a step with no faults every WINDOW seconds (exact per-window statistics).
python3 - "$WORK/windows.json" "$DURATION" "$WINDOW" <<'EOF'
import json, sys
out, duration, window = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
steps = [{"at": f"{at}s", "label": f"{at // 60}–{min(at + window, duration) // 60} min", "rules": []} for at in range(0, duration, window)]
json.dump({"description": "soak windows", "steps": steps}, open(out, "w"))
EOF

load_run_bg soak --scenario mixed --base-url "$URL" --rate "$RATE" --max-vus 200 --duration "${DURATION}s" --warmup 20s \
  --seed "$SEED" --faults "$WORK/windows.json"
wait_line "$WORK/runs/soak.log" '^ *1\.0s' "$LOAD_PID" || die "exbuy-load ended before its measured phase: $(tail -5 "$WORK/runs/soak.log")"
START=$(date +%s.%N)

# Every 10 s: the server's RSS (MiB), its open file descriptors (sockets apart from the rest), its established HTTP
# connections, and the app's PostgreSQL connections. A socket that is neither an HTTP nor a PostgreSQL connection (nor the
# listener) is unexplained: those, the other descriptors and the PostgreSQL connections must not grow. How many HTTP
# connections there are is the load generator's choice (up to --max-vus), so they are reported, not judged.
python3 - "$SERVER_PID" "$START" "$DURATION" "${PORT[exbuy]}" "$PG_BIN/psql" "$PGPORT" "$DB_NAME" "${PG_RUN[@]}" >"$WORK/runs/samples.tsv" <<'EOF' &
import os, subprocess, sys, time
pid, start, duration, port, psql, pgport, db, run = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8:]
for tick in range(0, duration, 10):
    time.sleep(max(0.0, start + tick - time.time()))
    try:
        rss = next(int(l.split()[1]) for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")) / 1024
        sockets = others = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:"):
                sockets += 1
            else:
                others += 1
    except OSError:
        break
    def count(*args):
        out = subprocess.run(["ss", "-H", *args, f"( sport = :{port} )"], capture_output=True, text=True).stdout
        return sum(1 for l in out.splitlines() if l.strip())
    http, listeners = count("-tn", "state", "established"), count("-ltn")
    conns = subprocess.run([*run, psql, "-h", "127.0.0.1", "-p", pgport, "-U", "postgres", "-d", db, "-tAc",
                            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'exbuy'"],
                           capture_output=True, text=True).stdout.strip() or "0"
    unexplained = max(0, sockets - http - int(conns) - listeners)
    print(f"{tick}\t{rss:.1f}\t{others}\t{sockets}\t{http}\t{conns}\t{unexplained}", flush=True)
EOF
SAMPLER=$!
PIDS+=("$SAMPLER")

load_wait
wait "$SAMPLER" 2>/dev/null || true
[ "$LOAD_RC" = 0 ] || [ "$LOAD_RC" = 99 ] || { tail -30 "$WORK/runs/soak.log" >&2; die "exbuy-load exited $LOAD_RC"; }

echo
echo "mixed scenario, open model at $RATE req/s (exbuy-load), ExBuy Release on PostgreSQL 15, preset $PRESET, $DURATION s."
jq -r '.faults[] | "\(.start_s)\t\(.end_s)\t\(.label)\t\(.stats.requests)\t\(.stats.rps)\t\(.stats.p50_ms)\t\(.stats.p99_ms)\t\(.stats.error_rate)"' \
  "$LOAD_JSON" >"$WORK/windows.tsv"
python3 - "$WORK/windows.tsv" "$WORK/runs/samples.tsv" >"$WORK/verdict.txt" <<'EOF'
import statistics, sys
windows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
samples = [tuple(float(x) for x in l.split("\t")) for l in open(sys.argv[2]) if l.strip()]
print()
print("| window | requests | rps | p50 ms | p99 ms | errors | RSS MiB | fds other than sockets | sockets | HTTP connections | PG connections | unexplained sockets |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
rows = []
for start, end, label, requests, rps, p50, p99, errors in windows:
    inside = [s for s in samples if float(start) <= s[0] < float(end)] or samples[-1:]
    rss, others, sockets, http, conns, unexplained = (max(s[i] for s in inside) for i in range(1, 7))
    rows.append((float(p99), rss, others, conns, unexplained))
    print(f"| {label} | {requests} | {float(rps):.1f} | {float(p50):.2f} | {float(p99):.2f} | {float(errors) * 100:.2f} % | {rss:.0f} | {others:.0f} | {sockets:.0f} | {http:.0f} | {conns:.0f} | {unexplained:.0f} |")
print()
print("Per window, the largest of its 10-second samples. Unexplained sockets: sockets minus the HTTP and PostgreSQL")
print("connections and the listener, sampled together.")
steady = rows[1:]
ok = True
print()
for name, i in (("p99", 0), ("RSS", 1)):
    values = [r[i] for r in steady]
    median = statistics.median(values)
    spread = max(abs(v - median) / median for v in values) * 100 if median else 0
    ok &= spread <= 10
    print(f"{name} after the first window: median {median:.1f}, the farthest window {spread:.1f} % from it (bound ±10 %)")
for name, i in (("file descriptors other than sockets", 2), ("PostgreSQL connections", 3), ("unexplained sockets", 4)):
    values = [r[i] for r in steady]
    growing = len(values) >= 3 and all(b > a for a, b in zip(values, values[1:]))
    ok &= not growing
    print(f"{name}: {', '.join(f'{v:.0f}' for v in values)} ({'GROWING every window' if growing else 'no growth'})")
print("flat:", "yes" if ok else "NO")
print("RESULT", "ok" if ok else "failed")
EOF
grep -v '^RESULT' "$WORK/verdict.txt"
echo
echo "correctness: $(jqr 'if .correctness.ok then "OK" else "VIOLATED" end') ($(jqr '.correctness | "\(.verified) products verified, \(.unverifiable) unverifiable"')); late starts: $(jqr '.open_model.late // "n/a"')"
[ "$(jqr '.correctness.ok')" = true ] || exit 1
grep -q '^RESULT ok' "$WORK/verdict.txt" || exit 1
