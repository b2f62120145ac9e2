# The README's commands: `make demo` runs the example outreach DAG end to end on loopback;
# `make test` installs what it needs and runs lint, types, docs and the whole suite, on the newest
# releases and again at the declared floors, then builds and checks the release (`make dist`).
# The newest Python supported runs the whole suite with the newest releases (from pyenv when there
# is one, else python3); the floor environment below runs the oldest.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)
PYTHON ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.13.*/bin/python))),python3)
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed
# The oldest Python the package supports (requires-python): the floor environment and the release
# check run on it. From pyenv when there is one, else python3.10 on the PATH.
FLOOR_PYTHON ?= $(or $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/3.10.*/bin/python))),python3.10)

export AIRFLOW_HOME := $(CURDIR)/airflow-home
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/tests/dags
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL := 5
# The machine sets PYTHONDONTWRITEBYTECODE; without cached bytecode every Airflow process
# compiles Airflow from source (seconds per process), so tests and the demo turn it off.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install airflow-db browser postgres redis lint test test-floor e2e demo bench docs dist clean mutation

install: $(STAMP)

# uv resolves and installs Airflow and its providers in seconds; pip alone takes minutes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[test,dev,docs]'
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

# PostgreSQL for the warehouse tests (the warehouse tests in tests/transfers start their own server with initdb on a free
# loopback port and stop it at the end): Debian's server package, installed when initdb is missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

# Redis for the CeleryExecutor e2e test (tests/e2e/test_quota_celery.py starts its own server on a
# free loopback port, without persistence, and stops it at the end): Debian's server package,
# installed when redis-server is missing.
redis:
	@command -v redis-server >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Without --quiet: mkdocs 1.6 counts the warnings --strict fails on only when it prints them.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --site-dir $(CURDIR)/airflow-home/site

# Two workers on CI's two cores; each worker has its own copy of the metadata DB (tests/conftest.py).
PYTEST_WORKERS ?= 2
test: postgres redis
test: lint docs airflow-db browser test-floor dist
	$(BIN)/pytest -p no:cacheprovider -ra -n $(PYTEST_WORKERS) --durations=15

# The floor environment: the oldest Python supported, and every dependency users install (the
# runtime ones and the extras') at exactly its declared floor: `uv --resolution lowest-direct` with
# each floor passed as a direct requirement and pinned (.ci/floors.py). Every other package is
# taken as it was when the floor Airflow was released, as Airflow's constraints file for it pins
# them (today's FastAPI, Cadwyn and cryptography break Airflow 3.0; docs/support.md). The test tools
# then join, constrained to what is installed so no floor moves. Built from scratch whenever
# pyproject.toml changes; the package itself is installed editable, as in .venv.
FLOOR_VENV := .venv-floor
FLOOR_BIN := $(CURDIR)/$(FLOOR_VENV)/bin
FLOOR_STAMP := $(FLOOR_VENV)/.installed
FLOOR_HOME := $(AIRFLOW_HOME)/floor

$(FLOOR_STAMP): pyproject.toml .ci/floors.py | $(STAMP)
	rm -rf $(FLOOR_VENV)
	$(BIN)/uv venv -q --python $(FLOOR_PYTHON) $(FLOOR_VENV)
	$(BIN)/python .ci/floors.py requirements > $(FLOOR_VENV)/requirements.txt
	$(BIN)/python .ci/floors.py constraints > $(FLOOR_VENV)/constraints.txt
	$(BIN)/python .ci/floors.py uv-options > $(FLOOR_VENV)/uv-options.txt
	$(BIN)/uv pip install -q --compile-bytecode --python $(FLOOR_BIN)/python --resolution lowest-direct \
		$$(cat $(FLOOR_VENV)/uv-options.txt) -e . -r $(FLOOR_VENV)/requirements.txt -c $(FLOOR_VENV)/constraints.txt
	$(BIN)/uv pip freeze --python $(FLOOR_BIN)/python | grep -v -e '^-e ' -e '^airflow-provider-apollo' \
		> $(FLOOR_VENV)/installed.txt
	$(BIN)/uv pip install -q --compile-bytecode --python $(FLOOR_BIN)/python \
		$$(cat $(FLOOR_VENV)/uv-options.txt) -e '.[test]' -c $(FLOOR_VENV)/installed.txt
	touch $@

