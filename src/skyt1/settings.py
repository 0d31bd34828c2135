"""What a rule's results depend on, and what only decides how fast or where it runs.

`split(rule, config, **wildcards)` builds the arguments a rule's stage takes from the validated
config (for the rules in RULE_SPECS: their stage module's typed `spec(config, **wildcards)`, as a dict)
and cuts them in two: the spec (everything that can change the rule's outputs; it goes into
the rule's `params:`, so Snakemake reruns the rule when it changes) and the operational settings
(batch sizes, concurrency, threads, timeouts, retries, the cache folder, the checkout path, prices;
the rule's script reads them from the config, so changing them reruns nothing). `join(spec, ops)`
puts them back together for the stage. OPERATIONAL below is the one list of operational keys.

`code_hash(rule)` hashes the source of the skyt1 modules a rule runs (its stage module and
everything it imports from skyt1, found statically, lazy imports included), so that editing that
code reruns the rule and what follows, and editing unrelated code does not."""

from __future__ import annotations

import ast
import copy
import dataclasses
import fnmatch
import hashlib
import importlib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

# Dotted paths into a rule's argument tree (see _args); `*` matches one key.
OPERATIONAL = (
    # generation backends: throughput and robustness knobs, never the answer
    "*.backend.batch_size", "*.backend.concurrency", "*.backend.threads", "*.backend.timeout_s",
    "*.backend.max_retries", "*.backend.max_wait_ms", "*.backend.max_failure_share",
    "*.backend.gpu_memory_utilization", "*.backend.tensor_parallel_size", "*.backend.device",
    "*.backend.startup_timeout_s", "*.backend.tokens_per_minute",
    # models: what a call costs and where the endpoint is, never which model answers
    "model_spec.price_per_mtok", "model_spec.base_url",
    # where things live
    "cache", "repo_root", "artifacts.*.file",
    # training: logging and checkpoint cadence, data loading workers
    "cfg.args.logging_steps", "cfg.args.save_steps", "cfg.args.save_total_limit", "cfg.args.save_strategy",
    "cfg.args.preprocessing_num_workers", "cfg.args.dataloader_num_workers", "cfg.args.report_to",
    "cfg.shards", "cfg.args.plot_loss", "cfg.args.overwrite_cache", "cfg.args.logging_dir",
)

# The skyt1 module each rule's script runs (the script itself is tracked by Snakemake's code trigger).
RULE_MODULES = {
    "prepare_model": "skyt1.weights.prepare", "data_train": "skyt1.stages.data", "data_bench": "skyt1.stages.data",
    "decontaminate": "skyt1.stages.decontaminate", "sample": "skyt1.stages.sample",
    "rewrite": "skyt1.stages.rewrite", "reject": "skyt1.stages.reject", "mix": "skyt1.stages.mix",
    "train": "skyt1.stages.train", "evaluate": "skyt1.stages.evaluate", "table_main": "skyt1.stages.table",
    "plot_benchmark": "skyt1.stages.table", "sample_merge": "skyt1.stages.sample",
    "cost": "skyt1.workflow.cost",
}


# A generation stage -> the config section whose backend its jobs' engines run, and the resources section
# of the machine such a job needs (the stage's rule's).
ENGINE_SECTIONS = {"sample": "sample", "rewrite": "rewrite", "eval": "eval"}
ENGINE_RESOURCES = {"sample": "sample", "rewrite": "rewrite", "eval": "evaluate"}


# The stage module whose `spec(config, **wildcards)` builds each rule's arguments (a frozen dataclass).
RULE_SPECS = {
    "prepare_model": "skyt1.weights.prepare", "data_train": "skyt1.stages.data", "data_bench": "skyt1.stages.data",
    "decontaminate": "skyt1.stages.decontaminate", "sample": "skyt1.stages.sample", "rewrite": "skyt1.stages.rewrite",
    "reject": "skyt1.stages.reject", "mix": "skyt1.stages.mix", "train": "skyt1.stages.train",
    "evaluate": "skyt1.stages.evaluate", "table_main": "skyt1.stages.table", "plot_benchmark": "skyt1.stages.table",
    "cost": "skyt1.workflow.cost",
}


def spec_dict(spec) -> dict:
    """A stage's Spec as the dict `split` cuts: its fields by name (nested dataclasses as dicts); a field
    whose metadata says `omit_none` is left out while it is None (it is not part of this job's arguments)."""
    out = dataclasses.asdict(spec)
    for f in dataclasses.fields(spec):
        if f.metadata.get("omit_none") and out[f.name] is None:
            del out[f.name]
    return out


