"""Run a backend over keyed conversations with item-level resume.

Each finished item is appended (and flushed) to <out>.partial as it completes. A rerun after a crash
reads that file and generates only what is missing, provided the fingerprint (model identity,
messages-building config, sampling parameters) is unchanged; otherwise the partial file is discarded."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import Backend, Completion, Params

log = logging.getLogger(__name__)


def partial_path(out_path: str | Path) -> Path:
    return Path(str(out_path) + ".partial")


def _load_partial(path: Path, fingerprint: str) -> tuple[dict[str, dict], int]:
    """(finished rows by key, byte length of the file's good prefix). A crash can leave a torn last
    line (no newline, or not JSON): it and anything after it is not part of the good prefix."""
    if not path.exists():
        return {}, 0
    done: dict[str, dict] = {}
    good = 0
    with open(path, "rb") as f:
        header = f.readline()
        try:
            if not header.endswith(b"\n") or json.loads(header).get("fingerprint") != fingerprint:
                log.info("discarding %s: it was made with other settings", path)
                return {}, 0
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return {}, 0
        good = len(header)
        for line in f:
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("torn")
                row = json.loads(line)
            except (ValueError, UnicodeDecodeError):
                log.info("%s: dropping a torn line at byte %d (a crash mid-write)", path, good)
                break
            done[row["key"]] = row
            good += len(line)
    return done, good


@dataclass(frozen=True)
class Partial:
    """Where finished items are kept as they come (<out>.partial), and the fingerprint of the settings
    that made them (another fingerprint discards the file)."""
    out_path: str | Path
    fingerprint: str


@dataclass(frozen=True)
class Lookup:
    """The request cache (generation.cache.RequestCache) and what keys a request in it besides its
    messages and params: the model's identity and the engine's."""
    cache: Any
    model_identity: Any
    engine: Any = None


def run_items(keys: list[str], conversations: list[list[dict]], backend_factory, params: Params,
              partial: Partial, lookup: Lookup | None = None) -> tuple[dict[str, Completion], dict]:
    """Return (completions by key, stats). backend_factory is only called if something is left to do
    after the partial file and the request cache (if given) have been consulted."""
    out_path, fingerprint = partial.out_path, partial.fingerprint
    cache = lookup.cache if lookup is not None else None
    assert len(keys) == len(set(keys)), "keys must be unique"
    ppath = partial_path(out_path)
    ppath.parent.mkdir(parents=True, exist_ok=True)
    done, good = _load_partial(ppath, fingerprint)
    wanted = set(keys)  # built once: each lookup below is O(1)
    results = {k: Completion(**{f: row[f] for f in ("texts", "finish_reasons", "prompt_tokens", "completion_tokens")})
               for k, row in done.items() if k in wanted}
    todo = [i for i, k in enumerate(keys) if k not in results]
    stats = {"items": len(keys), "resumed": len(results), "cached": 0, "generated": 0, "failed": 0,
             "prompt_tokens": 0, "completion_tokens": 0, "wall_seconds": 0.0, "failures": []}
    t0 = time.time()
    if todo:
        fresh = not ppath.exists() or not done
        if not fresh and ppath.stat().st_size > good:
            with open(ppath, "r+b") as torn:
                torn.truncate(good)  # so the next record starts on a line of its own
        with open(ppath, "w" if fresh else "a", encoding="utf-8") as f:
            if fresh:
                f.write(json.dumps({"fingerprint": fingerprint}) + "\n")
                for k, row in done.items():
                    f.write(json.dumps(row) + "\n")

            def record(key: str, comp: Completion) -> None:
                results[key] = comp
                row = {"key": key, **{k: v for k, v in asdict(comp).items() if k not in ("error", "extra")}}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()

            request_keys = {}
            if cache is not None:
                from .cache import request_key
                remaining = []
                for i in todo:
                    request_keys[i] = request_key(lookup.model_identity, conversations[i], params, lookup.engine)
                    hit = cache.get(request_keys[i])
                    if hit is None:
                        remaining.append(i)
                    else:
                        stats["cached"] += 1
                        record(keys[i], hit)
                todo = remaining
            log.info("%d items: %d resumed, %d from the request cache, %d to generate",
                     len(keys), stats["resumed"], stats["cached"], len(todo))

            def on_done(j: int, comp: Completion) -> None:
                i = todo[j]
                if comp.error:
                    stats["failed"] += 1
                    stats["failures"].append({"key": keys[i], "error": comp.error})
                    return
                if cache is not None:
                    cache.put(request_keys[i], comp)
                stats["generated"] += 1
                stats["prompt_tokens"] += comp.prompt_tokens
                stats["completion_tokens"] += comp.completion_tokens
                record(keys[i], comp)

            if todo:
                backend: Backend = backend_factory()
                try:
                    backend.generate([conversations[i] for i in todo], params, on_done)
                finally:
                    backend.close()
    stats["wall_seconds"] = round(time.time() - t0, 2)
    if stats["wall_seconds"] > 0:
        stats["completion_tokens_per_s"] = round(stats["completion_tokens"] / stats["wall_seconds"], 2)
    return results, stats


def finish(out_path: str | Path) -> None:
    """Drop the partial file once the final output has been written."""
    p = partial_path(out_path)
    if p.exists():
        p.unlink()
