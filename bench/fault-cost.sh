#!/usr/bin/env bash
# What fault injection costs a request that is not faulted: bench/observability-cost.sh with
#   faults-off   FAULTS=off: the fault middleware is not registered (the baseline)
#   on           the default: X-Fault-* headers honoured, no rule (three header lookups and a volatile read)
#   faults-rule  ADMIN_TOKEN set and a rule active on another route (each request matches its route and passes)
# on GET /api/health and GET /api/products/{id}?optimize=true, interleaved rounds on one throwaway PostgreSQL.
#   bench/fault-cost.sh                        # 5 rounds × 8 s per server and endpoint
#   ROUNDS=3 DURATION=4 bench/fault-cost.sh    # a quick look
# Every other knob of bench/observability-cost.sh applies (DURATION ROUNDS CONNECTIONS WARMUP ONLY).
set -euo pipefail
cd "$(dirname "$0")/.."
VARIANTS="faults-off on faults-rule" BASELINE=faults-off exec bench/observability-cost.sh
