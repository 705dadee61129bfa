#!/bin/sh
# Renders a configuration template of deploy/scale-out/ (pgbouncer.ini, userlist.txt): outside comment lines (first
# non-blank character ';' or '#'), every ${NAME} becomes the value of the environment variable NAME. Fails, naming
# them, when a variable is unset, so a half-filled file is never used. POSIX sh and awk only: it runs in the compose
# containers too.
#   PG_PRIMARY_HOST=127.0.0.1 ... sh deploy/scale-out/render-config.sh deploy/scale-out/pgbouncer.ini > pgbouncer.ini
set -eu
if [ $# -ne 1 ]; then
  echo "usage: render-config.sh TEMPLATE > OUTPUT (the template's \${NAME}s come from the environment)" >&2
  exit 2
fi
if [ ! -r "$1" ]; then
  echo "render-config.sh: cannot read the template $1" >&2
  exit 2
fi
awk -v template="$1" '
/^[ \t]*[;#]/ { print; next }
{
  line = $0; out = ""
  while (match(line, /\$\{[A-Za-z_][A-Za-z0-9_]*\}/)) {
    name = substr(line, RSTART + 2, RLENGTH - 3)
    if (!(name in ENVIRON)) missing[name] = 1
    out = out substr(line, 1, RSTART - 1) ENVIRON[name]
    line = substr(line, RSTART + RLENGTH)
  }
  print out line
}
END {
  names = ""
  for (name in missing) names = names " " name
  if (names != "") {
    print "render-config.sh: " template " needs these environment variables, which are unset:" names > "/dev/stderr"
    exit 1
  }
}' "$1"
