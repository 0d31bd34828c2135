"""What a rule's results depend on, and what only decides how fast or where it runs.

`split(rule, config, **wildcards)` builds the arguments a rule's stage takes from the validated
config and cuts them in two: the spec (everything that can change the rule's outputs; it goes into
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
import fnmatch
import hashlib
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
    "prepare_model": "skyt1.models", "data_train": "skyt1.stages.data", "data_bench": "skyt1.stages.data",
    "decontaminate": "skyt1.stages.decontaminate", "sample": "skyt1.stages.sample",
    "rewrite": "skyt1.stages.rewrite", "reject": "skyt1.stages.reject", "mix": "skyt1.stages.mix",
    "train": "skyt1.stages.train", "evaluate": "skyt1.stages.evaluate", "table_main": "skyt1.stages.table",
    "plot_benchmark": "skyt1.stages.table", "sample_merge": "skyt1.stages.sample",
    "cost": "skyt1.cost",
}


# A generation stage -> the config section whose backend its jobs' engines run, and the resources section
# of the machine such a job needs (the stage's rule's).
ENGINE_SECTIONS = {"sample": "sample", "rewrite": "rewrite", "eval": "eval"}
ENGINE_RESOURCES = {"sample": "sample", "rewrite": "rewrite", "eval": "evaluate"}


# The stage module whose `spec(config, **wildcards)` gives a rule's arguments (one typed spec per stage).
RULE_SPECS = {"sample": "skyt1.stages.sample", "rewrite": "skyt1.stages.rewrite", "evaluate": "skyt1.stages.evaluate"}


def _from_stage(rule: str, config: dict, w: dict) -> dict:
    """A rule's arguments from its stage's Spec, as a dict (the tree `split` cuts by OPERATIONAL)."""
    import dataclasses
    import importlib

    return dataclasses.asdict(importlib.import_module(RULE_SPECS[rule]).spec(config, **w))


def _args(rule: str, config: dict, w: dict) -> dict:
    """Everything the rule's stage takes from the config, by argument name."""
    if rule in RULE_SPECS:
        return _from_stage(rule, config, w)
    models, cache = config["models"], config.get("cache", {})
    artifacts = config.get("artifacts", {})  # pinned texts: their sha256 counts, where the file lies does not
    if rule == "prepare_model":
        spec = {k: v for k, v in models[w["model"]].items() if k != "template"}  # the template is training's
        return {"model_spec": spec}
    if rule == "data_train":
        return {"spec": config["train_sources"][w["source"]]}
    if rule == "data_bench":
        # paper_name, metric and generation are read by evaluate and the table, not by loading the data
        return {"spec": {k: v for k, v in config["benchmarks"][w["bench"]].items()
                         if k not in ("paper_name", "metric", "generation")}}
    if rule == "decontaminate":
        return {"cfg": config.get("decontam", {})}
    if rule == "reject":
        args = {"cfg": config["reject"], "sandbox": config.get("sandbox", {})}
        if "source" in w:  # the source's declared scorer (else its adapter's record format's), and its domain
            from .benchmarks import ADAPTER_SCORERS

            src = config["train_sources"][w["source"]]
            args.update(scorer=src.get("scorer") or ADAPTER_SCORERS.get(src["adapter"]), domain=src.get("domain", "math"))
            if args["scorer"] == "code":  # the official evaluator the source's code is judged like
                from .scoring.evaluators import params_of

                args["evaluator"] = params_of(src)
        return args
    if rule == "mix":
        return {"cfg": config["mix"], "seed": config["seed"], "cutoff_len": config["train"]["args"].get("cutoff_len"),
                "artifacts": artifacts}
    if rule == "train":
        return {"cfg": config["train"], "model_spec": models[config["train"]["student"]],
                "repo_root": w.get("repo_root")}
    if rule in ("table_main", "plot_benchmark"):
        ev = config["eval"]
        # each model's part in the paper (verdicts only for the paper's own models), the gains and the
        # seeded bootstrap that makes their intervals: all change the table
        args = {"models": list(ev["models"]), "preset": config["preset"],
                "roles": {m: {k: e[k] for k in ("paper_model", "stands_in_for") if k in e} for m, e in ev["models"].items()},
                "gains": config["table"].get("gains") or [], "bootstrap": ev.get("bootstrap") or {}}
        if rule == "table_main":
            args["paper_columns"] = config["table"]["paper_columns"]
        return args
    if rule == "cost":
        # The ledger's own inputs: prices and declared GPUs change its numbers here (unlike in sample).
        return {"config": {
            "models": {n: {k: m[k] for k in ("source", "api_model", "price_per_mtok") if k in m}
                       for n, m in models.items()},
            "resources": config["resources"], "cost": config.get("cost", {}),
            "mix": {"dataset_name": config["mix"]["dataset_name"]},
            "train": {"student": config["train"]["student"],
                      "args": {"num_train_epochs": config["train"]["args"].get("num_train_epochs", 1)}}}}
    raise KeyError(f"no settings split is defined for rule {rule!r}")


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
