#!/usr/bin/env bash
# Source this after defining die() and WORK (a temp dir the script removes on exit): the Release build of ExBuy and of
# the load runner exbuy-load, and one bounded runner run whose result JSON ("schema": "exbuy-load/1") is then read
# with jq. Shared by bench/compare-optimize.sh, bench/compare-locks.sh and bench/runner-vs-wrk.sh.
#   build_release            flock'ed Release build of src/ExBuy.Api and src/ExBuy.Load (other builds on this machine
#                            take the same /tmp/exbuy.lock), copied into $WORK/bin so that a concurrent rebuild cannot
#                            swap the binaries under a run; sets API_DLL and LOAD_DLL. LOAD_DLL set beforehand (a
#                            prebuilt exbuy-load.dll) skips building the runner: its directory is copied instead.
#   load_run LABEL ARGS...   `exbuy-load run ARGS... --out $WORK/runs/LABEL` under `timeout`; stdout+stderr in
#                            $WORK/runs/LABEL.log; sets LOAD_RC (0 pass, 1 violation or set-up failed, 2 bad option,
#                            99 threshold crossed) and LOAD_JSON (the result file, empty when none was written).
#                            LOAD_SETUP_S (default 120) bounds set-up and the correctness read-back on top of warm-up
#                            and duration.
#   load_run_bg LABEL ARGS...  the same in the background (LOAD_PID: the timeout wrapping the runner); then
#   load_wait                  waits for it and sets LOAD_RC and LOAD_JSON
#   jqr FILTER               jq -r FILTER "$LOAD_JSON"
#   wait_line FILE RE PID      blocks until a line of FILE matches RE (grep -e); fails if process PID ends first
#   dur_s DURATION           a runner duration (60s, 500ms, 1m30s, 2) in whole seconds, rounded up

build_release() {
  mkdir -p "$WORK/bin"
  local prebuilt=${LOAD_DLL:-}
  if [ -n "$prebuilt" ]; then
    [ -f "$prebuilt" ] || die "LOAD_DLL=$prebuilt: no such file"
    cp -a "$(dirname "$prebuilt")" "$WORK/bin/load"
    LOAD_DLL=$WORK/bin/load/$(basename "$prebuilt")
    echo "bench: exbuy-load from LOAD_DLL=$prebuilt (not rebuilt); building ExBuy.Api (Release, under flock /tmp/exbuy.lock)"
  else
    echo "bench: building ExBuy.Api and ExBuy.Load (Release, under flock /tmp/exbuy.lock)"
  fi
  # One lock for the build and the copy: the copy is of what this build produced.
  # shellcheck disable=SC2016 # $1 and $2 are expanded by the inner sh
  timeout 1200 flock /tmp/exbuy.lock sh -c '
    dotnet build -c Release src/ExBuy.Api -v q -nologo &&
    cp -a src/ExBuy.Api/bin/Release/net10.0 "$1/api" &&
    if [ -z "$2" ]; then
      dotnet build -c Release src/ExBuy.Load -v q -nologo &&
      cp -a src/ExBuy.Load/bin/Release/net10.0 "$1/load"
    fi' sh "$WORK/bin" "$prebuilt" >"$WORK/build.log" 2>&1 \
    || { grep -E 'error|FAILED' "$WORK/build.log" | sort -u >&2
         die "Release build failed (errors above; LOAD_DLL=path/to/exbuy-load.dll runs a prebuilt runner instead)"; }
  API_DLL=$WORK/bin/api/ExBuy.Api.dll
  LOAD_DLL=${LOAD_DLL:-$WORK/bin/load/exbuy-load.dll}
  if [ ! -f "$API_DLL" ] || [ ! -f "$LOAD_DLL" ]; then die "build produced no $API_DLL or $LOAD_DLL"; fi
}

dur_s() { # a duration of the runner's syntax → whole seconds (rounded up)
  python3 - "$1" <<'EOF'
import math, re, sys
t = sys.argv[1]
if re.fullmatch(r"\d+(\.\d+)?", t): print(math.ceil(float(t))); sys.exit()
ms = sum(float(n) * {"us": 1e-3, "µs": 1e-3, "ms": 1, "s": 1e3, "m": 6e4, "h": 3.6e6}[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|us|µs|s|m|h)", t))
print(math.ceil(ms / 1000))
EOF
}

# After pg_start and build_release: seeds a preset, then starts ExBuy (Release) as `exbuy` with a random ADMIN_TOKEN
# (exported, so the runner's --faults finds it) and sets URL. Extra settings for ExBuy: export them before the call.
start_seeded_exbuy() { # preset
  echo "bench: seeding preset $1"
  SEED_ON_EMPTY=none timeout 1800 dotnet "$API_DLL" seed --preset "$1" >"$WORK/seed.log" 2>&1 || { cat "$WORK/seed.log"; die "seed failed"; }
  ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  export ADMIN_TOKEN
  SEED_ON_EMPTY=none LOG_LEVEL=WARNING start exbuy dotnet "$API_DLL"
  # shellcheck disable=SC2034 # read by the calling script
  URL="http://127.0.0.1:${PORT[exbuy]}"
}

LOAD_PID=""; LOAD_RC=""; LOAD_JSON=""; LOAD_LABEL=""
load_run_bg() { # label args... (the runner's options; --duration and --warmup must be given)
  local label=$1 a prev="" dur=0 warm=0; shift
  for a in "$@"; do
    case $prev in --duration) dur=$(dur_s "$a") ;; --warmup) warm=$(dur_s "$a") ;; esac
    prev=$a
  done
  LOAD_LABEL=$label
  mkdir -p "$WORK/runs/$label"
  timeout --kill-after=10 $(( dur + warm + ${LOAD_SETUP_S:-120} )) \
    dotnet "$LOAD_DLL" run "$@" --out "$WORK/runs/$label" >"$WORK/runs/$label.log" 2>&1 &
  LOAD_PID=$!
  PIDS+=("$LOAD_PID")
}
load_wait() {
  LOAD_RC=0
  wait "$LOAD_PID" || LOAD_RC=$?
  LOAD_PID=""
  LOAD_JSON=$(find "$WORK/runs/$LOAD_LABEL" -maxdepth 1 -name '*.json' | head -1)
  if [ "$LOAD_RC" = 124 ] || [ "$LOAD_RC" = 137 ]; then
    tail -20 "$WORK/runs/$LOAD_LABEL.log" >&2; die "exbuy-load ($LOAD_LABEL) did not finish in time (timeout)"
  fi
  if [ -z "$LOAD_JSON" ]; then
    tail -20 "$WORK/runs/$LOAD_LABEL.log" >&2; die "exbuy-load ($LOAD_LABEL) exited $LOAD_RC without a result file"
  fi
  [ "$(jq -r .schema "$LOAD_JSON")" = "exbuy-load/1" ] || die "$LOAD_JSON: schema is not exbuy-load/1"
  # The result records its own exit code: a mismatch would be a runner bug.
  [ "$(jq -r .exit_code "$LOAD_JSON")" = "$LOAD_RC" ] \
    || echo "bench: WARNING: exbuy-load ($LOAD_LABEL) exited $LOAD_RC but its result says exit_code $(jq -r .exit_code "$LOAD_JSON")" >&2
}
load_run() { load_run_bg "$@"; load_wait; }
jqr() { jq -r "$1" "$LOAD_JSON"; }

# tail follows the file with inotify: no polling loop competing with the measured processes for the CPU.
wait_line() { # file pattern pid
  grep -q -m1 -e "$2" < <(tail -n +1 -F --pid="$3" "$1" 2>/dev/null)
}
