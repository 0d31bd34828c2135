#!/usr/bin/env bash
# Run by Snakemake (--sdm conda) inside the new environment, after it is built from engine-cpu.yaml:
# installs skyt1 itself from this checkout (rules/common.smk exports SKYT1_REPO). Dependencies come from
# the yaml, hence --no-deps. The same as `pip install --no-deps -e .` in `make install`.
set -euo pipefail
python -m pip install --no-deps -e "${SKYT1_REPO:?SKYT1_REPO is set by rules/common.smk}"
