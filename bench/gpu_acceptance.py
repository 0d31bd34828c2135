"""GPU acceptance: the pipeline's own rules on one GPU, with random-weight Qwen2 stand-ins.

The 32B preset's DAG (config/sky-t1-32b.yaml) at fixture scale (config/smoke-32b.yaml) with the GPU's parts
put back (config/gpu-acceptance.yaml): the teacher and every evaluation through real `vllm serve` engines
behind the project's client, the student trained by LLaMA-Factory with DeepSpeed ZeRO-3 offload and the
qwen25 template, the trained checkpoint evaluated through vLLM, down to results/table_main.csv. Then it
prints what ran, with figures: engine loads and their seconds, tokens/s per stage, training loss and time,
the table. Started by bench/gpu_acceptance.sh (which installs the environments first):

    python bench/gpu_acceptance.py run [--workdir DIR] [--cores N]
    python bench/gpu_acceptance.py check      # no GPU needed: the config resolves and its DAG is complete

It exits 2 with one line when no GPU is visible, 1 if the run fails (naming the failing job's log)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
CONFIGS = [REPO / "config" / f for f in ("sky-t1-32b.yaml", "smoke-32b.yaml", "gpu-acceptance.yaml")]
# every rule of the 32B DAG must run; engine jobs are one per (stage, model)
RULES = {"prepare_model", "data_train", "data_bench", "decontaminate", "sample", "sample_merge", "rewrite", "reject",
         "mix", "train", "evaluate", "table_main"}


def fail(msg: str, code: int = 1) -> None:
    print(f"gpu_acceptance: {msg}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def workdir_for(path: Path) -> Path:
    """The run's folder: the fixture paths of the smoke config are relative to it, as to the repository."""
    path.mkdir(parents=True, exist_ok=True)
    link = path / "tests" / "fixtures"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO / "tests" / "fixtures")
    return path


def snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), *args,
            "results/table_main.csv", "--configfile", *map(str, CONFIGS)]


def check(workdir: Path) -> int:
    from skyt1.workflow.recipe import load_config

    cfg = load_config([str(c) for c in CONFIGS])
    for stage in ("sample", "eval"):
        b = cfg[stage]["backend"]
        assert b["name"] == "vllm" and b["tensor_parallel_size"] == 1, (stage, b)
    assert cfg["train"]["deepspeed"].endswith("ds_z3_offload.json") and cfg["train"]["args"]["bf16"] is True
    assert cfg["models"][cfg["train"]["student"]]["template"] == "qwen25"
    proc = subprocess.run(snakemake_cmd(workdir_for(workdir), "-n", "--cores", "16"), capture_output=True, text=True)
    if proc.returncode != 0:
        fail(f"the acceptance config does not make a DAG: {proc.stderr.strip().splitlines()[-1:]}")
    import re

    rules = set(re.findall(r"^\s*rule (\w+):$", proc.stdout, flags=re.M))
    if rules != RULES:
        fail(f"the DAG misses rules {sorted(RULES - rules)} / has extra {sorted(rules - RULES)}")
    print(f"gpu_acceptance check: config valid; the DAG runs {len(rules)} rules "
          f"({', '.join(sorted(rules))}); engines: vllm on 1 GPU; train: ZeRO-3 offload, qwen25, bf16")
    return 0


def seconds(workdir: Path, tsv: Path) -> float | None:
    try:
        rows = list(csv.DictReader(tsv.open(), delimiter="\t"))
        return float(rows[-1]["s"])
    except (OSError, KeyError, ValueError, IndexError):
        return None


