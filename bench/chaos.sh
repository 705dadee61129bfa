#!/usr/bin/env bash
# Chaos: the mixed scenario (exbuy-load, Release) against ExBuy (Release) on a throwaway PostgreSQL while PostgreSQL is
# restarted twice and every session of the app is terminated once. Prints the errors per second by status (from
# ExBuy's own /metrics, sampled every second), each fault's time to recover (from the fault's end to the first second
# with no 503 and at least one success), the runner's per-window table and the correctness verdict.
#   bench/chaos.sh                      # small preset, 16 VUs, 90 s: restart at 20 s, terminate at 45 s, restart at 65 s
# Knobs: VUS (1..1000, default 16) PRESET (small|medium|large, default small) WARMUP (s, 0..60, default 20) SEED
#   OUT (keep the result file, its HTML report and the per-second samples). Exits 1 when the correctness verdict is
#   not OK, when any 5xx other than 503 was answered, or when a fault took longer than 5 s to recover from. Bounded:
#   the runner runs under `timeout`; everything listens on 127.0.0.1 and stops on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib/pg.sh
source bench/lib/frame.sh

VUS=${VUS:-16}; PRESET=${PRESET:-small}; WARMUP=${WARMUP:-20}; SEED=${SEED:-42}; OUT=${OUT:-}
DURATION=90; FAULTS=(20:restart 45:terminate 65:restart); RECOVERY_BOUND=5
in_range VUS "$VUS" 1 1000
in_range WARMUP "$WARMUP" 0 60
in_range SEED "$SEED" 1 2000000000
[[ "$PRESET" =~ ^(small|medium|large)$ ]] || die "PRESET=$PRESET: use small, medium or large"
require_tools curl ss dotnet jq awk timeout flock python3

bench_frame chaos

PG_FSYNC=on pg_start
build_release
start_seeded_exbuy "$PRESET"
echo "bench: ExBuy on $URL (PostgreSQL with fsync on: a restart loses nothing committed)"

# The runner's windows: one per phase, no injected faults (the faults here are real ones, done below).
python3 - "$WORK/windows.json" "${FAULTS[@]}" <<'EOF'
import json, sys
out, faults = sys.argv[1], sys.argv[2:]
steps = [{"at": "0s", "label": "before", "rules": []}]
for i, f in enumerate(faults):
    at, kind = f.split(":")
    steps.append({"at": f"{at}s", "label": f"{kind} {i + 1} (at {at} s) and after", "rules": []})
json.dump({"description": "chaos windows", "steps": steps}, open(out, "w"))
EOF

load_run_bg chaos --scenario mixed --base-url "$URL" --vus "$VUS" --duration "${DURATION}s" --warmup "${WARMUP}s" \
  --seed "$SEED" --faults "$WORK/windows.json"

# Wait for the measured phase to begin (the runner prints its first per-second line after the warm-up).
wait_line "$WORK/runs/chaos.log" '^ *1\.0s' "$LOAD_PID" || die "exbuy-load ended before its measured phase: $(tail -5 "$WORK/runs/chaos.log")"
START=$(date +%s.%N)

# /metrics every second: cumulative requests by status, for errors per second by status.
python3 - "$URL/metrics" "$START" "$((DURATION + 5))" >"$WORK/runs/statuses.tsv" <<'EOF' &
import re, sys, time, urllib.request
url, start, seconds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
pattern = re.compile(r'^http_server_request_duration_seconds_count\{([^}]*)\} (\d+)', re.M)
for tick in range(seconds):
    time.sleep(max(0.0, start + tick - time.time()))
    try:
        text = urllib.request.urlopen(url, timeout=2).read().decode()
    except Exception:
        print(f"{tick}\tscrape-failed\t0", flush=True)
        continue
    totals = {}
    for labels, count in pattern.findall(text):
        status = re.search(r'http_response_status_code="(\d+)"', labels)
        route = re.search(r'http_route="([^"]*)"', labels)
        if status and route and route.group(1).startswith("/api/") and not route.group(1).startswith("/api/admin"):
            totals[status.group(1)] = totals.get(status.group(1), 0) + int(count)
    for status, count in sorted(totals.items()):
        print(f"{tick}\t{status}\t{count}", flush=True)
EOF
SAMPLER=$!
PIDS+=("$SAMPLER")

psql_app() { "${PG_RUN[@]}" "$PG_BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d "$DB_NAME" -tAc "$1"; }
: >"$WORK/faults.tsv"
for fault in "${FAULTS[@]}"; do
  at=${fault%%:*}; kind=${fault#*:}
  sleep "$(python3 -c "import time; print(max(0, $START + $at - time.time()))")"
  begin=$(python3 -c "import time; print(round(time.time() - $START, 2))")
  case $kind in
    restart) "${PG_RUN[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 restart >/dev/null ;;
    terminate) psql_app "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$DB_NAME' AND application_name = 'exbuy'" >/dev/null 2>&1 ;;
  esac
  end=$(python3 -c "import time; print(round(time.time() - $START, 2))")
  echo "bench: $kind from ${begin} s to ${end} s"
  printf '%s\t%s\t%s\n' "$kind" "$begin" "$end" >>"$WORK/faults.tsv"
