# The README's commands. Each target creates what it needs on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVICES_ENV := .services/env.sh

.PHONY: demo test bench lint rules services services-stop browser prometheus compose clean

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

## prometheus: Debian's prometheus (promtool for the alert rules, the server for one test)
prometheus:
	@scripts/services.sh prometheus

## compose: the Docker Compose v2 client, to check docker/compose.yaml (no engine needed)
compose:
	@scripts/services.sh compose

## rules: check and unit-test the alert rules with Prometheus' own promtool
rules: prometheus
	promtool check config ops/prometheus/prometheus.yml
	promtool check rules ops/prometheus/rules.yml
	promtool test rules ops/prometheus/rules_test.yml

## test: lint, types, the alert rules and the whole suite against the real services and a real
## browser (started here)
test: $(STAMP) services browser compose rules
	@source $(SERVICES_ENV) && $(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/pytest

## bench: every benchmark in one run; figures in bench/results/latest.json
bench: $(STAMP) services
	@source $(SERVICES_ENV) && $(BIN)/python -m bench.run

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

clean: services-stop
	rm -rf $(VENV) .services