def report(workdir: Path, wall: float) -> None:
    """What ran, with figures, from the files the rules wrote."""
    import torch

    print(f"\n== GPU acceptance: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; wall {wall:.0f} s")
    vllm_python = shutil.which("vllm")
    print(f"vllm executable: {vllm_python}")
    print("-- engines (each generation job starts its own: one load per stage, model and shard)")
    for manifest in sorted((workdir / "results" / "engines").rglob("*.json")):
        m = json.loads(manifest.read_text())
        print(f"  {manifest.parent.name}/{manifest.stem}: {m.get('kind')}, {m.get('loads')} load(s), "
              f"{float(m.get('load_seconds') or 0):.1f} s to load, {len(m.get('targets', []))} targets")
    print("-- generation (the client on its engine)")
    for stage, suffix in (("sample", ".stats.json"), ("eval", ".summary.json")):
        for stats in sorted((workdir / "results" / stage).rglob(f"*{suffix}")):
            s = json.loads(stats.read_text())
            s = s.get("generation", s)  # an evaluation's summary keeps its generation stats under "generation"
            rel = stats.relative_to(workdir / "results" / stage).as_posix().removesuffix(suffix)
            bench = workdir / "benchmarks" / stage / f"{rel}.tsv"
            secs = seconds(workdir, bench)
            tokens = s.get("completion_tokens", 0)
            rate = f", {tokens / secs:.0f} tok/s over the job" if secs else ""
            print(f"  {stage}/{rel}: backend {s.get('backend')}, {s.get('items')} items, {s.get('generated')} "
                  f"generated, {s.get('cached')} cached, {tokens} tokens{rate}")
    ckpt = workdir / "results" / "checkpoints"
    for manifest in sorted(ckpt.glob("*/skyt1_model.json")):
        m = json.loads(manifest.read_text())
        args = m["provenance"]["llamafactory_args"]
        metrics = m.get("metrics", {})
        print(f"-- train {m['name']}: {m['ranks']} rank(s), template {m['template']['name']}, "
              f"deepspeed {Path(args.get('deepspeed', '-')).name}, bf16 {args.get('bf16')}, "
              f"{m['train_seconds']} s, train_loss {metrics.get('train_loss')}, "
              f"samples/s {metrics.get('train_samples_per_second')}")
    table = workdir / "results" / "table_main.csv"
    print("-- results/table_main.csv (random models: the numbers mean nothing, only that they were made)")
    print(table.read_text() if table.exists() else "  (missing)")


def run(workdir: Path, cores: int) -> int:
    import torch

    if not torch.cuda.is_available():
        fail("torch sees no CUDA GPU (torch.cuda.is_available() is False) -- fix: run on a GPU node with a "
             "CUDA build of torch (`make install` there installs it from PyPI)", 2)
    if not shutil.which("vllm"):
        fail("no `vllm` on PATH -- fix: bench/gpu_acceptance.sh builds .venv-vllm from envs/vllm.yaml", 2)
    from skyt1.workflow import smoke
    from skyt1.workflow.recipe import load_config

    workdir = workdir_for(workdir)
    cfg = load_config([str(c) for c in CONFIGS])
    stand_in, _, _ = smoke.rewriter_stand_in(cfg)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "SKYT1_ARTIFACT_DIR": str(REPO / ".cache" / "skyt1" / "artifacts")}
    t0 = time.time()
    log = workdir / "snakemake.log"
    with smoke.serve_rewriter(cfg, workdir / "results" / "models" / stand_in,
                              log_path=str(workdir / "rewriter_stand_in.log")) as server_env:
        with log.open("w") as handle:
            proc = subprocess.run(snakemake_cmd(workdir, "--cores", str(cores), "--profile", str(REPO / "profiles/local")),
                                  stdout=handle, stderr=subprocess.STDOUT, env={**env, **server_env}, cwd=REPO)
    wall = time.time() - t0
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()
        errors = [l for l in tail if "Error in rule" in l or "skyt1 error" in l or "log:" in l][-4:]
        print("\n".join(tail[-40:]), file=sys.stderr)
        fail(f"the pipeline failed after {wall:.0f} s ({'; '.join(e.strip() for e in errors) or 'see ' + str(log)})")
    report(workdir, wall)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["run", "check"])
    ap.add_argument("--workdir", default=str(REPO / ".gpu-acceptance" / "run"))
    ap.add_argument("--cores", type=int, default=os.cpu_count() or 4)
    a = ap.parse_args()
    return check(Path(a.workdir)) if a.mode == "check" else run(Path(a.workdir), a.cores)


if __name__ == "__main__":
    sys.exit(main())
