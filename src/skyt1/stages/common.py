"""Pieces shared by the generation stages (sample, rewrite, evaluate)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from .. import engines, prompts
from ..errors import SkyT1Error
from ..generation import Params
from ..generation.cache import RequestCache
from ..generation.run import run_items
from ..io import read_json, stable_hash, write_jsonl
from ..models import api_identity, identity
from ..settings import engine_identity


def model_ref(model_dir: str | None, model_spec: dict):
    """What a backend loads: a local weights folder, or the api spec."""
    if model_spec["source"] == "api":
        return model_spec
    if not model_dir:
        raise SkyT1Error("no local weights folder was given for a local model", "check the rule's inputs")
    return model_dir


class _EngineClient:
    """The client on a leased engine; closing it drops the lease (the engine stays warm for the next job)."""
    name = "openai"

    def __init__(self, inner, stack: ExitStack):
        self.inner, self.stack = inner, stack

    def generate(self, conversations, params, on_done):
        self.inner.generate(conversations, params, on_done)

    def close(self):
        try:
            self.inner.close()
        finally:
            self.stack.close()


def backend_factory(backend_cfg: dict, model, model_name: str, threads: int, gpus: int, log_path=None,
                    engine_manifest: dict | None = None, cache_cfg: dict | None = None, seen: dict | None = None):
    """The client for the stage: on an external endpoint (backend openai, an api model), or on a local
    engine (skyt1, vllm) leased from skyt1.engines. engine_manifest (the engine job's output) gives the
    interpreter, threads and GPUs the engine was declared with, so every job starts or finds the same one.
    `seen` receives what the lease found (reused or loaded, load seconds, the engine's log)."""
    from ..generation.openai_backend import OpenAIBackend

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
        m = engine_manifest or {}
        launch = engines.launch_for(backend_cfg, model, model_name, threads=m.get("threads", threads),
                                    gpus=m.get("gpus", gpus), executable=m.get("executable"))
        stack = ExitStack()
        try:
            engine = stack.enter_context(engines.lease_for_stage(launch, backend_cfg, cache_cfg, log_path))
            if seen is not None:
                seen.update(kind=kind, reused=engine.reused, load_seconds=engine.load_seconds, log=engine.log)
            # requests in flight: backend.concurrency, else matched to the engine (openai_backend.default_concurrency)
            client = OpenAIBackend({"api_model": model_name}, backend_cfg, base_url=engine.url)
            return _EngineClient(client, stack)
        except BaseException:
            stack.close()
            raise
    return factory


def generate(stage, keys, user_texts, prompt_cfg, stage_cfg, model_dir, model_spec, out_path, threads=1, gpus=0,
             params=None, cache_cfg=None, model_name="model", log_path=None, request_ids=None, engine=None):
    """Build messages, run the stage's backend on the model (its weights folder, or the api spec)
    with resume and the request cache, set failed items aside (check_failures), and return
    (completions by key, stats). A dict given as request_ids receives each item's request key (the
    request cache's key: model identity, messages, params), for per-row lineage. engine: the path of
    the engine job's manifest, if the stage has one."""
    model = model_ref(model_dir, model_spec)
    params = params or Params.from_config(stage_cfg["params"])
    conversations = [prompts.build(prompt_cfg, u) for u in user_texts]
    api = isinstance(model, dict)
    model_id = api_identity(model) if api else identity(model)
    manifest = read_json(engine) if engine else None
    # the engine job measured its engine's versions in the engine's own environment
    engine_id = (manifest or {}).get("engine") or engine_identity(stage_cfg["backend"], api=api)
    fingerprint = stable_hash({"model": model_id, "engine": engine_id, "prompt": prompt_cfg, "params": params.__dict__})
    cache = None
    if cache_cfg and cache_cfg.get("enabled", True):
        cache = RequestCache(Path(cache_cfg.get("dir", ".cache/skyt1")) / "requests.sqlite")
    seen: dict = {}
    factory = backend_factory(stage_cfg["backend"], model, model_name, threads, gpus, log_path,
                              engine_manifest=manifest, cache_cfg=cache_cfg, seen=seen)
    try:
        results, stats = run_items(keys, conversations, factory, params, out_path, fingerprint,
                                   cache=cache, model_identity=model_id, engine=engine_id)
    finally:
        if cache is not None:
            cache.close()
    if request_ids is not None:
        from ..generation.cache import request_key

        request_ids.update({k: request_key(model_id, conv, params, engine_id) for k, conv in zip(keys, conversations)})
    stats["params"] = params.__dict__
    stats["model"] = model_id
    stats["engine"] = engine_id
    stats["backend"] = stage_cfg["backend"]["name"]
    if seen:
        stats["engine_lease"] = seen
    price = (model_spec or {}).get("price_per_mtok")
    if price:
        stats["cost_usd"] = round(stats["prompt_tokens"] * price.get("input", 0) / 1e6
                                  + stats["completion_tokens"] * price.get("output", 0) / 1e6, 6)
    check_failures(stats, stage_cfg, stage, out_path)
    return results, stats


def failures_path(out_path) -> Path:
    return Path(str(out_path) + ".failures.jsonl")


def check_failures(stats: dict, stage_cfg: dict, stage: str, out_path=None) -> None:
    """Write items that failed for good to <out>.failures.jsonl (never into the data), and stop the
    stage if their share exceeds backend.max_failure_share."""
    if out_path is not None:
        path = failures_path(out_path)
        if stats["failed"]:
            write_jsonl(path, stats["failures"])
        elif path.exists():
            path.unlink()
    share = stats["failed"] / max(stats["items"], 1)
    limit = stage_cfg["backend"].get("max_failure_share", 0.0)
    if stats["failed"] and share > limit:
        first = stats["failures"][0]
        raise SkyT1Error(f"{stage}: {stats['failed']} of {stats['items']} items failed ({share:.1%} > max_failure_share {limit:.1%}); "
                         f"first: {first['key']}: {first['error']}",
                         "rerun the stage (finished items are kept), or raise backend.max_failure_share")
