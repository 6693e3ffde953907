# Växel: the developer's commands. `make help` lists them.
#
#   make run     embedded first look: SQLite, in-memory channel layer, demo data, http://127.0.0.1:8000/
#   make test    the test suite against PostgreSQL and Redis (override DATABASE_URL / REDIS_URL)
#   make ci      lint + test + migrations-check, what .ci/run does

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py

# `make run` serves here; pick another port if 8000 is taken: `make run PORT=8001`.
HOST ?= 127.0.0.1
PORT ?= 8000

# `make test` and `make bench` use a real PostgreSQL and Redis (as CI does).
DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/pbx
REDIS_URL ?= redis://127.0.0.1:6379/15
PYTEST_ARGS ?=

# `make run` runs web, event bridge and a simulated Asterisk with Demo AB's traffic in one process
# (manage.py run_embedded). `make run SIMULATE=` connects to the Asterisk ASTERISK_AMI_* name instead.
SIMULATE ?= --simulate

# The installed state is keyed on the requirements files' content: a changed pin reinstalls.
REQUIREMENTS := requirements.txt requirements-dev.txt
REQ_HASH := $(shell cat $(REQUIREMENTS) 2>/dev/null | sha256sum | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)

# The embedded default: SQLite file db.sqlite3, in-memory channel layer and cache, whatever
# DATABASE_URL/REDIS_URL the shell has.
EMBEDDED := PBX_EMBEDDED=1 DEBUG=1 DATABASE_URL= REDIS_URL=
# For management commands that need settings but no database (messages, migration check).
NO_DB := PBX_EMBEDDED=1 DATABASE_URL=sqlite://:memory: REDIS_URL=
# Directories that hold no project strings (hidden ones such as .venv are skipped by default).
I18N_IGNORE := --ignore=var --ignore=staticfiles --ignore=node_modules --ignore=tests --ignore=bench --ignore=scripts

.PHONY: help install system-deps compilemessages run test test-browser lint migrations-check messages bench ci clean

help:
	@echo "make install           create $(VENV) ($(PYTHON)), install requirements-dev.txt, gettext/ffmpeg, compile translations"
	@echo "make run               embedded first look on http://$(HOST):$(PORT)/ (SQLite, in-memory layer, demo data, simulated Asterisk)"
	@echo "make test              pytest against DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL)"
	@echo "make test-browser      the browser-marked tests (headless Chromium), run apart"
	@echo "make lint              ruff check ."
	@echo "make migrations-check  fail if a model change has no migration"
	@echo "make messages          update locale/sv/LC_MESSAGES/django.po and compile it"
	@echo "make bench             run bench/bench_*.py, merge figures into bench-results.json"
	@echo "make ci                lint + test + migrations-check"

install: $(STAMP) system-deps compilemessages

$(STAMP): $(REQUIREMENTS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

system-deps:
	@bash scripts/system-deps.sh

# Django skips a catalogue whose .mo is newer than its .po, so this is quick when nothing changed.
compilemessages: $(STAMP) system-deps
	@$(NO_DB) $(MANAGE) compilemessages --verbosity 0 --ignore='.*' $(I18N_IGNORE)

run: install
	$(EMBEDDED) $(MANAGE) migrate --noinput --verbosity 0
	$(EMBEDDED) $(MANAGE) seed_demo
	@echo "Open http://$(HOST):$(PORT)/ and log in as admin@demo.example with the password above."
	$(EMBEDDED) exec $(MANAGE) run_embedded $(SIMULATE) $(HOST):$(PORT)

# migrations-check first: a missing migration fails fast, before the suite runs.
test: install migrations-check
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

# pytest exits 5 when it selects no test: no browser tests exist yet is not a failure.
# Playwright drives Debian's Chromium (/usr/bin/chromium, no browser download): installed here when
# missing and running as root, otherwise named. The tests serve the product themselves (tests/browser).
test-browser: install
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing chromium"; apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
		else echo "Install Chromium first, e.g. sudo apt-get install -y chromium" >&2; exit 1; fi; }
	DATABASE_URL=$(DATABASE_URL) REDIS_URL=$(REDIS_URL) $(BIN)/pytest -m browser $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

migrations-check: $(STAMP)
	$(NO_DB) $(MANAGE) makemigrations --check --dry-run

messages: $(STAMP) system-deps
	$(NO_DB) $(MANAGE) makemessages --locale sv --no-obsolete --add-location file $(I18N_IGNORE)
	$(NO_DB) $(MANAGE) compilemessages --ignore='.*' $(I18N_IGNORE)

bench: install
	DATABASE_URL=$(DATABASE_URL) REDIS_URL= PBX_EMBEDDED=1 $(BIN)/python -m bench

ci: lint test migrations-check

clean:
	rm -rf staticfiles .pytest_cache .ruff_cache test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
