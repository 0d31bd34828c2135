"""Pieces shared by the generation stages (sample, rewrite, evaluate)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..generation import prompts
from ..engine import owned as engines
from ..core.errors import SkyT1Error
from ..generation import Params
from ..generation.cache import RequestCache
from ..generation.run import Lookup, Partial, run_items
from ..core.io import stable_hash, write_jsonl
from ..identity import api_identity, identity
from ..settings import engine_identity


def domain_prompt(stage_cfg: dict, domain: str | None) -> str:
    """The prompt name a stage (or an eval model) uses for one domain: domain_prompts[domain], else its prompt."""
    return (stage_cfg.get("domain_prompts") or {}).get(domain, stage_cfg["prompt"])


def gen_model(spec: dict) -> dict:
    """A model as a generation stage sees it: the chat template name is training's business."""
    return {k: v for k, v in spec.items() if k != "template"}


def model_ref(model_dir: str | None, model_spec: dict):
    """What a backend loads: a local weights folder, or the api spec."""
    if model_spec["source"] == "api":
        return model_spec
    if not model_dir:
        raise SkyT1Error("no local weights folder was given for a local model", "check the rule's inputs")
    return model_dir


class _EngineClient:
    """The client on an engine; closing it stops the engine only if this client started it for itself."""
    name = "openai"

    def __init__(self, inner, own: "engines.OwnedEngine | None" = None):
        self.inner, self.own = inner, own

    def generate(self, conversations, params, on_done):
        self.inner.generate(conversations, params, on_done)

    def close(self):
        try:
            self.inner.close()
        finally:
            if self.own is not None:
                self.own.close()


@dataclass(frozen=True)
class Model:
    """The model a generation target asks: its local weights folder (None for an api model), its models.<name>
    spec and its name."""
    dir: str | None
    spec: dict
    name: str = "model"

    def ref(self):
        return model_ref(self.dir, self.spec)


@dataclass(frozen=True)
class Job:
    """How the rule's job runs a target: its threads and GPUs, its log, and the job's own engine
    (skyt1.engine.owned.OwnedEngine, shared by every target of the job; None: a client starts one for itself)."""
    threads: int = 1
    gpus: int = 0
    log_path: str | None = None
    engine: "engines.OwnedEngine | None" = None


@dataclass(frozen=True)
class Paths:
    """A generation target's files: what it reads (records, traces or a benchmark), the model's folder
    (None for an api model), and what it writes."""
    input: str | Path
    model: str | None
    out: str | Path
    stats: str | Path


@dataclass(frozen=True)
class Target:
    """One generation target: the stage's name for it (in messages), the model, the stage's backend
    section (validated: its defaults filled), the request cache section (None: no cache), the output and the job."""
    stage: str
    model: Model
    backend: dict
    cache: dict | None
    out_path: str | Path
    job: Job = Job()


def backend_factory(target: Target, seen: dict | None = None):
    """The client for the target: on an external endpoint (backend openai, an api model), or on a local
    engine (skyt1, vllm). target.job.engine is the job's own engine (started on first use); without one,
    the client starts an engine for itself and stops it when it closes. The factory is only called when a
    request missed the cache. `seen` receives whether this target's requests started the engine and in how long."""
    from ..generation.openai_backend import OpenAIBackend

    backend_cfg, model_name, job = target.backend, target.model.name, target.job
    model = target.model.ref()

    def factory():
        kind = backend_cfg["name"]
        if not engines.is_local(backend_cfg):
            if not isinstance(model, dict):
                raise SkyT1Error(f"backend {kind!r} is an external endpoint, but {model_name} is a local model",
                                 "set the stage's backend.name to skyt1 (CPU engine server) or vllm (GPUs)")
            return OpenAIBackend(model, backend_cfg)
        if isinstance(model, dict):
            raise SkyT1Error(f"backend {kind!r} starts a local engine, but {model_name} is an api model",
                             "set the stage's backend.name to openai")
        own = None
        eng = job.engine
        if eng is None:
            launch = engines.launch_for(backend_cfg, model, model_name, threads=job.threads, gpus=job.gpus)
            eng = own = engines.owned_for_stage(launch, backend_cfg, job.log_path)
        try:
            loads_before = eng.loads
            url = eng.url(str(target.out_path))
            if seen is not None:
                started = eng.loads > loads_before
                seen.update(kind=kind, started=started, load_seconds=eng.load_seconds if started else 0.0)
            # requests in flight: backend.concurrency, else matched to the engine (openai_backend.default_concurrency)
            client = OpenAIBackend({"api_model": model_name}, backend_cfg, base_url=url)
            return _EngineClient(client, own)
        except BaseException:
            if own is not None:
                own.close()
            raise
    return factory


