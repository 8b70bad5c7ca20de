# The README's commands. Each target creates what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVICES_ENV := .services/env.sh

.PHONY: demo test bench lint services services-stop browser clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (propstream needs Python 3.11; bytewax 0.21.1 has no wheels past 3.12)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

## demo: the main job on the embedded default (shipped data, no broker)
demo: $(STAMP)
	$(BIN)/propstream demo

## services: start Kafka (KRaft) and PostgreSQL on loopback; a second call is a no-op
services:
	@scripts/services.sh start

## services-stop: stop what `make services` started
services-stop:
	@scripts/services.sh stop

## browser: Debian's chromium for the dashboard's browser tests (installed when missing)
browser:
	@scripts/services.sh browser

## test: the whole suite against the real services and a real browser (started here)
test: $(STAMP) services browser
	@source $(SERVICES_ENV) && $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/pytest

## bench: every benchmark in one run; figures in bench/results/latest.json
bench: $(STAMP) services
	@source $(SERVICES_ENV) && $(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean: services-stop
	rm -rf $(VENV) .services
