"""A persistent request cache: never pay twice for the same model call.

Key: the model's identity (weights sha256 / resolved hub commit / api model id), the engine where
it changes outputs (backend, its version, dtype), the full messages and every sampling parameter
including the seed. Never load times, prices, batch sizes or other throughput settings. Value: the completion (texts, finish reasons, token counts).
Stored in one SQLite file (WAL mode, so parallel jobs can share it); outside results/ by default so
that cleaning results does not throw away paid API calls."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from ..io import stable_hash
from . import Completion, Params


def request_key(model_identity, messages: list[dict], params: Params, engine=None) -> str:
    return stable_hash({"model": model_identity, "engine": engine, "messages": messages, "params": params.__dict__})


class RequestCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self._db.commit()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM requests WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        v = json.loads(row[0])
        return Completion(v["texts"], v["finish_reasons"], v["prompt_tokens"], v["completion_tokens"])

    def put(self, key: str, comp: Completion) -> None:
        if comp.error:
            return  # failures are never cached: the next run tries again
        value = json.dumps({"texts": comp.texts, "finish_reasons": comp.finish_reasons,
                            "prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens},
                           ensure_ascii=False)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO requests (key, value) VALUES (?, ?)", (key, value))
            self._db.commit()

    def close(self) -> None:
        with self._lock:
            self._db.close()