# Its own metadata DB, migrated by the floor Airflow (its schema is older than the newest one's).
$(FLOOR_HOME)/.migrated: $(FLOOR_STAMP)
	rm -rf $(FLOOR_HOME) && mkdir -p $(FLOOR_HOME)
	AIRFLOW_HOME=$(FLOOR_HOME) $(FLOOR_BIN)/airflow db migrate > $(FLOOR_HOME)/migrate.log 2>&1 || \
		(tail -50 $(FLOOR_HOME)/migrate.log; exit 1)
	touch $@

# Every test but the e2e ones, the browser's and the docs site's (those check the UI and the docs
# build, which need the newest releases and run in `make test`); a test needing a newer Airflow
# skips and says which (tests/airflow_versions.py), listed at the end by -ra.
test-floor: postgres $(FLOOR_HOME)/.migrated
	AIRFLOW_HOME=$(FLOOR_HOME) APOLLO_EXPECT_FLOORS=1 $(FLOOR_BIN)/pytest -p no:cacheprovider -ra \
		-n $(PYTEST_WORKERS) -m 'not e2e' --ignore=tests/browser --ignore=tests/docs

# The release: sdist and wheel (the wheel built from the sdist), `twine check --strict`, the files
# each must hold (.ci/check_dist.py), then the wheel alone, without extras, in a fresh venv on the
# oldest Python with the newest releases: no boto3 nor Amazon provider, one DAG run under dag.test()
# against the emulator, and the S3 export failing with the [amazon] extra's install command.
DIST := $(CURDIR)/dist
DIST_CHECK := $(CURDIR)/build/dist-check
dist: $(STAMP)
	rm -rf $(DIST) $(DIST_CHECK)
	$(BIN)/uv build -q --out-dir $(DIST) .
	$(BIN)/twine check --strict $(DIST)/*
	$(BIN)/python .ci/check_dist.py $(DIST)
	$(BIN)/uv venv -q --python $(FLOOR_PYTHON) $(DIST_CHECK)/venv
	$(BIN)/uv pip install -q --compile-bytecode --python $(DIST_CHECK)/venv/bin/python $(DIST)/*.whl
	mkdir -p $(DIST_CHECK)/home/dags
	cp tests/dags/apollo_chain.py $(DIST_CHECK)/home/dags/
	cd $(DIST_CHECK) && AIRFLOW_HOME=$(DIST_CHECK)/home $(DIST_CHECK)/venv/bin/airflow db migrate \
		> $(DIST_CHECK)/migrate.log 2>&1 || (tail -50 $(DIST_CHECK)/migrate.log; exit 1)
	cd $(DIST_CHECK) && AIRFLOW_HOME=$(DIST_CHECK)/home AIRFLOW__CORE__DAGS_FOLDER=$(DIST_CHECK)/home/dags \
		$(DIST_CHECK)/venv/bin/python $(CURDIR)/.ci/smoke_dist.py

e2e: airflow-db browser redis
	$(BIN)/pytest -p no:cacheprovider -ra -m e2e

demo: airflow-db
	$(BIN)/python demo/run_demo.py

bench: airflow-db
	$(BIN)/python bench/run.py
	$(BIN)/python bench/quota_bench.py
	$(BIN)/python bench/upsert_quota_bench.py
	$(BIN)/python bench/reply_check_bench.py

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
	rm -rf $(VENV) $(FLOOR_VENV) $(AIRFLOW_HOME) $(DIST) build site .pytest_cache .mypy_cache .ruff_cache
