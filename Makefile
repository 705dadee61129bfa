# One-line workflows over ExBuy's own tools: the app's commands, exbuy-load, k6, Docker Compose and a throwaway
# PostgreSQL. `make` (or `make help`) lists every target. Variables are overridden on the command line
# (make test-mixed MAX_VU=300 DURATION=10m); the app's DB_* variables come from the environment or the command line
# and reach every command as they are.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
.NOTPARALLEL:
MAKEFILE := $(lastword $(MAKEFILE_LIST))

BASE_URL ?= http://127.0.0.1:8000
SCENARIO ?= mixed
MAX_VU ?= 50
DURATION ?= 1m
RAMP_UP ?= 30s
RAMP_DOWN ?= 30s
RATE ?=
WARMUP ?=
ARGS ?=
RESULTS_DIR ?= results
RESULTS ?=
LAST ?= 20
BENCH_SCENARIOS ?= read-heavy write-heavy mixed read-only
DOCKER ?=
EXBUY ?= dotnet run --project src/ExBuy.Api --
LOAD ?= dotnet run -c Release --project src/ExBuy.Load --
K6 ?= k6
PG_STATE ?= .pgdata
COMPOSE ?= $(shell if docker compose version >/dev/null 2>&1; then echo docker compose; \
	elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

SCENARIOS := mixed read-heavy write-heavy read-only contention optimize
URL := $(patsubst %/,%,$(BASE_URL))
READY_URL := $(URL)/api/health/ready
# exbuy-load run against BASE_URL with the load variables; the scenario name follows.
LOAD_MODEL = $(if $(RATE),--rate $(RATE) --max-vus $(MAX_VU),--vus $(MAX_VU))
LOAD_RUN = $(LOAD) run --base-url $(URL) $(LOAD_MODEL) --duration $(DURATION) --ramp-up $(RAMP_UP) \
	--ramp-down $(RAMP_DOWN) $(if $(WARMUP),--warmup $(WARMUP)) --out "$(RESULTS_DIR)" $(ARGS) --scenario
LOAD_IDS = $(LOAD) history --results "$(RESULTS_DIR)" --ids --last
SEED = $(EXBUY) seed --reset --preset
# $(call k6_run,scenario): k6 with the same load variables (k6/README.md, Environment).
k6_run = command -v $(firstword $(K6)) >/dev/null 2>&1 || { echo "k6 is not installed: see \
	https://k6.io/docs/get-started/installation/ — or use make test-$(1) (exbuy-load)" >&2; exit 1; }; \
	[ -f k6/$(1).js ] || { echo "k6/$(1).js does not exist: SCENARIO is one of $(SCENARIOS)" >&2; exit 2; }; \
	mkdir -p "$(RESULTS_DIR)"; BASE_URL=$(URL) MAX_VU=$(MAX_VU) DURATION=$(DURATION) RAMP_UP=$(RAMP_UP) \
	RAMP_DOWN=$(RAMP_DOWN) $(if $(RATE),RATE=$(RATE)) SUMMARY_JSON="$(RESULTS_DIR)/k6-$(1)-summary.json" \
	$(K6) run k6/$(1).js
require_compose = [ -n "$(COMPOSE)" ] || { echo "Docker Compose is not installed (neither 'docker compose' nor \
	'docker-compose' is on PATH): see https://docs.docker.com/compose/install/ — or run without Docker: make quickstart" >&2; exit 1; }
COMPOSE_PROFILES := --profile monitoring --profile sync --profile workers --profile jit --profile load --profile k6

.PHONY: help quickstart run serve test migrate seed-small seed-medium seed-large reset pg-up pg-down pg-env \
	warmup check-health status load $(addprefix test-,$(SCENARIOS)) benchmark compare-results show-history \
	k6 $(addprefix k6-,$(SCENARIOS)) up down logs ps up-monitoring up-variants clean

##@ Getting started
help: ## list the targets and variables (the default goal)
	@echo "usage: make <target> [VARIABLE=value ...]"
	@awk 'BEGIN { FS = ":.*## " } /^##@ / { printf "\n%s\n", substr($$0, 5); next } \
		/^[a-z0-9-]+:.*## / { printf "  %-17s %s\n", $$1, $$2 }' $(MAKEFILE)
	@echo
	@echo "Variables (make test-mixed MAX_VU=300 DURATION=10m): BASE_URL=$(BASE_URL) SCENARIO=$(SCENARIO) MAX_VU=$(MAX_VU)"
	@echo "  DURATION=$(DURATION) RAMP_UP=$(RAMP_UP) RAMP_DOWN=$(RAMP_DOWN) RATE=$(RATE) WARMUP=$(WARMUP) ARGS=$(ARGS)"
	@echo "  RESULTS_DIR=$(RESULTS_DIR) RESULTS=$(RESULTS) LAST=$(LAST) BENCH_SCENARIOS=$(BENCH_SCENARIOS)"
	@echo "  DOCKER=$(DOCKER) K6=$(K6) PG_STATE=$(PG_STATE)"
	@echo "  EXBUY=$(EXBUY)"
	@echo "  LOAD=$(LOAD)"
	@echo "  DB_* from the environment: DB_ENGINE=$(DB_ENGINE) DB_PATH=$(DB_PATH) DB_HOST=$(DB_HOST) DB_PORT=$(DB_PORT)"

quickstart: ## migrate, seed small (replacing the data), serve on BASE_URL; DOCKER=1: make up, wait until ready, status
ifeq ($(DOCKER),1)
quickstart:
	@$(require_compose)
	$(COMPOSE) up -d --build
	@command -v curl >/dev/null 2>&1 || { echo "quickstart: curl is not installed: wait for $(READY_URL) yourself (make ps)" >&2; exit 1; }
	@for _ in $$(seq 60); do curl -sf -o /dev/null "$(READY_URL)" && exit 0; sleep 2; done; \
		echo "quickstart: $(READY_URL) not ready after 120 s: make logs" >&2; exit 1
	@$(MAKE) --no-print-directory -f $(MAKEFILE) status
else
quickstart: migrate seed-small
	$(EXBUY) --urls $(URL)
endif

run: ## serve on BASE_URL (SQLite by default: migrated, seeded small when empty); Ctrl-C stops
	$(EXBUY) --urls $(URL)

serve: run ## the same as run

test: ## every test, on SQLite and on a throwaway PostgreSQL (dotnet test ExBuy.slnx)
	dotnet test ExBuy.slnx

##@ Database (DB_ENGINE, DB_PATH, DB_HOST, ... from the environment)
migrate: ## apply the migrations
	$(EXBUY) migrate

seed-small: ## replace the data with the small preset (1K products, 5K orders, 10K reviews)
	$(SEED) small

seed-medium: ## replace the data with the medium preset (10K products, 50K orders, 100K reviews)
	$(SEED) medium

seed-large: ## replace the data with the large preset (100K products, 500K orders, 1M reviews)
	$(SEED) large

reset: ## empty every table and restart the ids
	$(EXBUY) reset

pg-up: ## start a throwaway PostgreSQL on 127.0.0.1 that stays up between commands (state in PG_STATE)
	PG_STATE="$(PG_STATE)" bash scripts/pg-local.sh up

pg-down: ## stop that PostgreSQL and delete its data
	PG_STATE="$(PG_STATE)" bash scripts/pg-local.sh down

pg-env: ## print its DB_* exports: eval "$(make -s pg-env)"
	@PG_STATE="$(PG_STATE)" bash scripts/pg-local.sh env

##@ The running server (BASE_URL)
warmup: ## a bounded pass over every read endpoint, optimize off and on
	$(EXBUY) warmup --url $(URL)

check-health: ## exit 0 when BASE_URL is ready, else 1 with one line
	@$(EXBUY) healthcheck --url $(READY_URL) || { echo "check-health: $(URL) is not healthy (start it: make run)" >&2; exit 1; }

status: ## readiness, /api/info, data counts, and the compose services when Docker is there
	@if command -v curl >/dev/null 2>&1; then bash scripts/status.sh "$(URL)"; else $(EXBUY) healthcheck --url $(READY_URL) || true; \
		echo "info:     not checked (curl is not installed)"; fi
	@if [ -n "$(COMPOSE)" ] && [ -f docker-compose.yml ]; then $(COMPOSE) ps 2>/dev/null \
		|| echo "compose:  '$(COMPOSE) ps' failed (is the Docker daemon running?)"; \
		else echo "compose:  not checked (no Docker Compose or no docker-compose.yml)"; fi

##@ Load tests with exbuy-load (MAX_VU → --vus; RATE → open model; results in RESULTS_DIR)
load: ## run SCENARIO against BASE_URL
	$(LOAD_RUN) $(SCENARIO)

test-mixed: ## 60 % reads, 40 % writes
test-read-heavy: ## 80 % reads
test-write-heavy: ## 70 % writes
test-read-only: ## reads only, optimize on or off per request
test-contention: ## reserve and order storms on 5 hot products (LOCK_TYPE=optimistic|pessimistic|versioned)
test-optimize: ## the same reads with optimize off and on
$(addprefix test-,$(SCENARIOS)): test-%:
	$(LOAD_RUN) $*

benchmark: warmup ## read-heavy, write-heavy, mixed, read-only in turn (BENCH_SCENARIOS), then compare them
	@failed=0; for s in $(BENCH_SCENARIOS); do $(LOAD_RUN) "$$s" || { rc=$$?; [ "$$rc" -eq 99 ] || exit "$$rc"; failed=99; }; done; \
		$(if $(word 2,$(BENCH_SCENARIOS)),$(LOAD) compare --results "$(RESULTS_DIR)" $$($(LOAD_IDS) $(words $(BENCH_SCENARIOS)));) \
		exit "$$failed"

compare-results: ## compare the last two runs, or RESULTS="a b …" (files or run ids)
	$(LOAD) compare --results "$(RESULTS_DIR)" $(if $(RESULTS),$(RESULTS),$$($(LOAD_IDS) 2))

show-history: ## the last LAST runs of RESULTS_DIR/history.jsonl as a table
	$(LOAD) history --results "$(RESULTS_DIR)" --last $(LAST) --format table

##@ Load tests with k6 (when installed; BASE_URL, MAX_VU, DURATION, RAMP_UP, RAMP_DOWN, RATE as k6 env)
k6: ## run k6/SCENARIO.js
	@$(call k6_run,$(SCENARIO))

k6-mixed: ## k6/mixed.js
k6-read-heavy: ## k6/read-heavy.js
k6-write-heavy: ## k6/write-heavy.js
k6-read-only: ## k6/read-only.js
k6-contention: ## k6/contention.js
k6-optimize: ## k6/optimize.js
$(addprefix k6-,$(SCENARIOS)): k6-%:
	@$(call k6_run,$*)

##@ Docker Compose (docker compose, else docker-compose)
up: ## build and start db, migrate (seeds SEED_PRESET, medium, when empty) and web on :8000, in the background
	@$(require_compose)
	$(COMPOSE) up -d --build

down: ## stop and remove every service, every profile included (the database volume stays)
	@$(require_compose)
	$(COMPOSE) $(COMPOSE_PROFILES) down --remove-orphans

logs: ## follow the services' logs
	@$(require_compose)
	$(COMPOSE) logs -f --tail=100

ps: ## the services and their state
	@$(require_compose)
	$(COMPOSE) ps

up-monitoring: ## start Prometheus :9090, postgres-exporter :9187 and Grafana :3000 too (profile monitoring)
	@$(require_compose)
	$(COMPOSE) --profile monitoring up -d

up-variants: ## start web-sync on :8001 and web-workers on :8002 too (profiles sync, workers)
	@$(require_compose)
	$(COMPOSE) --profile sync --profile workers up -d --build

##@ Housekeeping
clean: ## delete generated files: results/ (load results too), uploads/, local SQLite files
	rm -rf results uploads src/ExBuy.Api/uploads
	rm -f exbuy.db exbuy.db-wal exbuy.db-shm src/ExBuy.Api/exbuy.db src/ExBuy.Api/exbuy.db-wal src/ExBuy.Api/exbuy.db-shm
