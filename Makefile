# Irbis: the two commands.
#   make run   set up everything that is missing, migrate, load the demo, serve on 127.0.0.1:8000
#   make test  the same set-up, then the whole test suite
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
IRBIS := $(VENV)/bin/irbis
HOST ?= 127.0.0.1
PORT ?= 8000
export IRBIS_DATABASE_URL ?= postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis
export IRBIS_DATABASE_READER_URL ?= postgresql+psycopg://irbis_reader:irbis_reader@127.0.0.1:5432/irbis
export IRBIS_TEST_DATABASE_URL ?= postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis_test
export IRBIS_TEST_DATABASE_READER_URL ?= postgresql+psycopg://irbis_reader:irbis_reader@127.0.0.1:5432/irbis_test

.PHONY: run test setup system venv assets databases db demo lint lock bench i18n

run: setup db demo
	$(IRBIS) serve --host $(HOST) --port $(PORT)

# The tests migrate and reset their own databases (irbis_test, irbis_test_migrations).
# The 25 slowest tests (set-up and call) are listed at the end, to keep the suite's time in view.
test: setup
	bash scripts/test.sh --durations=25

setup: system venv assets databases

system:
	bash scripts/system.sh

venv:
	bash scripts/venv.sh $(VENV)

assets:
	bash scripts/assets.sh

databases:
	bash scripts/database.sh

db: databases
	$(IRBIS) db upgrade

demo:
	$(IRBIS) load demo

# The gates CI runs before the tests (and pre-commit runs locally): ruff lint and format, mypy.
lint: venv
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy && $(VENV)/bin/vulture

# Recompile requirements-*.txt from pyproject.toml, keeping the pins already there
# (`bash scripts/lock.sh --upgrade` to move them).
lock:
	bash scripts/lock.sh

bench:
	bash bench/run.sh

# Translations: extract the visible text (templates and Python) into locale/messages.pot,
# merge it into the ru, kk and en catalogs, and compile them (Irbis also reads the .po files
# directly, so a fresh clone needs no compiled catalogs). Then translate the new empty
# msgstr in locale/{ru,kk}/LC_MESSAGES/messages.po.
i18n: venv
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k en -k N_ --add-location=file \
		--sort-by-file --omit-header -o locale/messages.pot .
	for l in ru kk en; do \
		if [ -f locale/$$l/LC_MESSAGES/messages.po ]; then \
			$(VENV)/bin/pybabel update -i locale/messages.pot -d locale -l $$l --no-fuzzy-matching; \
		else $(VENV)/bin/pybabel init -i locale/messages.pot -d locale -l $$l; fi; \
	done
	$(VENV)/bin/pybabel compile -d locale --statistics
