# The two commands a newcomer needs: `make run` and `make test`. Both set everything up.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
PYTHON_312 := $(shell command -v python3.12 2>/dev/null || pyenv which python3.12 2>/dev/null)
STAMP := $(VENV)/.installed

.PHONY: help install test lint run bench clean

help:
	@echo "make run    start the whole system locally (web, queues, workers, schedules)"
	@echo "make test   run the test suite and the linters"
	@echo "make bench  run the benchmarks and write BENCHMARKS.md"

$(BIN)/python:
	@test -n "$(PYTHON_312)" || { echo "Python 3.12 is required (pyenv install 3.12)"; exit 1; }
	$(PYTHON_312) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pytest

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py runserver 127.0.0.1:8000

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
