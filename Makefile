# UnifiedMCP billing operations. `make` alone lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist workers; the suite is sized for 2 cores.
WORKERS ?= 2
MONTH ?=

.DEFAULT_GOAL := help
.PHONY: help report test lab bench clean system-deps venv

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# The venv is (re)built on first use and whenever pyproject.toml changes. Each phase prints a line
# when it starts and how long it took: the install is quiet, and a first one takes a few minutes.
$(STAMP): pyproject.toml
	@set -e; t=$$SECONDS; \
	echo "venv 1/4: creating $(VENV) with $(PYTHON)"; test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); \
	echo "venv 2/4: upgrading pip"; $(BIN)/python -m pip install --quiet --upgrade pip; \
	echo "venv 3/4: installing the project and its dev extra (first time: about 2 minutes)"; \
	p=$$SECONDS; $(BIN)/python -m pip install --quiet -e '.[dev]'; echo "          done in $$((SECONDS - p)) s"; \
	echo "venv 4/4: registering the Jupyter kernel 'unifiedmcp'"; \
	$(BIN)/python -m ipykernel install --sys-prefix --name unifiedmcp --display-name "UnifiedMCP (.venv)" >/dev/null; \
	touch $(STAMP); echo "venv ready in $$((SECONDS - t)) s"

venv: $(STAMP) ## Build the local environment (.venv) without running anything

system-deps: ## Install the Debian packages the tests need (Chromium, PostgreSQL, Prometheus, Node.js)
	@scripts/system-deps.sh

report: $(STAMP) ## Build the demo data if missing and publish the latest complete month's reports
	$(BIN)/unifiedmcp report --latest $(if $(MONTH),--month $(MONTH),)

# pytest exits 5 when it collected no tests: that is a failure, not a pass.
test: $(STAMP) system-deps ## Run the whole test suite
	@UNIFIEDMCP_REQUIRE_NODE=1 $(BIN)/python -m pytest -n $(WORKERS) --dist loadgroup $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# Jupyter refuses to run as root unless told; these machines run as root.
lab: $(STAMP) ## Open JupyterLab on notebooks/ with the project's kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 $(if $(filter 0,$(shell id -u)),--allow-root,)

bench: $(STAMP) ## Run every benchmark in benchmarks/ and print its figures
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean: ## Remove the venv, generated data, reports and caches
	rm -rf $(VENV) reports .pytest_cache .hypothesis build src/*.egg-info
	rm -f data/*.sqlite3* data/*.duckdb* data/*.wal
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
