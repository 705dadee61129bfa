#!/usr/bin/env bash
# Source this after defining die(), WORK (a temp dir) and PIDS (an array): servers on free loopback ports, their CPU,
# and the median of a list. Shared by bench/compare.sh and bench/observability-cost.sh.
declare -gA PORT # name → port (global: also when sourced from a function)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Every process listening on a port (gunicorn: the master and its workers share the socket).
pids_on() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u; }
# CPU seconds (user + system) the processes listening on a port have used so far.
cpu_of() {
  local pid total=0 hz
  hz=$(getconf CLK_TCK)
  for pid in $(pids_on "$1"); do
    total=$(awk -v t="$total" -v hz="$hz" '{printf "%.4f", t + ($14 + $15) / hz}' "/proc/$pid/stat")
  done
  echo "$total"
}
wait_up() { # name port log
  for _ in $(seq 1 240); do curl -sf --max-time 2 "http://127.0.0.1:$2/api/health" >/dev/null && return 0; sleep 0.5; done
  die "$1 did not start: $(tail -5 "$3")"
}
start() { # name cmd... (listens on PORT[name])
  local name=$1 port; shift
  port=$(free_port)
  # shellcheck disable=SC2034 # read by the sourcing script
  PORT[$name]=$port
  "$@" --urls "http://127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  wait_up "$name" "$port" "$WORK/$name.log"
  # `dotnet run` starts the app as a child: remember the listener too, so that it is stopped by its id.
  local pid; for pid in $(pids_on "$port"); do PIDS+=("$pid"); done
}

# The median of a space-separated list of numbers (empty for an empty list).
median() { tr ' ' '\n' <<<"${1:-}" | grep . | sort -g | awk '{v[NR]=$1} END{if (NR) print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
