# trialbayes: every target sets up .venv from requirements.lock on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
UV_VERSION := 0.13.9
STAMP   := $(VENV)/.installed
DATA    ?=
OUT     ?=
PAPER   ?= a4
export PYTHONHASHSEED := 0
# nutpie, Dask and pytest-xdist parallelise themselves; idle BLAS/OpenMP pools only busy-wait
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export PYTENSOR_FLAGS ?= compiledir=$(CURDIR)/.cache/pytensor

DATA_ARG := $(if $(DATA),--data "$(DATA)",)
OUT_ARG  := $(if $(OUT),--out "$(OUT)",)

.PHONY: help env bytecode report smoke test test-fast lint lab simulate clean lock bench hooks test-notebooks

help: ## show this help (colours only on a terminal)
	@if [ -t 1 ]; then c='\033[36m'; r='\033[0m'; else c=''; r=''; fi; \
	awk -v c="$$c" -v r="$$r" 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %s%-10s%s %s\n", c, $$1, r, $$2}' $(MAKEFILE_LIST)

$(STAMP): requirements.lock pyproject.toml
	@echo "==> setting up $(VENV) from requirements.lock"
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@$(VENV)/bin/uv pip install --quiet --python $(PY) --compile-bytecode -r requirements.lock
	@$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	@$(PY) -m ipykernel install --sys-prefix --name trialbayes --display-name "Python (trialbayes)" >/dev/null
	@touch $@

env: $(STAMP) ## create or update the project environment (.venv) from the lock

# Python may run with PYTHONDONTWRITEBYTECODE set (as on CI and here): every process would then
# compile the project's own modules from source again (0.4 s of a cold fit; the installed
# packages are compiled by uv). compileall writes their bytecode, again only for changed files;
# a source tree it cannot write to only loses the saving (a syntax error is reported by the run).
bytecode: $(STAMP)
	@$(PY) -m compileall -q src >/dev/null 2>&1 || true

report: bytecode ## full-profile report into reports/ (DATA=file.csv for your own data, PAPER=letter)
	$(PY) -m analysis report --profile full --paper $(PAPER) $(DATA_ARG) $(OUT_ARG)

smoke: bytecode ## fast end-to-end run with the smoke profile into reports/_smoke/
	$(PY) -m analysis report --profile smoke $(DATA_ARG) --out reports/_smoke

NBVAL := cd notebooks && ../$(PY) -m pytest -q --nbval-lax --nbval-current-env \
	--nbval-sanitize-with ../tests/nbval_sanitize.cfg -p no:cacheprovider .

# pytest-xdist workers of the library tests
TEST_WORKERS ?= 2

# The notebooks (one kernel) run beside the library tests (two workers); their log is printed
# when both are done. They start first: their data notebook needs no native density, and runs
# while it compiles (or loads) once for the library tests' workers.
# The tests build thousands of PyTensor graphs: PyTensor's record of where each node was
# created (a walk up the Python stack per node, 15% of building them) is off for them. An error
# still names its node; add traceback__limit=8 to PYTENSOR_FLAGS to see where it was made.
test test-fast test-notebooks: export PYTENSOR_FLAGS := $(PYTENSOR_FLAGS),traceback__limit=0
test: bytecode ## library tests (pytest) and notebook tests (nbval) at smoke defaults
	@mkdir -p .cache
	@( $(NBVAL) > ../.cache/nbval.log 2>&1; echo $$? > ../.cache/nbval.rc ) & \
	$(PY) -c "from analysis.trialmodel import native" && \
	$(PY) -m pytest -q -p no:nbval -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--durations=25 tests; rc=$$?; wait; \
	echo "==> notebooks (nbval)"; cat .cache/nbval.log; \
	exit $$(( rc || $$(cat .cache/nbval.rc) ))

test-notebooks: bytecode ## nbval on the notebooks only
	$(NBVAL)

test-fast: bytecode ## library tests without the slow ones (full model fits, whole reports), no nbval
	$(PY) -m pytest -q -p no:nbval -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		-m "not slow" tests

bench: bytecode ## benchmark: naive vs project model, scale sweep, make report cold/warm (reports/bench/)
	$(PY) -m analysis bench

hooks: $(STAMP) ## install the git pre-commit hooks (nbstripout, ruff, no raw data)
	$(VENV)/bin/pre-commit install

lint: $(STAMP) ## ruff on the package, tests and notebooks
	$(VENV)/bin/ruff check src tests notebooks
	$(VENV)/bin/ruff format --check src tests

LAB_FLAGS := $(if $(filter 0,$(shell id -u)),--allow-root,) $(if $(DISPLAY),,--no-browser)

lab: bytecode ## JupyterLab on the project kernel (as root and headless too: prints the URL)
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --LabApp.default_url=/lab/tree/06-explore.ipynb $(LAB_FLAGS)

simulate: bytecode ## regenerate the embedded simulated data from data/scenarios/
	$(PY) -m analysis simulate

lock: ## re-resolve requirements.lock from pyproject.toml (needs network)
	$(PYTHON3) -m pip install --quiet uv==$(UV_VERSION)
	$(PYTHON3) -m uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	  --python-platform x86_64-unknown-linux-gnu --no-header -o requirements.lock
	@sed -i '1i # Pinned lock of every package `make` installs (python 3.11, linux x86_64).\n# Regenerate with: make lock' requirements.lock

clean: ## remove the environment, caches and generated reports (keeps data)
	rm -rf $(VENV) .cache .pytest_cache reports/_smoke reports/.build-* 
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
