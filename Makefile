# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON_312 := $(shell command -v python3.12 2>/dev/null || pyenv which python3.12 2>/dev/null)
STAMP := $(VENV)/.installed

.PHONY: help install test lint run fire bench chaos clean lock

help:
	@echo "make run    start the whole system locally (web, queues, workers, schedules)"
	@echo "make test   run the test suite and the linters"
	@echo "make bench  run the benchmarks and write BENCHMARKS.md"
	@echo "make chaos  run the chaos test big (3 seeds x 3,000 tasks), write its BENCHMARKS.md section"

# Quiet pip, but say what is happening: the first install takes a minute or two.
$(BIN)/python:
	@test -n "$(PYTHON_312)" || { echo "Python 3.12 is required (pyenv install 3.12)"; exit 1; }
	@echo "Creating $(VENV) with $(PYTHON_312)"
	@$(PYTHON_312) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip

# requirements-dev.txt locks everything the virtualenv holds, requirements.txt's runtime
# closure included, each with its hashes: pip refuses a file that does not match.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	@echo "Installing requirements-dev.txt into $(VENV) (a minute or two the first time; quick after)"
	@$(BIN)/pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $@
	@echo "Installed."

# checkov (tests/infra/test_checkov.py) in a virtualenv of its own: it pins boto3 exactly,
# to a version the project's cannot share.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): $(BIN)/python requirements-checkov.txt
	@echo "Installing checkov into $(CHECKOV_VENV)"
	@$(PYTHON_312) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	@touch $@

install: $(STAMP) $(CHECKOV_STAMP)

# The lock files, compiled from what people edit: requirements.in (what runs on Lambda) and
# requirements-dev.in (tests and tools, requirements.in included). The runtime lock takes the
# dev lock's versions, so tests run what ships. pip-tools has a virtualenv of its own, so
# it never lands in the web package. `make lock` keeps every pin it can; to move one:
# make lock UPGRADE="--upgrade-package django"
PIP_TOOLS := $(VENV)/pip-tools
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(PIP_TOOLS)/bin/pip-compile --quiet \
	--generate-hashes --allow-unsafe --strip-extras --no-emit-find-links --no-emit-index-url

$(PIP_TOOLS)/bin/pip-compile: | $(BIN)/python
	$(PYTHON_312) -m venv $(PIP_TOOLS)
	$(PIP_TOOLS)/bin/pip install --quiet pip-tools==7.6.2

