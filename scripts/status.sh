#!/usr/bin/env bash
# scripts/status.sh BASE_URL: what `make status` shows, through curl: readiness (/api/health/ready), the target's
# /api/info (engine, server variant, build) and its data counts (the lists' `count`). Informational: always exits 0,
# each line says what it could not get (`make check-health` is the gate).
set -euo pipefail

url=${1:?usage: scripts/status.sh BASE_URL}
ready="$url/api/health/ready"

# The scalar value of "name" in a compact JSON document (ExBuy's responses), or "?".
field() { grep -o "\"$1\":[^,}]*" <<<"$2" | head -1 | cut -d: -f2- | tr -d '"' || echo "?"; }

if ! answer=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "$ready") || [ "${answer%% *}" = "000" ]; then
  echo "health:   $ready did not answer (start it: make run)"
  exit 0
fi
code=${answer%% *}
ms=$(awk -v s="${answer#* }" 'BEGIN { printf "%.0f", s * 1000 }')
echo "health:   $ready answered $code in $ms ms$([ "$code" = 200 ] || echo " (not ready)")"

if ! info=$(curl -sf --max-time 5 "$url/api/info"); then
  echo "info:     $url/api/info did not answer"
  exit 0
fi
echo "info:     ExBuy $(field version "$info") (commit $(field commit "$info"), $(field runtime "$info"), $(field build "$info") build)," \
  "db_engine $(field db_engine "$info"), server_mode $(field server_mode "$info"), workers $(field workers "$info")," \
  "gc $(field mode "$info"), started $(field started_at "$info")"

counts=()
for list in products reviews; do
  if body=$(curl -sf --max-time 10 "$url/api/$list?page_size=1"); then counts+=("$(field count "$body") $list")
  else counts+=("? $list"); fi
done
echo "data:     ${counts[0]}, ${counts[1]}"