done

load_wait
wait "$SAMPLER" 2>/dev/null || true
[ "$LOAD_RC" = 0 ] || [ "$LOAD_RC" = 99 ] || { tail -30 "$WORK/runs/chaos.log" >&2; die "exbuy-load exited $LOAD_RC"; }

echo
echo "mixed scenario (exbuy-load, $VUS VUs, ${DURATION} s after ${WARMUP} s warm-up), ExBuy Release on PostgreSQL 15" \
  "(fsync on), preset $PRESET; faults: ${FAULTS[*]} (s into the measured phase)."
python3 - "$WORK/runs/statuses.tsv" "$WORK/faults.tsv" "$RECOVERY_BOUND" >"$WORK/verdict.txt" <<'EOF'
import sys
from collections import defaultdict
samples, faults, bound = sys.argv[1], sys.argv[2], float(sys.argv[3])
cumulative = defaultdict(dict)
for line in open(samples):
    tick, status, count = line.rstrip("\n").split("\t")
    if status != "scrape-failed":
        cumulative[int(tick)][status] = int(count)
ticks = sorted(cumulative)
per_second = {}
for a, b in zip(ticks, ticks[1:]):
    per_second[b] = {s: cumulative[b].get(s, 0) - cumulative[a].get(s, 0) for s in cumulative[b]}
statuses = sorted({s for d in per_second.values() for s in d})
print()
print("Answers per second by status (ExBuy's /metrics, /api/* routes), seconds with anything but 2xx/4xx shown:")
print()
print("| s | " + " | ".join(statuses) + " |")
print("|---:|" + "---:|" * len(statuses))
for t in sorted(per_second):
    d = per_second[t]
    if any(int(s) >= 500 and n for s, n in d.items()):
        print(f"| {t} | " + " | ".join(str(d.get(s, 0)) for s in statuses) + " |")
totals = defaultdict(int)
for d in per_second.values():
    for s, n in d.items():
        totals[s] += n
print()
print("Totals: " + ", ".join(f"{s}×{totals[s]}" for s in statuses))
print()
print("| fault | from–to s | 503s | other 5xx | recovered after (s) |")
print("|---|---|---:|---:|---:|")
ok = True
rows = [l.rstrip("\n").split("\t") for l in open(faults)]
for i, (kind, begin, end) in enumerate(rows):
    begin, end = float(begin), float(end)
    until = float(rows[i + 1][1]) if i + 1 < len(rows) else max(per_second) + 1
    window = [t for t in sorted(per_second) if begin <= t < until + 1]
    e503 = sum(per_second[t].get("503", 0) for t in window)
    other = sum(n for t in window for s, n in per_second[t].items() if int(s) >= 500 and s != "503")
    recovered = next((t for t in window if t >= end and per_second[t].get("503", 0) == 0
                      and sum(n for s, n in per_second[t].items() if s.startswith("2")) > 0), None)
    after = None if recovered is None else max(0.0, recovered - end)
    ok &= other == 0 and after is not None and after <= bound
    print(f"| {kind} | {begin:.1f}–{end:.1f} | {e503} | {other} | {'never' if after is None else f'≤ {after:.0f}'} |")
other_total = sum(n for s, n in totals.items() if int(s) >= 500 and s != "503")
ok &= other_total == 0
print()
print(f"5xx other than 503: {other_total}; recovery bound {bound:.0f} s: {'met' if ok else 'NOT met'}")
print("RESULT", "ok" if ok else "failed")
EOF
grep -v '^RESULT' "$WORK/verdict.txt"
echo
echo "| window | from–to s | requests | rps | p50 ms | p99 ms | errors |"
echo "|---|---|---:|---:|---:|---:|---:|"
jqr '.faults[] | "| \(.label) | \(.start_s)–\(.end_s) | \(.stats.requests) | \(.stats.rps * 10 | round / 10) | \(.stats.p50_ms * 100 | round / 100) | \(.stats.p99_ms * 100 | round / 100) | \(.stats.error_rate * 1000 | round / 10) % |"'
echo
echo "correctness: $(jqr 'if .correctness.ok then "OK" else "VIOLATED" end') ($(jqr '.correctness | "\(.verified) products verified, \(.unverifiable) unverifiable"'))"
[ "$(jqr '.correctness.ok')" = true ] || exit 1
grep -q '^RESULT ok' "$WORK/verdict.txt" || exit 1
