"""A persistent request cache: never pay twice for the same model call.

Key: the model's identity (weights sha256 / resolved hub commit / api model id), the engine where
it changes outputs (backend, its version, dtype), the full messages and every sampling parameter
including the seed. Never load times, prices, batch sizes or other throughput settings. Value: the completion (texts, finish reasons, token counts).
Outside results/ by default so that cleaning results does not throw away paid API calls.

Safe on a shared (network) filesystem, where jobs on many nodes use one cache folder at once. SQLite's
WAL mode needs shared memory between its users and so one host ("WAL does not work over a network
filesystem", sqlite.org/wal.html), and its rollback journal relies on POSIX locks that NFS often gets wrong
(sqlite.org/howtocorrupt.html, section 2.1). So no file here is ever written by two processes, and no lock
is taken:
- each job writes its new completions into a shard of its own, requests.d/<host>-<pid>-<random>.open
  (opened with nolock: nobody else touches it), renamed to .sqlite when the job closes the cache;
- readers open the merged store requests.sqlite and the closed shards read-only as immutable files
  (a closed shard is never written again; the merged store is only ever replaced whole, by rename);
- merge_shards() folds closed shards (and those of jobs that died long ago) into a new merged store and
  renames it into place. Snakemake's main process runs it at the start of every run (rules/common.smk),
  before any job of that run starts; an exclusive lock file keeps two merges apart."""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

from ..core.io import stable_hash
from . import Completion, Params

log = logging.getLogger(__name__)

SCHEMA = "CREATE TABLE IF NOT EXISTS requests (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
# a job's open shard untouched this long belongs to a job that died: merge_shards() takes it in
STALE_OPEN_S = 24 * 3600


def request_key(model_identity, messages: list[dict], params: Params, engine=None) -> str:
    return stable_hash({"model": model_identity, "engine": engine, "messages": messages, "params": params.__dict__})


def shard_dir(path: Path) -> Path:
    return path.parent / f"{path.stem}.d"


def _uri(path: Path, **flags) -> str:
    return f"file:{quote(str(path.resolve()))}?" + "&".join(f"{k}={v}" for k, v in flags.items())


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(_uri(path, mode="ro", immutable=1), uri=True, check_same_thread=False)


class RequestCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.shards = shard_dir(self.path)
        self.shards.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # what other jobs stored, as of now: the merged store, then closed shards (newest first)
        readers = [self.path] if self.path.exists() else []
        readers += sorted(self.shards.glob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
        self._readers = []
        for p in readers:
            try:
                self._readers.append(_read_only(p))
            except sqlite3.Error as e:  # merged away between the listing and the open: its rows are in the store
                log.debug("request cache: skipping %s (%s)", p, e)
        self._own: sqlite3.Connection | None = None
        self._own_path = self.shards / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}.open"

    def _writer(self) -> sqlite3.Connection:
        if self._own is None:  # created at the first completion: a job that only reads leaves no shard
            db = sqlite3.connect(_uri(self._own_path, mode="rwc", nolock=1), uri=True, check_same_thread=False)
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute(SCHEMA)
            db.commit()
            self._own = db
        return self._own

    def get(self, key: str) -> Completion | None:
        row = None
        with self._lock:
            for db in ([self._own] if self._own is not None else []) + self._readers:
                try:
                    row = db.execute("SELECT value FROM requests WHERE key = ?", (key,)).fetchone()
                except sqlite3.Error:
                    continue  # an empty or foreign file: no rows
                if row is not None:
                    break
        if row is None:
            return None
        v = json.loads(row[0])
        return Completion(v["texts"], v["finish_reasons"], v["prompt_tokens"], v["completion_tokens"])

    def put(self, key: str, comp: Completion) -> None:
        if comp.error:
            return  # failures are never cached: the next run tries again
        value = json.dumps({"texts": comp.texts, "finish_reasons": comp.finish_reasons,
                            "prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens},
                           ensure_ascii=False)
        with self._lock:
            db = self._writer()
            db.execute("INSERT OR REPLACE INTO requests (key, value) VALUES (?, ?)", (key, value))
            db.commit()

    def close(self) -> None:
        with self._lock:
            for db in self._readers:
                db.close()
            self._readers = []
            if self._own is not None:
                self._own.close()
                self._own = None
                # closed: from now on a read-only, immutable file for every other job
                os.replace(self._own_path, self._own_path.with_suffix(".sqlite"))


def merge_shards(path: str | Path, stale_open_s: float = STALE_OPEN_S) -> dict:
    """Fold the closed shards (and open ones untouched for stale_open_s: their jobs died) into the merged
    store: a new file built beside it and renamed over it, then the merged shards are deleted. Returns
    {"shards": n, "rows": rows in the store} ({"skipped": reason} if another merge holds the lock)."""
    path = Path(path)
    shards = shard_dir(path)
    now = time.time()
    todo = sorted(shards.glob("*.sqlite"))  # none if the folder does not exist
    todo += [p for p in sorted(shards.glob("*.open")) if now - p.stat().st_mtime > stale_open_s]
    legacy_wal = Path(f"{path}-wal").exists()
    if not todo and not legacy_wal:
        return {"shards": 0}
    lock = path.parent / f"{path.name}.merge-lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # atomic on NFSv3+ and local disks
    except FileExistsError:
        if now - lock.stat().st_mtime < 3600:
            return {"skipped": f"{lock} exists: another merge is running"}
        lock.unlink(missing_ok=True)  # left by a merge that died an hour ago
        return merge_shards(path, stale_open_s)
    os.close(fd)
    tmp = path.parent / f"{path.name}.merging-{os.getpid()}"
    try:
        out = sqlite3.connect(_uri(tmp, mode="rwc"), uri=True)  # uri: ATTACH takes URIs too
        if path.exists():
            old = sqlite3.connect(path)  # a plain open: folds in a WAL file left by earlier versions
            old.backup(out)
            old.close()
        out.execute("PRAGMA journal_mode=DELETE")
        out.execute(SCHEMA)
        merged = []
        for shard in todo:
            flags = {"mode": "ro", "immutable": 1} if shard.suffix == ".sqlite" else {"mode": "rw", "nolock": 1}
            try:
                out.execute("ATTACH DATABASE ? AS s", (_uri(shard, **flags),))
            except sqlite3.Error as e:
                log.warning("request cache: cannot read shard %s (%s); left as it is", shard, e)
                continue
            try:
                out.execute("INSERT OR IGNORE INTO requests (key, value) SELECT key, value FROM s.requests")
                out.commit()
                merged.append(shard)
            except sqlite3.Error as e:  # a job that died before its first row: no table
                log.warning("request cache: shard %s has no rows (%s)", shard, e)
                out.commit()
                merged.append(shard)
            finally:
                out.execute("DETACH DATABASE s")
        rows = out.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        out.close()
        os.replace(tmp, path)
        for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        for shard in merged:
            shard.unlink(missing_ok=True)
            Path(f"{shard}-journal").unlink(missing_ok=True)
        return {"shards": len(merged), "rows": rows}
    finally:
        tmp.unlink(missing_ok=True)
        lock.unlink(missing_ok=True)
