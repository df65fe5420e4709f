# The two commands: `make run` and `make test`. Everything else supports them.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.PHONY: install run test lint format check-deploy db-stop db-status browser loadgen bench soak clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

## Serve the hub on http://127.0.0.1:$(PORT) (gunicorn) with its task cluster; Ctrl-C or
## SIGTERM stops it all. exec: make's shell is replaced, so a signal reaches run_hub itself.
run: install
	exec env PORT=$(PORT) $(BIN)/python manage.py run_hub

## The whole suite against PostgreSQL (embedded unless DATABASE_URL is set).
test: install browser loadgen
	@if [ -z "$${TEST_REDIS_URL:-}$${REDIS_URL:-}" ] && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then \
	  echo "Redis answers on 127.0.0.1:6379: the Redis broker tests use database 15"; \
	  export TEST_REDIS_URL=redis://127.0.0.1:6379/15; fi; \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Benchmarks, on their own database beside the development one (minutes, not seconds).
## Each reports beside its goal; all run, and the status is non-zero if any missed.
BENCH_ENV := HUB_DB_NAME=returns_hub_bench
BENCH_RETURNS ?= 1000000
BENCHMARKS := khaos_page ingest memory soak credit_notes reconciliation screens backlog
# Each benchmark appends its figures here; `python -m benchmarks.report` renders
# docs/benchmarks.md from them at the end of the run.
BENCH_RESULTS ?= .data/bench/results.jsonl
bench: install loadgen
	rm -f $(BENCH_RESULTS)
	$(BENCH_ENV) $(BIN)/python manage.py migrate -v0
	$(BENCH_ENV) $(BIN)/python manage.py load_demo >/dev/null
	$(BENCH_ENV) $(BIN)/python manage.py generate_returns --until $(BENCH_RETURNS) --batch 5000
	@status=0; for bench in $(BENCHMARKS); do \
	  echo "== benchmarks.$$bench"; \
	  $(BENCH_ENV) BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m benchmarks.$$bench || status=1; \
	done; \
	$(BENCH_ENV) BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m benchmarks.report \
	  --command "make bench" --expected "$(BENCHMARKS)" || status=1; \
	exit $$status

## The soak with faults: SOAK_RETURNS returns through the five platform simulators and the
## strict Khaos simulator over real HTTP, on an embedded PostgreSQL of its own (.data/soak),
## with errors, timeouts, duplicates, an outage, a killed worker and a database restart.
SOAK_RETURNS ?= 10000
soak: install
	$(BIN)/python -m soak --returns $(SOAK_RETURNS) --json .data/soak/summary.json

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Production settings must pass Django's deployment checklist.
check-deploy: install
	DJANGO_SETTINGS_MODULE=config.settings.production \
	SECRET_KEY=$${SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))')} \
	ALLOWED_HOSTS=$${ALLOWED_HOSTS:-returns.example.com} \
	DATABASE_URL=$${DATABASE_URL:-$$($(BIN)/python -c 'from config.embedded_postgres import database_url; print(database_url())')} \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

## Debian's chromium for the browser tests (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

## Debian's wrk, the compiled load generator of benchmarks.ingest (never a downloaded one).
loadgen:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk for the ingest benchmark"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

db-status: install
	$(BIN)/python -m config.embedded_postgres status

db-stop: install
	$(BIN)/python -m config.embedded_postgres stop

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
