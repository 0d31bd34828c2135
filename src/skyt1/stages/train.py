"""Stage 5: full SFT of the student with LLaMA-Factory, run through skyt1.stages.train_launcher (which registers
the recipe's chat template first), on one rank per GPU of the job via torchrun (one rank on CPU).

Training runs in results/checkpoints/.<name>.work. If a run dies, its periodic checkpoints stay there
and the next run resumes from the last one; the finished model is moved to results/checkpoints/<name>
only when training has succeeded, so a half-trained model is never taken for a result."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import provenance
from ..core.errors import SkyT1Error
from ..core.io import read_json, sha256_file, write_text
from ..identity import MANIFEST, identity, weights_sha256
from .train_launcher import TEMPLATE_SOURCES

log = logging.getLogger(__name__)


REPO_ROOT = Path(__file__).resolve().parents[3]


def launcher_python() -> str:
    """The training environment's interpreter (envs/train.yaml), which runs our launcher: the rule's own
    interpreter when it has LLaMA-Factory (a conda env under --sdm conda), else the repository's
    .venv-train that `make install` builds. It has skyt1, llamafactory, torch and deepspeed."""
    for folder in (Path(sys.executable).parent, REPO_ROOT / ".venv-train" / "bin"):
        if (folder / "llamafactory-cli").exists():
            return str(folder / "python")
    raise SkyT1Error("no training environment: LLaMA-Factory is not installed beside this interpreter and "
                     f"{REPO_ROOT / '.venv-train'} does not exist", "run `make install` (builds .venv-train from envs/train.yaml)")


def _ranks(gpus) -> int:
    """One rank per GPU the job has; one rank on a CPU-only machine."""
    try:
        gpus = int(gpus or 0)
    except (TypeError, ValueError):
        raise SkyT1Error(f"train: GPU count {gpus!r} is not a number", "set resources.train.gpu to an integer")
    return max(gpus, 1)


def launch_command(args_path, ranks: int, deepspeed: bool) -> list[str]:
    """Our launcher, on every rank. With more than one rank, or with DeepSpeed (which needs a process group
    even for one rank), it is started by torchrun; --standalone picks a free local rendezvous port."""
    launcher = ["-m", "skyt1.stages.train_launcher", str(args_path)]
    if ranks == 1 and not deepspeed:
        return [launcher_python(), *launcher]
    return [launcher_python(), "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc_per_node", str(ranks), *launcher]


def _warn_if_batch_differs(cfg: dict, ranks: int) -> None:
    planned = cfg["nproc_per_node"]
    if planned != ranks:
        a = cfg["args"]
        per_step = a["per_device_train_batch_size"] * a["gradient_accumulation_steps"]
        log.warning("train: %d rank(s) instead of train.nproc_per_node=%d: the global batch is %d, not the "
                    "planned %d", ranks, planned, per_step * ranks, per_step * planned)


def _has_checkpoint(work_dir: Path) -> bool:
    return any(p.name.startswith("checkpoint-") for p in work_dir.glob("checkpoint-*"))


def checkpoint_problem(folder: Path) -> str | None:
    """Why LLaMA-Factory could not resume from this checkpoint-N folder, or None if it is complete.

    transformers 4.52.4's Trainer._save_checkpoint writes the weights, then the optimizer and scheduler
    (under DeepSpeed: every rank's global_stepN/ shards, then the `latest` file naming that folder), then
    the RNG states, and trainer_state.json last. A job killed part-way (time limit, node failure, full
    disk) leaves a folder without it, and LLaMA-Factory resumes from the highest-numbered folder
    (transformers' get_last_checkpoint), whatever it holds."""
    state = folder / "trainer_state.json"
    if not state.exists():
        return "no trainer_state.json (the Trainer writes it last)"
    try:
        json.loads(state.read_text())
    except ValueError:
        return "trainer_state.json is cut short"
    index = folder / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = set(json.loads(index.read_text())["weight_map"].values())
        except (ValueError, KeyError):
            return "model.safetensors.index.json is cut short"
        missing = sorted(s for s in shards if not (folder / s).exists())
        if missing:
            return f"weight shard {missing[0]} is missing"
    elif not (folder / "model.safetensors").exists():
        return "no model weights"
    latest = folder / "latest"
    if latest.exists():
        tag = latest.read_text().strip()
        if not tag or not (folder / tag).is_dir():
            return f"DeepSpeed's `latest` names {tag!r}, which is not there"
    elif any(folder.glob("global_step*")):
        return "DeepSpeed's states have no `latest` file"
    elif not (folder / "optimizer.pt").exists():
        return "no optimizer state (optimizer.pt or DeepSpeed's global_step*)"
    return None


def drop_incomplete_checkpoints(work_dir: Path) -> list[str]:
    """Remove checkpoint folders a resume cannot use (and the Trainer's tmp-checkpoint-* leftovers), so
    LLaMA-Factory resumes from the last complete one. Returns one line per folder removed."""
    removed = []
    for folder in sorted(work_dir.glob("checkpoint-*")) + sorted(work_dir.glob("tmp-checkpoint-*")):
        if not folder.is_dir():
            continue
        why = "an unfinished save" if folder.name.startswith("tmp-") else checkpoint_problem(folder)
        if why:
            shutil.rmtree(folder)
            removed.append(f"{folder.name}: {why}")
    return removed


def build_ops(log_path, env: dict) -> None:
    """DeepSpeed's ops, compiled once on this node before torchrun starts its ranks (skyt1.stages.train_launcher
    --build-ops): a missing compiler is one line here, not a traceback from every rank in the first step."""
    cmd = [launcher_python(), "-m", "skyt1.stages.train_launcher", "--build-ops"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    with open(log_path, "a", encoding="utf-8") as handle:
        handle.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.startswith("skyt1 error: ")]
        if lines:
            raise SkyT1Error(lines[-1][len("skyt1 error: "):])
        raise SkyT1Error(f"compiling DeepSpeed's ops failed with exit code {proc.returncode}; see {log_path}",
                         "fix the compiler error shown in the log (envs/train.yaml has the compilers)")
    log.info("train: %s", (proc.stdout.strip().splitlines() or ["DeepSpeed ops ready"])[-1])


def _weights_present(folder: Path) -> bool:
    return (folder / "model.safetensors").exists() or (folder / "model.safetensors.index.json").exists()


@dataclass(frozen=True)
class Spec:
    """cfg: the `train:` section (LLaMA-Factory's args under cfg.args); model_spec: the student's model entry
    (its chat template); repo_root: the checkout DeepSpeed configs are read from (operational)."""
    cfg: dict
    model_spec: dict
    repo_root: str | None = None


@dataclass(frozen=True)
class Paths:
    student: str     # the prepared student model folder
    data: str        # the SFT set (sharegpt JSON)
    info: str        # its dataset_info.json
    out: str         # the checkpoint folder
    log: str


def spec(config: dict, repo_root: str | None = None, **_wildcards) -> Spec:
    return Spec(config["train"], config["models"][config["train"]["student"]], repo_root)


def build_args(spec: Spec, student_dir, sft_dir, dataset_name, work_dir) -> dict:
    """LLaMA-Factory's arguments: the stage's fixed ones, then train.args; the student's chat template;
    DeepSpeed's config resolved against spec.repo_root."""
    cfg, template = spec.cfg, spec.model_spec.get("template")  # run() refuses a student without one
    args = {
        "model_name_or_path": str(Path(student_dir).resolve()),
        "trust_remote_code": False,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "full",
        "dataset": dataset_name,
        "dataset_dir": str(Path(sft_dir).resolve()),
        "template": template,
        "output_dir": str(Path(work_dir).resolve()),
        "overwrite_cache": True,
        "preprocessing_num_workers": 1,
        "report_to": "none",
        "plot_loss": False,
    }
    args.update(cfg["args"])
    if cfg["deepspeed"]:
        ds = (Path(spec.repo_root) / cfg["deepspeed"]).resolve()
        if not ds.exists():
            raise SkyT1Error(f"train.deepspeed: {ds} does not exist", "point it at a DeepSpeed JSON file in the repository")
        args["deepspeed"] = str(ds)
    return args


def run(spec: Spec, paths: Paths, gpus: int = 0) -> None:
    cfg, model_spec, log_path = spec.cfg, spec.model_spec, paths.log
    student_dir, sft_data, sft_info, out_dir = paths.student, paths.data, paths.info, paths.out
    out_dir = Path(out_dir)
    work_dir = out_dir.parent / f".{out_dir.name}.work"
    info = read_json(sft_info)
    dataset_name = next(iter(info))
    template = model_spec.get("template")
    if not template:
        raise SkyT1Error("model for train.student has no 'template'", "set models.<student>.template to a LLaMA-Factory template name")
    if work_dir.exists():
        for line in drop_incomplete_checkpoints(work_dir):
            log.warning("train: removed incomplete checkpoint %s", line)
    if work_dir.exists() and not _has_checkpoint(work_dir):
        shutil.rmtree(work_dir)  # a run that died before its first checkpoint: nothing to resume
    resuming = work_dir.exists()
    args = build_args(spec, student_dir, Path(sft_data).parent, dataset_name, work_dir)
    args["overwrite_output_dir"] = not resuming
    work_dir.mkdir(parents=True, exist_ok=True)
    args_path = work_dir / "skyt1_train_args.yaml"
    write_text(args_path, yaml.safe_dump(args, sort_keys=True))

    ranks = _ranks(gpus)
    _warn_if_batch_differs(cfg, ranks)
    cmd = launch_command(args_path, ranks, deepspeed=bool(args.get("deepspeed")))
    env = dict(os.environ)
    # We start the ranks ourselves; LLaMA-Factory's own relaunch (llamafactory-cli) is never used.
    env.pop("FORCE_TORCHRUN", None)
    if args.get("deepspeed"):
        build_ops(log_path, env)
    log.info("%s LLaMA-Factory on %d rank(s): %s", "resuming" if resuming else "starting", ranks, " ".join(cmd))
    t0 = time.time()
    with open(log_path, "a", encoding="utf-8") as handle:
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        raise SkyT1Error(f"LLaMA-Factory training failed with exit code {proc.returncode}; see {log_path}",
                         "fix the cause shown in the log and rerun; checkpoints in the work folder are resumed")
    if not _weights_present(work_dir):
        raise SkyT1Error(f"LLaMA-Factory finished but wrote no model weights into {work_dir}", "see the log")
    for ckpt in work_dir.glob("checkpoint-*"):
        shutil.rmtree(ckpt)  # intermediate states are for resuming only
    metrics = {}
    if (work_dir / "all_results.json").exists():
        metrics = json.loads((work_dir / "all_results.json").read_text())
    # weights_sha256: hashed once here, read by every evaluation job and request-cache key (models.identity)
    manifest = {"name": cfg["name"], "source": "checkpoint", "base": identity(student_dir),
                "weights_sha256": weights_sha256(work_dir),
                "sft_data_sha256": sha256_file(sft_data), "train_seconds": round(time.time() - t0, 1),
                "metrics": metrics, "ranks": ranks,
                "template": {"name": template, "source": TEMPLATE_SOURCES.get(template, "LLaMA-Factory's own")},
                "provenance": provenance.collect("train", cfg, [student_dir, sft_data, sft_info], llamafactory_args=args)}
    (work_dir / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(work_dir, out_dir)
    log.info("train: checkpoint at %s (%.0f s)", out_dir, time.time() - t0)
