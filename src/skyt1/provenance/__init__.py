"""How an output was made: code version, package versions, config, input hashes, time, host.

Collected once per job: the job's environment (git, packages, host) once per process and each input
described (hashed) once per process, so the stage's stats (collect()) and the runner's lineage record
(write_job_record()) carry the same values without recomputing them. A rule script is one process per job
(snakemake's `script:`), so "once per process" is "once per job".

Never records environment variables, so API keys cannot leak into results."""

from __future__ import annotations

import datetime as dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..core.io import sha256_file

PACKAGES = ("torch", "transformers", "datasets", "llamafactory", "peft", "trl", "accelerate", "deepspeed",
            "vllm", "openai", "math-verify", "reasoning-gym", "snakemake")
_HASH_LIMIT = 1 << 30  # files above 1 GiB are identified by size and mtime instead of a full hash


_ENV: dict = {}  # the job's git state, packages and host: collected on first use, once per process
_INPUTS: dict = {}  # (path, size, mtime_ns) -> its description: each input hashed once per process
GIT_CALLS = 0  # git processes this process started (tests count them)


def _git() -> dict:
    """The code's commit and whether tracked files differ from it, from one `git status` call: porcelain v2
    with --branch prints `# branch.oid <commit>` ("(initial)" before the first commit), then one line per change."""
    global GIT_CALLS
    root = Path(__file__).resolve().parents[3]
    try:
        GIT_CALLS += 1
        proc = subprocess.run(["git", "-C", str(root), "status", "--porcelain=v2", "--branch", "--untracked-files=no"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    lines = proc.stdout.splitlines() if proc.returncode == 0 else []
    oid = next((line.split()[2] for line in lines if line.startswith("# branch.oid ")), None)
    commit = oid if oid and oid != "(initial)" else None
    return {"commit": commit, "dirty": any(not line.startswith("#") for line in lines) if commit else None}


def _env() -> dict:
    if not _ENV:
        _ENV.update(skyt1=__version__, git=_git(), host=platform.node(), python=platform.python_version(),
                    packages=packages())
    return _ENV


def reset() -> None:
    """Forget the cached environment and input hashes (the runner calls it when a job starts)."""
    _ENV.clear()
    _INPUTS.clear()


def packages() -> dict:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def describe_input(path: str | Path) -> dict:
    p = Path(path)
    if p.is_dir():
        manifest = p / "skyt1_model.json"
        if manifest.exists():
            import json
            return {"path": str(p), "model": json.loads(manifest.read_text())}
        return {"path": str(p), "kind": "directory"}
    if not p.exists():
        return {"path": str(p), "missing": True}
    stat = p.stat()
    if stat.st_size > _HASH_LIMIT:
        return {"path": str(p), "size": stat.st_size, "mtime": stat.st_mtime}
    key = (str(p.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _INPUTS:
        _INPUTS[key] = sha256_file(p)
    return {"path": str(p), "sha256": _INPUTS[key]}


def collect(stage: str, config: dict | None = None, inputs=(), **extra) -> dict:
    """A stage's provenance for its stats: the job's environment as the lineage record has it (collected
    once), the stage's config and its inputs (each hashed once per job, shared with the record)."""
    env = _env()
    return {
        "stage": stage,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        **{k: env[k] for k in ("skyt1", "git", "host", "python")},
        "packages": dict(env["packages"]),
        "config": config,
        "inputs": [describe_input(p) for p in inputs],
        **extra,
    }


# ---------------------------------------------------------------- lineage: one record per job output
#
# After a rule's script succeeds, skyt1.workflow.runner writes a lineage record next to every output
# (`<output>.lineage.json`): the rule, its wildcards, the preset, the config values the job received
# (its params) and their hash, each input and output with its sha256 (or model identity), the raw
# sources the job read (packaged files, generators, hub datasets at a resolved commit), plus collect()'s
# code commit, dirty flag and package versions. `skyt1 provenance` walks these records upstream.
# The stage's stats (collect()) were made in the same process from the same cached values.

LINEAGE_SUFFIX = ".lineage.json"
_SOURCES: list[dict] = []


def config_hash(values) -> str:
    """THE hash of the config values a stage receives (a rule's params: only result-relevant values).
    One function, used when recording and when comparing with the current config."""
    from ..core.io import stable_hash

    return stable_hash(_plain(values))[:16]


def _plain(obj):
    """Params as plain JSON: snakemake's Namedlist/Params and tuples become dicts and lists."""
    if hasattr(obj, "items") and callable(obj.items):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def note_source(**info) -> None:
    """Record a raw source the current job read (a packaged file, a generator, a hub dataset)."""
    path = info.get("path")
    if path and Path(path).is_file() and "sha256" not in info:
        info["sha256"] = sha256_file(path)
    if info not in _SOURCES:
        _SOURCES.append(info)


def take_sources() -> list[dict]:
    out = list(_SOURCES)
    _SOURCES.clear()
    return out


def sidecar(path: str | Path) -> Path:
    return Path(str(path).rstrip("/") + LINEAGE_SUFFIX)


def job_record(rule: str, params, inputs, outputs, preset: str | None, wildcards=None, sources=()) -> dict:
    values = _plain(params)
    return collect(rule, values, inputs, rule=rule, preset=preset, config_hash=config_hash(values),
                   wildcards=_plain(wildcards or {}), outputs=[describe_input(p) for p in outputs],
                   sources=list(sources))


def write_job_record(snakemake) -> dict:
    """Write the lineage record of a finished snakemake job next to each of its outputs."""
    from ..core.io import write_json

    inputs = [p for p in snakemake.input if p]
    outputs = [p for p in snakemake.output]
    params = {k: v for k, v in snakemake.params.items()}
    wildcards = {k: v for k, v in snakemake.wildcards.items()}
    record = job_record(snakemake.rule, params, inputs, outputs, snakemake.config.get("preset"), wildcards,
                        take_sources())
    for out in outputs:
        write_json(sidecar(out), record)
    return record
