# Two commands do everything on a fresh machine:
#   make serve   - install what the service needs and serve the API (gunicorn, built-in models)
#   make test    - install what the tests need (incl. Chromium and PostgreSQL) and run lint and the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIND ?= 127.0.0.1:8000

.PHONY: serve test deps deps-dev browser postgres lint

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.deps: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.deps-dev: requirements-dev.txt $(VENV)/.deps
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps bigml==9.8.3
	touch $@

deps: $(VENV)/.deps
deps-dev: $(VENV)/.deps-dev

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

# The storage tests start a throwaway PostgreSQL server of their own: they need its binaries, not a running service.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null)

serve: deps
	$(PY) -m gunicorn -c gunicorn.conf.py wsgi:app --bind $(BIND)

lint: deps-dev
	$(VENV)/bin/ruff check .

test: deps-dev browser postgres lint
	$(PY) -m pytest -q --durations=15
