# SMART Portal — developer commands. `make help` lists them.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
# The dev server and the demo data need DEBUG; production never sets it.
RUN_ENV := DEBUG=1

.DEFAULT_GOAL := help
.PHONY: help run test test-fast lint fmt ci migrations-check messages css bench backup restore clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

run: $(VENV)/.installed  ## set up, migrate the embedded database, load demo data, serve on 127.0.0.1:8000
	mkdir -p var
	$(RUN_ENV) $(MANAGE) migrate --no-input
	$(RUN_ENV) $(MANAGE) seed_demo
	$(RUN_ENV) $(MANAGE) runserver 127.0.0.1:8000

# --reuse-db: the first run migrates the test database from scratch and keeps a copy of it in
# var/test-databases/ (named by a hash of the migrations); later runs start from that copy until a
# migration changes (see tests/conftest.py). `--create-db` forces migrating from scratch.
test: $(VENV)/.installed  ## set up and run the whole test suite (embedded SQLite, in-process tasks, browser tests)
	$(BIN)/python -m pytest -n auto --reuse-db

test-fast: $(VENV)/.installed  ## the suite without the browser journeys and the slow tests, for quick local loops
	$(BIN)/python -m pytest -n auto --reuse-db -m "not slow and not browser"

lint: $(VENV)/.installed  ## ruff lint and format check, mypy on the engine and the services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(RUN_ENV) $(BIN)/mypy

fmt: $(VENV)/.installed  ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrations-check: $(VENV)/.installed  ## fail if a model change has no migration
	$(RUN_ENV) $(MANAGE) makemigrations --check --dry-run

messages: $(VENV)/.installed  ## update the Bangla catalogue from the marked strings and compile it (needs gettext)
	DEBUG=1 $(BIN)/python manage.py makemessages -l bn --no-obsolete --ignore=.venv --ignore=var --ignore=staticfiles --ignore=node_modules
	DEBUG=1 $(BIN)/python manage.py compilemessages -l bn --ignore=.venv

# BENCH names the modules to run (default: all). BENCH_ENTERPRISES sets the dataset's size: 80,000 by
# default, 800,000 for ten times the programme (generated through COPY by `generate_scale`; the size in
# the database is regenerated when it differs). BENCH_DATABASE_URL picks the database (default
# smart_bench). Every figure is `name: value unit`, with its ratio to a floor where there is one, and the
# machine's load before and after each module. `make bench BENCH=pages` needs no PostgreSQL: it seeds
# the demo into a temporary SQLite file and serves it with production settings (benchmarks/pages.py).
# `make bench BENCH=bulk`: 10,000 KPI readings pushed through POST /api/v1/kpi-readings/bulk/ (created,
# then updated, then unchanged) next to the rate of single creates (benchmarks/bulk.py).
css: $(VENV)/.installed  ## rebuild the trimmed Bootstrap CSS from the classes the templates use (commit the result)
	$(RUN_ENV) $(MANAGE) trim_bootstrap

bench: $(VENV)/.installed  ## benchmarks (name: value unit): 80,000 enterprises on PostgreSQL, bulk API pushes (BENCH=bulk), and pages on a 400 kbit/s link (BENCH=pages: only those, no PostgreSQL)
	$(BIN)/python -m benchmarks $(BENCH)

# Backups of the database (DATABASE_URL, else the SQLite file) and MEDIA_ROOT; see README "Operations".
# DEBUG=1 only on a developer's machine, i.e. when no SECRET_KEY is set.
OPS_ENV := $(if $(SECRET_KEY),,DEBUG=1)

backup: $(VENV)/.installed  ## back up the database and uploads into var/backups/<UTC time>/ (KEEP=n: keep the n newest)
	$(OPS_ENV) $(MANAGE) backup $(if $(KEEP),--keep $(KEEP))

restore: $(VENV)/.installed  ## restore BACKUP (default: latest) into RESTORE_DATABASE_URL and RESTORE_MEDIA_ROOT, then verify (FORCE=1 replaces)
	$(OPS_ENV) $(MANAGE) restore $(or $(BACKUP),latest) \
		$(if $(RESTORE_DATABASE_URL),--database-url "$(RESTORE_DATABASE_URL)") \
		$(if $(RESTORE_MEDIA_ROOT),--media-root "$(RESTORE_MEDIA_ROOT)") \
		$(if $(FORCE),--force)

ci:  ## what CI runs (see .ci/run)
	.ci/run

clean:  ## remove the virtual environment, the embedded database and collected static files
	rm -rf $(VENV) var staticfiles
