# altakit — the two set-up commands are `make run` and `make test` (see README.md).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LABEXT := $(VENV)/share/jupyter/labextensions/altakit/.built
SERVEREXT := $(VENV)/etc/jupyter/jupyter_server_config.d/altakit_widgets.json
SCHEDCONF := $(VENV)/etc/jupyter/jupyter_jupyter_scheduler_config.json
CONSTRAINTS := requirements/constraints.txt
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test env system lint pytest lab bench lock pins clean

## run: create the environment when missing, execute the curated notebook workflow headless
run: env
	$(VENV)/bin/altakit workflow

## test: create the environment when missing, install Chromium/PostgreSQL when missing, run everything
test: env system lint pytest

env: $(STAMP) $(LABEXT) $(SERVEREXT) $(SCHEDCONF)

$(STAMP): $(CONSTRAINTS) pyproject.toml widgets/pyproject.toml
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	SKIP_JUPYTER_BUILDER=1 $(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[all,dev]' -e './widgets[hub]'
	@touch $@

# The server extension (REST API): an editable install skips widgets/jupyter-config, so enable it in the
# venv's own config (idempotent; --sys-prefix writes $(SERVEREXT)), with Jupyter Scheduler's.
$(SERVEREXT): $(STAMP)
	$(VENV)/bin/jupyter server extension enable --sys-prefix altakit_widgets
	$(VENV)/bin/jupyter server extension enable --sys-prefix jupyter_scheduler
	@touch $@

# Jupyter Scheduler runs jobs through altakit (altakit_widgets.jobs): its config file, which the wheel
# installs as data and an editable install skips (Jupyter reads jupyter_server_config.d for enabling
# extensions only, so the scheduler's classes are set in its own extension config file).
$(SCHEDCONF): $(STAMP) widgets/jupyter-config/jupyter_jupyter_scheduler_config.json
	@mkdir -p $(@D) && cp -f widgets/jupyter-config/jupyter_jupyter_scheduler_config.json $@

# The JupyterLab extension (widgets/src, TypeScript): built with the committed yarn.lock from the npm
# registry, then copied into the venv (package.json, static/, install.json): copies, not links, since
# Voila serves labextensions only from inside its static folders.
$(LABEXT): $(STAMP) widgets/package.json widgets/yarn.lock widgets/tsconfig.json $(wildcard widgets/src/*.ts widgets/src/*.tsx widgets/style/*)
	cd widgets && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable
	cd widgets && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build:prod
	@mkdir -p $(@D) && cp -f widgets/install.json $(@D)/install.json
	@rm -rf $(@D)/package.json $(@D)/static && cp -r widgets/altakit_widgets/labextension/package.json widgets/altakit_widgets/labextension/static $(@D)/
	@touch $@

## system: Debian packages the tests drive for real (Chromium for Playwright, PostgreSQL, Java)
system:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v java >/dev/null || missing="$$missing openjdk-17-jre-headless"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: env
	$(VENV)/bin/ruff check altakit widgets tests bench tools
	$(VENV)/bin/ruff format --check altakit widgets tests bench tools
	$(VENV)/bin/mypy altakit widgets/altakit_widgets
	$(PY) tools/pins.py check
	cd widgets && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm lint:check
	cd widgets && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm test

pytest: env
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## lab: open JupyterLab on the same environment (shipped dashboards trusted; idle kernels culled after 1 h)
lab: env
	$(VENV)/bin/jupyter trust notebooks/dashboards/*.ipynb >/dev/null
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	  --MappingKernelManager.cull_idle_timeout=3600 --MappingKernelManager.cull_interval=300 \
	  --MappingKernelManager.cull_connected=False

## bench: run every benchmark; results land in bench/results/
bench: env
	$(PY) -m pip install -q -c $(CONSTRAINTS) -e '.[bench]'
	@[ -x build/mds-venv/bin/python ] || { $(PYTHON) -m venv build/mds-venv && \
	  build/mds-venv/bin/pip install -q -r requirements/bench-mds.txt; }
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b $(BENCH_ARGS); done

## lock: re-resolve the stack into a fresh venv and rewrite the pins (needs network to PyPI)
lock:
	rm -rf /tmp/altakit-lock && $(PYTHON) -m venv /tmp/altakit-lock
	/tmp/altakit-lock/bin/pip install -q torch==2.13.0 -e '.[all,dev]' -e './widgets[hub]'
	/tmp/altakit-lock/bin/pip freeze | grep -v '^-e' | sed 's/+cpu$$//' | sort -f > $(CONSTRAINTS).new
	@echo "review $(CONSTRAINTS).new, move it over $(CONSTRAINTS), then: make pins"

## pins: rewrite pyproject ranges, environment.yml and binder/ from the pins
pins:
	$(PY) tools/pins.py write

clean:
	rm -rf build .pytest_cache .ruff_cache .mypy_cache
