# Two commands matter: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Exact versions of every dependency, so the venv, CI and the Docker image install the same ones.
LOCK := requirements.lock
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_VERSION := $(shell ls /etc/postgresql 2>/dev/null | sort -n | tail -1)

.PHONY: run test lint venv venv-test lock browser postgres bench screenshot clean loadtest plotly-basic

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "billing-dash needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e .
	@touch $@

$(VENV)/.test-installed: pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/pip install -q -c $(LOCK) -e '.[test]'
	@touch $@ $(VENV)/.run-installed

venv: $(VENV)/.run-installed
venv-test: $(VENV)/.test-installed

## make lock: pin requirements.lock to the newest versions pyproject.toml allows, resolved in a fresh venv
lock:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp" && \
	"$$tmp/bin/pip" install -q --upgrade pip && "$$tmp/bin/pip" install -q -e '.[test]' && \
	{ sed -n '/^#/p' $(LOCK); "$$tmp/bin/pip" freeze --all --exclude-editable | grep -v '^pip=='; } > $(LOCK).new && \
	mv $(LOCK).new $(LOCK) && echo "$(LOCK) updated; review and commit it"

## make run: migrate the embedded SQLite database, load demo data once, serve on HOST:PORT
## (e.g. make run PORT=9000; HOST=0.0.0.0 serves other machines too); the server evaluates and sends
## alerts every minute in a background thread (`serve --alerts-every 60`, its default)
HOST ?= 127.0.0.1
PORT ?= 8050
run: venv
	$(BIN)/billing-dash quickstart
	$(BIN)/billing-dash serve --host $(HOST) --port $(PORT)

## Debian's Chromium and its driver, for the browser tests
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver; \
	fi

## the local PostgreSQL server the integration tests use (started when it is down)
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { [ -n "$(PG_VERSION)" ] && \
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) main start && sleep 2; } || \
		echo "PostgreSQL is not running on 127.0.0.1:5432; its tests will be skipped (they fail under CI=true)"

## make lint: ruff (lint rules and formatting) on the whole checkout, mypy on billing_dash/ (pyproject.toml)
lint: venv-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy billing_dash

## make test: lint first, then unit, integration (SQLite and PostgreSQL) and browser tests
test: venv-test lint browser postgres
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## README's picture: serve the demo database on :8051 and photograph the dashboard
screenshot: venv-test browser
	$(BIN)/billing-dash quickstart
	@$(BIN)/billing-dash serve --port 8051 > /tmp/billing-dash-screenshot.log 2>&1 & pid=$$!; \
	for i in $$(seq 50); do curl -sf http://127.0.0.1:8051/healthz >/dev/null && break; sleep 0.2; done; \
	$(BIN)/python scripts/screenshot.py http://127.0.0.1:8051 docs/dashboard.png; status=$$?; kill $$pid; exit $$status

## make plotly-basic: vendor npm's plotly.js-basic-dist-min (scatter, bar and pie only) at the plotly.js
## version that the locked plotly ships, for the dashboard's graphs; run it after plotly changes in the lock
PLOTLY_VENDOR := billing_dash/assets/vendor
plotly-basic: venv
	@version=$$($(BIN)/python -c 'from plotly.offline import get_plotlyjs_version as v; print(v())') && \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	(cd "$$tmp" && npm pack --silent plotly.js-basic-dist-min@$$version >/dev/null && tar xzf ./*.tgz) && \
	mkdir -p $(PLOTLY_VENDOR) && cp "$$tmp/package/plotly-basic.min.js" $(PLOTLY_VENDOR)/ && \
	cp "$$tmp/package/LICENSE" $(PLOTLY_VENDOR)/plotly-basic.LICENSE && \
	echo "$(PLOTLY_VENDOR)/plotly-basic.min.js: plotly.js-basic-dist-min@$$version; review and commit it"

## make clean: the venv and caches; never instance/, which holds the user's database
clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

## make bench: generate BENCH_EVENTS events, import them, time the API under gunicorn and the baselines
## (e.g. make bench BENCH_EVENTS=10000000 BENCH_BACKEND=sqlite BENCH_ARGS="--requests 50 --skip-naive")
BENCH_EVENTS ?= 1000000
BENCH_BACKEND ?= postgresql
bench: venv-test postgres
	$(BIN)/python -m bench.run --events $(BENCH_EVENTS) --backend $(BENCH_BACKEND) --out bench/results/$(BENCH_BACKEND)-$(BENCH_EVENTS).json $(BENCH_ARGS)

## make loadtest: locust against gunicorn on PostgreSQL for 60 s (API reads, dashboard callbacks, ingestion),
## then check that no event was lost or counted twice (e.g. make loadtest LOADTEST_ARGS="--seconds 15 --users 10")
loadtest: venv-test postgres
	$(BIN)/python -m loadtest.run $(LOADTEST_ARGS)