def _args(rule: str, config: dict, w: dict) -> dict:
    """Everything the rule's stage takes from the config, by argument name: its stage's typed spec."""
    if rule not in RULE_SPECS:
        raise KeyError(f"no settings split is defined for rule {rule!r}")
    return spec_dict(importlib.import_module(RULE_SPECS[rule]).spec(config, **w))


def is_operational(path: str) -> bool:
    return any(fnmatch.fnmatchcase(path, pat) or path.startswith(pat + ".") for pat in OPERATIONAL)


def _partition(node: Any, prefix: str) -> tuple[Any, Any]:
    """(spec part, operational part) of a subtree; _MISSING marks an empty side."""
    if is_operational(prefix):
        return _MISSING, copy.deepcopy(node)
    if not isinstance(node, dict):
        return copy.deepcopy(node), _MISSING
    spec, ops = {}, {}
    for key, value in node.items():
        s, o = _partition(value, f"{prefix}.{key}" if prefix else str(key))
        if s is not _MISSING:
            spec[key] = s
        if o is not _MISSING:
            ops[key] = o
    return spec, (ops if ops else _MISSING)


_MISSING = object()


def split(rule: str, config: dict, **wildcards) -> tuple[dict, dict]:
    """(spec, operational settings) of one rule's job: the spec changes results, the rest never does."""
    spec, ops = _partition(_args(rule, config, wildcards), "")
    return spec, ({} if ops is _MISSING else ops)


def spec(rule: str, config: dict, **wildcards) -> dict:
    return split(rule, config, **wildcards)[0]


def join(spec: dict, ops: dict) -> dict:
    """The stage's full arguments again: ops merged into spec, key by key (the config's own merge)."""
    from .config import deep_merge

    return deep_merge(spec, ops)


def stage_args(rule: str, snakemake, **extra_wildcards) -> dict:
    """In a rule script: the spec from the rule's params, the operational settings from the config."""
    wildcards = {k: v for k, v in dict(snakemake.wildcards.items()).items()}
    _, ops = split(rule, snakemake.config, **wildcards, **extra_wildcards)
    return join(dict(snakemake.params.spec), ops)


def target_args(rule: str, snakemake, key: str, name: str) -> dict:
    """stage_args for one target of a job with many (rules/common.smk target_specs: the spec by name)."""
    wildcards = {k: v for k, v in dict(snakemake.wildcards.items()).items()}
    _, ops = split(rule, snakemake.config, **wildcards, **{key: name})
    return join(dict(snakemake.params.spec[name]), ops)


# ---- code identity -------------------------------------------------------------------------------

PACKAGE_ROOT = Path(__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] != "skyt1":
        return None
    base = PACKAGE_ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str, path: Path) -> set[str]:
    """skyt1 modules a module imports anywhere in its body (function-level imports too)."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)  # `from . import x` names a module
    out = set()
    for mod in found:
        parts = mod.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ too
            out.add(".".join(parts[:i]))
    return {m for m in out if _module_file(m) is not None}


@cache
def code_modules(module: str) -> tuple[str, ...]:
    """The module and every skyt1 module it reaches through imports, sorted."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name in seen or _module_file(name) is None:
            continue
        seen.add(name)
        todo.extend(_imports(name, _module_file(name)) - seen)
    return tuple(sorted(seen))


def code_hash(rule: str) -> str:
    """sha256 over the sources of the skyt1 modules the rule runs (12 hex digits are plenty)."""
    h = hashlib.sha256()
    for name in code_modules(RULE_MODULES[rule]):
        h.update(name.encode() + b"\0" + _module_file(name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


# ---- engine identity for request keys ------------------------------------------------------------

def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def engine_identity(backend_cfg: dict, api: bool) -> dict:
    """What of the backend can change an answer: its name, its result-relevant settings (dtype,
    max_model_len, ...) and, for engines that run here, their versions. An API model's engine is the
    provider's, identified by the model id alone."""
    spec, _ = _partition({"backend": backend_cfg}, "x")
    spec = spec["backend"]
    if api:
        return {"name": spec["name"], **{k: v for k, v in spec.items() if k != "name"}}
    versions = {}
    if spec["name"] == "vllm":
        versions = {"vllm": _version("vllm"), "torch": _version("torch")}
    else:  # skyt1: the project's engine server decodes with transformers
        versions = {"transformers": _version("transformers"), "torch": _version("torch")}
    return {**spec, "versions": versions}
