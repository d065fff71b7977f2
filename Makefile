# pipewatch: `make run` serves the live demo; `make test` runs the whole suite.
# Both install what they need into .venv first (and `make test` the browser and database it
# tests against, when missing and run as root).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip

.PHONY: run serve test test-deps install install-dev bench bench-quick migrate seed collect clean help

help:
	@echo "make run        install, migrate, seed demo history if empty, serve http://127.0.0.1:8050"
	@echo "make test       install test dependencies (Chromium, PostgreSQL when root) and run all tests"
	@echo "make bench      run the benchmarks (figures in bench/README.md)"
	@echo "make serve      serve without the demo simulator"

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PIP) install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.dev-installed

run: install
	$(PY) app.py demo

serve: install
	$(PY) app.py serve

migrate: install
	$(PY) app.py migrate

seed: install
	$(PY) app.py seed --if-empty

collect: install
	$(PY) app.py collect

test-deps:
	bash .ci/test-deps.sh

test: install-dev test-deps
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install-dev test-deps
	$(PY) bench/run_all.py

bench-quick: install-dev test-deps
	$(PY) bench/run_all.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts pipewatch.db pipewatch.db-wal pipewatch.db-shm
