"""The request cache on a shared filesystem: no file is written by two processes, nothing is locked,
and what every job stored is read by the next ones (skyt1.generation.cache)."""
import multiprocessing
import os
import sqlite3
import time

from skyt1.generation import Completion
from skyt1.generation import cache as rc


def comp(text):
    return Completion([text], ["stop"], 3, 1)


def _job(path, keys, barrier):
    c = rc.RequestCache(path)
    barrier.wait()  # both jobs write at the same time
    for k in keys:
        c.put(k, comp(f"answer {k}"))
        assert c.get(k).texts == [f"answer {k}"]  # its own rows, before it closes
    c.close()


def journal_mode(path):
    db = sqlite3.connect(rc._uri(path, mode="ro", immutable=1), uri=True)
    try:
        return db.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        db.close()


def test_parallel_jobs_write_their_own_shards_and_later_jobs_read_them_all(tmp_path):
    path = tmp_path / "requests.sqlite"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    jobs = [ctx.Process(target=_job, args=(path, [f"a{i}" for i in range(50)] + ["both"], barrier)),
            ctx.Process(target=_job, args=(path, [f"b{i}" for i in range(50)] + ["both"], barrier))]
    for j in jobs:
        j.start()
    for j in jobs:
        j.join(60)
        assert j.exitcode == 0
    shards = sorted(rc.shard_dir(path).iterdir())
    assert len(shards) == 2 and all(s.suffix == ".sqlite" for s in shards)  # one per job, closed
    assert all(journal_mode(s) == "delete" for s in shards)  # never WAL (it needs one host's shared memory)
    assert not list(tmp_path.rglob("*-wal")) and not list(tmp_path.rglob("*-shm"))
    later = rc.RequestCache(path)
    assert all(later.get(k) is not None for k in ["both"] + [f"a{i}" for i in range(50)] + [f"b{i}" for i in range(50)])
    assert later.get("never") is None
    later.close()
    assert len(list(rc.shard_dir(path).iterdir())) == 2  # a job that only read leaves no shard


def test_merge_folds_shards_into_the_store_while_readers_keep_reading(tmp_path):
    path = tmp_path / "requests.sqlite"
    for batch in ("x", "y"):
        c = rc.RequestCache(path)
        c.put(batch, comp(batch))
        c.close()
    reader = rc.RequestCache(path)  # opened before the merge
    assert rc.merge_shards(path) == {"shards": 2, "rows": 2}
    assert not list(rc.shard_dir(path).iterdir()) and journal_mode(path) == "delete"
    assert reader.get("x").texts == ["x"] and reader.get("y").texts == ["y"]  # its files stay readable
    reader.close()
    c = rc.RequestCache(path)
    c.put("z", comp("z"))
    c.close()
    assert rc.merge_shards(path) == {"shards": 1, "rows": 3}  # the store is rebuilt with the new rows
    fresh = rc.RequestCache(path)
    assert [fresh.get(k).texts for k in "xyz"] == [["x"], ["y"], ["z"]]
    fresh.close()
    assert rc.merge_shards(path) == {"shards": 0}


def test_a_dead_jobs_open_shard_is_merged_only_once_stale(tmp_path):
    path = tmp_path / "requests.sqlite"
    c = rc.RequestCache(path)
    c.put("k", comp("v"))
    c._own.close()  # the job dies: its shard stays .open, never renamed
    (shard,) = rc.shard_dir(path).glob("*.open")
    other = rc.RequestCache(path)
    assert other.get("k") is None  # an open shard is nobody else's to read while its job may be alive
    other.close()
    assert rc.merge_shards(path) == {"shards": 0} and shard.exists()
    old = time.time() - rc.STALE_OPEN_S - 60
    os.utime(shard, (old, old))
    assert rc.merge_shards(path) == {"shards": 1, "rows": 1} and not shard.exists()
    again = rc.RequestCache(path)
    assert again.get("k").texts == ["v"]
    again.close()


def test_a_store_left_in_wal_mode_is_converted(tmp_path):
    path = tmp_path / "requests.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(rc.SCHEMA)
    db.execute("INSERT INTO requests VALUES ('old', ?)", ('{"texts": ["o"], "finish_reasons": ["stop"], '
                                                          '"prompt_tokens": 1, "completion_tokens": 1}',))
    db.commit()
    held = sqlite3.connect(path)  # a second connection keeps the -wal file in place at close
    held.execute("SELECT COUNT(*) FROM requests").fetchall()
    db.close()
    assert (tmp_path / "requests.sqlite-wal").exists()
    assert rc.merge_shards(path) == {"shards": 0, "rows": 1}
    held.close()
    assert journal_mode(path) == "delete"
    c = rc.RequestCache(path)
    assert c.get("old").texts == ["o"]
    c.close()


def test_a_second_merge_waits_for_the_first(tmp_path):
    path = tmp_path / "requests.sqlite"
    c = rc.RequestCache(path)
    c.put("k", comp("v"))
    c.close()
    lock = tmp_path / "requests.sqlite.merge-lock"
    lock.write_text("")
    assert "another merge" in rc.merge_shards(path)["skipped"]
    old = time.time() - 7200
    os.utime(lock, (old, old))  # left by a merge that died
    assert rc.merge_shards(path) == {"shards": 1, "rows": 1} and not lock.exists()
