#!/usr/bin/env bash
# Source this (after bench/lib/pg.sh, from the repository root): the frame of a bench script.
#   die MESSAGE                  "bench: MESSAGE" on stderr, exit 1
#   in_range NAME VALUE MIN MAX  a whole number in MIN..MAX, or die naming the knob
#   require_tools TOOL...        each on PATH, or die saying how to install it
#   bench_frame NAME             PIDS (processes to stop), WORK (a temp dir), the EXIT trap (stops every process in
#                                PIDS, then PostgreSQL; copies $WORK/runs to OUT when OUT is set; removes WORK), Ctrl-C
#                                → exit 130; then sources bench/lib/servers.sh and bench/lib/load.sh.
die() { echo "bench: $*" >&2; exit 1; }
in_range() { if ! [[ "$2" =~ ^[0-9]+$ ]] || (( $2 < $3 || $2 > $4 )); then die "$1=$2 must be a whole number in $3..$4"; fi; }
require_tools() {
  local tool
  for tool in "$@"; do command -v "$tool" >/dev/null || die "$tool is required (apt-get install -y $tool)"; done
}
bench_cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  pg_stop
  if [ -n "${OUT:-}" ] && [ -d "$WORK/runs" ]; then mkdir -p "$OUT" && cp -a "$WORK/runs/." "$OUT/"; fi
  rm -rf "$WORK"
}
bench_frame() { # name
  PIDS=(); WORK=$(mktemp -d "/tmp/exbuy-bench-$1.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  source bench/lib/servers.sh
  source bench/lib/load.sh
}