lock: $(PIP_TOOLS)/bin/pip-compile
	$(PIP_COMPILE) $(UPGRADE) --output-file requirements-dev.txt requirements-dev.in
	$(PIP_COMPILE) $(UPGRADE) --constraint requirements-dev.txt --output-file requirements.txt requirements.in

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The whole suite on SQLite; then, when a PostgreSQL server is available (TEST_POSTGRES_URL,
# or the project's own server: `.ci/postgres start`, as CI does), the tests of the app's
# database code that touch the database (--database-only: pytest-django's database
# fixtures) again on PostgreSQL, but for the volume tests (many tasks; the database sees
# nothing there that smaller tests do not show it). The rest (infra, local system,
# templates, the tests here that never open a connection) does not depend on the engine,
# and leaving it out keeps the two passes well under ten minutes.
PG_TESTS := tests/core tests/ops tests/web tests/maintenance tests/periodic tests/database
# One worker per core (pytest-xdist); tests that share the local system, the web packages
# or a module's deployed stack run on one worker in turn (tests/conftest.py).
PYTEST := $(BIN)/pytest -n auto --dist loadgroup

test:
	@$(MAKE) --no-print-directory -j2 $(STAMP) $(CHECKOV_STAMP)  # two virtualenvs at once
	@$(MAKE) --no-print-directory lint
	$(PYTEST)
	@url="$${TEST_POSTGRES_URL:-$$(.ci/postgres running)}"; \
	if [ -z "$$url" ]; then \
		echo "No PostgreSQL server (set TEST_POSTGRES_URL, or .ci/postgres start): SQLite only."; \
	else \
		echo "Again on PostgreSQL: $(PG_TESTS)"; \
		DATABASE_URL="$$url" $(PYTEST) --database-only -m "not volume" $(PG_TESTS); \
	fi

# The whole system on this machine (stack/local): AWS emulated by moto, template.yaml
# deployed into it, pollers and schedules driving the real handlers, the web app on :8000.
# It migrates the local database and prints the admin login (kept in var/local/) each start.
run: $(STAMP)
	@$(BIN)/python -m stack.local

# Fire a schedule of the running system now: make fire SCHEDULE=queue-health
fire: $(STAMP)
	$(BIN)/python -m stack.local fire $(SCHEDULE)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache

# The benchmarks (bench/, issue 8): cost per task beside Zappa and Celery, worker overhead,
# cold start, package sizes, throughput beside django-tasks-db. Writes BENCHMARKS.md.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/pip install --quiet -r requirements-bench.txt
	touch $@

bench: $(BENCH_STAMP) build/lambda.stamp web-package
	$(BIN)/python -m bench

# Only the workflow benchmark (issue 16), in-process: rewrites its own section of BENCHMARKS.md.
.PHONY: bench-workflows
bench-workflows: $(STAMP)
	$(BIN)/python -m bench --only workflows

# The chaos test big (issue 12; tests/chaos runs it small in the suite): 3 seeds x 3,000
# tasks under AWS's fault model. Records its section in bench/recorded/chaos.md (which
# make bench carries) and BENCHMARKS.md; fails if any task was lost, doubled, early, stuck,
# wrong or falsely dead-lettered. CHAOS_JOBS=3 runs the seeds at once, one process each.
CHAOS_JOBS ?= 1
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --jobs $(CHAOS_JOBS)

# ---------------------------------------------------------------- deployment (docs/deploy.md)
# The Lambda artifact every function in template.yaml runs: built once into build/lambda,
# then copied by each build-<LogicalId> target, which is what `sam build` runs for a
# function with `Metadata: BuildMethod: makefile` (samconfig.toml builds in source; SAM CLI
# 1.160 or later, which expands template.yaml's Fn::ForEach).
LAMBDA_DIR := build/lambda
LAMBDA_INPUTS := requirements.txt manage.py stack/artifact.py stack/bytecode.py \
	stack/allowlist.py stack/dependencies.py \
	$(shell find django_app sqs_tasks functions -type f -not -path '*/__pycache__/*' 2>/dev/null)
STAGE ?= dev

build/lambda.stamp: $(STAMP) $(LAMBDA_INPUTS)
	$(BIN)/python -m stack.artifact $(LAMBDA_DIR)
	touch $@

.PHONY: lambda-artifact build-SchedulerFunction
lambda-artifact: build/lambda.stamp

define copy-artifact
	test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is set by sam build"; exit 1; }
	cp -R $(LAMBDA_DIR)/. "$(ARTIFACTS_DIR)"
endef

# One worker per task queue (WorkerFunction<queue>, made by template.yaml's loop): a
# pattern, so a queue added to TaskQueues needs nothing here.
build-WorkerFunction%: build/lambda.stamp
	$(copy-artifact)

build-SchedulerFunction: build/lambda.stamp
	$(copy-artifact)

# AppName, chosen once (samconfig.toml) and written into every name both tools use:
#   make app-name APP=shop
# The web stage wired to its deployed stack's network and database (after `sam deploy`):
#   make stage-settings STAGE=dev
.PHONY: app-name stage-settings
app-name: $(STAMP)
	@test -n "$(APP)" || { echo "make app-name APP=<your app name>"; exit 2; }
	$(BIN)/python -m stack.stage_settings --app-name $(APP)

stage-settings: $(STAMP)
	$(BIN)/python -m stack.stage_settings --from-stack $(STAGE)

# The web stage's package, as `zappa deploy|update $(STAGE)` would upload it. Zappa packages
# the virtualenv VIRTUAL_ENV names (without it, pyenv's): always this project's.
.PHONY: web-package test-infra
web-package: $(STAMP)
	mkdir -p build
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/zappa package $(STAGE) --output build/web-$(STAGE).zip

test-infra: $(STAMP)
	$(BIN)/pytest tests/infra
