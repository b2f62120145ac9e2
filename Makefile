# The README's commands: `make demo` runs the example outreach DAG end to end on loopback;
# `make test` installs what it needs and runs lint, types, docs and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed

export AIRFLOW_HOME := $(CURDIR)/airflow-home
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/tests/dags
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL := 5
# The machine sets PYTHONDONTWRITEBYTECODE; without cached bytecode every Airflow process
# compiles Airflow from source (seconds per process), so tests and the demo turn it off.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install airflow-db browser postgres lint test test-fast e2e demo bench docs clean mutation

install: $(STAMP)

# uv resolves and installs Airflow and its providers in seconds; pip alone takes minutes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[test]'
	touch $@

# A migrated SQLite metadata DB inside the repository (ignored by git).
airflow-db: $(AIRFLOW_HOME)/.migrated

$(AIRFLOW_HOME)/.migrated: $(STAMP)
	mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/migrate.log 2>&1 || (tail -50 $(AIRFLOW_HOME)/migrate.log; exit 1)
	touch $@

# Headless Chromium and its matching driver for the browser test (tests/browser), from Debian's packages.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# PostgreSQL for the warehouse tests (tests/warehouse start their own server with initdb on a free
# loopback port and stop it at the end): Debian's server package, installed when initdb is missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir $(CURDIR)/airflow-home/site

# Two workers on CI's two cores; each worker has its own copy of the metadata DB (tests/conftest.py).
PYTEST_WORKERS ?= 2
test: postgres
test: lint docs airflow-db browser
	$(BIN)/pytest -p no:cacheprovider -ra -n $(PYTEST_WORKERS) --durations=15

e2e: airflow-db browser
	$(BIN)/pytest -p no:cacheprovider -ra -m e2e

demo: airflow-db
	$(BIN)/python demo/run_demo.py

bench: airflow-db
	$(BIN)/python bench/run.py
	$(BIN)/python bench/quota_bench.py
	$(BIN)/python bench/upsert_quota_bench.py

# Mutation testing, not part of `make test` (it takes tens of minutes): mutmut mutates the core and
# the hooks ([tool.mutmut] in pyproject.toml) and runs the fast tests against each mutant. Results
# are cached in mutants/, so a rerun only tests what changed. Narrow a run with MUTANTS, e.g.
# make mutation MUTANTS='airflow_provider_apollo.core.retries*'. See docs/mutation-testing.md.
MUTANTS ?=
MUTATION_JOBS ?= 2
mutation: airflow-db
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) $(AIRFLOW_HOME) site .pytest_cache .mypy_cache .ruff_cache