class JobEngine:
    """The engine of one generation job (all targets of one stage for one model, or one shard): an
    OwnedEngine for a local backend, started on the first cache miss; nothing for an external endpoint.
    `write(path)` records what it did (the cost ledger counts its loads). job: the job's threads, GPUs and log."""

    def __init__(self, backend_cfg: dict, model: Model, job: Job, stage: str = ""):
        self.backend_cfg, self.stage, self.model_name = backend_cfg, stage, model.name
        self.owned = None
        if engines.is_local(backend_cfg) and model.spec["source"] != "api":
            launch = engines.launch_for(backend_cfg, model.ref(), model.name, threads=job.threads, gpus=job.gpus)
            self.owned = engines.owned_for_stage(launch, backend_cfg, job.log_path)

    def __enter__(self):
        if self.owned is not None:
            self.owned.__enter__()
        return self

    def __exit__(self, *exc):
        if self.owned is not None:
            self.owned.__exit__(*exc)

    def write(self, path, targets) -> None:
        import socket

        from ..core.io import write_json
        record = (self.owned.manifest() if self.owned is not None else
                  {"kind": self.backend_cfg["name"], "model_name": self.model_name, "loads": 0, "load_seconds": 0.0})
        write_json(path, {"stage": self.stage, **record, "host": socket.gethostname(), "targets": list(targets)})


def generate(target: Target, keys: list, user_texts: list, prompt_cfg: dict, params: Params,
             request_ids: dict | None = None):
    """Build messages, run the target's backend on its model (its weights folder, or the api spec) with
    resume and the request cache, set failed items aside (check_failures), and return (completions by
    key, stats). A dict given as request_ids receives each item's request key (the request cache's key:
    model identity, messages, params), for per-row lineage."""
    model, model_spec, backend = target.model.ref(), target.model.spec, target.backend
    conversations = [prompts.build(prompt_cfg, u) for u in user_texts]
    api = isinstance(model, dict)
    model_id = api_identity(model) if api else identity(model)
    engine_id = engine_identity(backend, api=api)
    fingerprint = stable_hash({"model": model_id, "engine": engine_id, "prompt": prompt_cfg, "params": params.__dict__})
    cache = None
    if target.cache and target.cache["enabled"]:
        cache = RequestCache(Path(target.cache["dir"]) / "requests.sqlite")
    seen: dict = {}
    factory = backend_factory(target, seen=seen)
    try:
        results, stats = run_items(keys, conversations, factory, params, Partial(target.out_path, fingerprint),
                                   Lookup(cache, model_id, engine_id) if cache is not None else None)
    finally:
        if cache is not None:
            cache.close()
    if request_ids is not None:
        from ..generation.cache import request_key

        request_ids.update({k: request_key(model_id, conv, params, engine_id) for k, conv in zip(keys, conversations)})
    stats["params"] = params.__dict__
    stats["model"] = model_id
    stats["engine"] = engine_id
    stats["backend"] = backend["name"]
    # whether this target's requests started the job's engine (none when every request hit the cache)
    stats["engine_start"] = seen or {"kind": backend["name"], "started": False, "load_seconds": 0.0}
    price = model_spec.get("price_per_mtok")  # an optional key of models.<name>: no price, no cost
    if price:
        stats["cost_usd"] = round(stats["prompt_tokens"] * price["input"] / 1e6
                                  + stats["completion_tokens"] * price["output"] / 1e6, 6)
    check_failures(stats, backend["max_failure_share"], target.stage, target.out_path)
    return results, stats


def failures_path(out_path) -> Path:
    return Path(str(out_path) + ".failures.jsonl")


def check_failures(stats: dict, limit: float, stage: str, out_path=None) -> None:
    """Write items that failed for good to <out>.failures.jsonl (never into the data), and stop the
    stage if their share exceeds `limit` (the backend's max_failure_share)."""
    if out_path is not None:
        path = failures_path(out_path)
        if stats["failed"]:
            write_jsonl(path, stats["failures"])
        elif path.exists():
            path.unlink()
    share = stats["failed"] / max(stats["items"], 1)
    if stats["failed"] and share > limit:
        first = stats["failures"][0]
        raise SkyT1Error(f"{stage}: {stats['failed']} of {stats['items']} items failed ({share:.1%} > max_failure_share {limit:.1%}); "
                         f"first: {first['key']}: {first['error']}",
                         "rerun the stage (finished items are kept), or raise backend.max_failure_share")
