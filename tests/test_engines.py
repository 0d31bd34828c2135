"""Local engines (skyt1.engine.owned): the real CPU engine server on the real tiny model, owned by the job that
needs it (started on first use, stopped when the job ends, fails or is killed), and every way it can fail
to start is one clear line."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from skyt1 import config as skyt1_config
from skyt1.engine import owned as engines
from skyt1.core.errors import SkyT1Error
from skyt1.generation import Params
from skyt1.stages.common import Job, Model, Target, backend_factory

from conftest import REPO

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow


def stats(url):
    with urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/skyt1/stats", timeout=10) as r:
        return json.loads(r.read())


def wait_until(cond, timeout=30.0):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if cond():
            return True
        time.sleep(0.2)
    return False


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1][0] != "Z"


def test_a_job_starts_its_engine_on_first_use_and_stops_it(tiny_model, tmp_path):
    launch = engines.launch_for({"name": "skyt1", "batch_size": 4}, str(tiny_model), "tiny", threads=2)
    log = tmp_path / "engine.log"
    with engines.OwnedEngine(launch, str(log)) as eng:
        assert eng.loads == 0 and eng.pid is None  # nothing started before a request needs it
        url = eng.url("first target")
        again = eng.url("second target")  # every later target of the job: the same engine
        assert url == again and eng.loads == 1 and eng.load_seconds > 0 and eng.started_for == "first target"
        pid = eng.pid
        assert stats(url)["requests"] == 0
        m = eng.manifest()
        assert m["loads"] == 1 and m["kind"] == "skyt1" and m["started_for"] == "first target"
    assert not alive(pid)  # stopped with the block
    assert "engine skyt1 for tiny: " in log.read_text()
    with pytest.raises(OSError):
        urllib.request.urlopen(url.rsplit("/v1", 1)[0] + "/health", timeout=2)


def test_a_failing_or_killed_job_leaves_no_engine(tiny_model, tmp_path):
    launch = engines.launch_for({"name": "skyt1", "batch_size": 2}, str(tiny_model), "tiny", threads=1)
    with pytest.raises(RuntimeError):
        with engines.OwnedEngine(launch) as eng:
            eng.url()
            pid = eng.pid
            raise RuntimeError("the stage failed")
    assert not alive(pid)
    # A job stopped with SIGTERM (scancel, snakemake) stops its engine; one killed with -9 takes it along
    # (PR_SET_PDEATHSIG), with or without cgroup tracking.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        holder = subprocess.Popen([sys.executable, "-c", (
            "import time; from skyt1.engine import owned as engines\n"
            f"launch = engines.launch_for({{'name': 'skyt1', 'batch_size': 2}}, {str(tiny_model)!r}, 'tiny', threads=1)\n"
            "with engines.OwnedEngine(launch) as eng:\n"
            "    eng.url(); print(eng.pid, flush=True); time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
        pid = int(holder.stdout.readline())
        assert alive(pid)
        holder.send_signal(sig)
        holder.wait(timeout=60)
        assert wait_until(lambda: not alive(pid), timeout=30), sig


def test_an_engine_that_dies_or_hangs_at_start_is_one_line_naming_its_log(tmp_path):
    log = tmp_path / "engine.log"
    missing = engines.launch_for({"name": "skyt1"}, str(tmp_path / "no-such-model"), "tiny")
    with pytest.raises(SkyT1Error) as err:
        with engines.OwnedEngine(missing, str(log)) as eng:
            eng.url()
    assert "exited with code" in str(err.value) and str(log) in str(err.value)
    assert "\n" not in str(err.value) and "no-such-model" in log.read_text()
    # A server that never answers /health in time is stopped, not left behind.
    slow = engines.Launch(kind="skyt1", argv=(sys.executable, "-c", "import time; time.sleep(600)"), name="slow")
    with pytest.raises(SkyT1Error) as err:
        with engines.OwnedEngine(slow, str(log), startup_timeout=1.0) as eng:
            eng.url()
    assert "did not answer /health within 1 s" in str(err.value) and str(log) in str(err.value)
    out = subprocess.run(["pgrep", "-f", "import time; time.sleep(600)"], capture_output=True, text=True).stdout
    assert not out.strip(), out


def test_vllm_launch_carries_the_preset_engine_arguments(tmp_path, monkeypatch):
    """vLLM cannot run here (no GPU, no CPU wheel): its launch is built from the 32B preset and checked;
    without vllm installed the stage stops with one line."""
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(REPO / "config/sky-t1-32b.yaml"), REPO / "config")
    backend = cfg["eval"]["backend"]
    with pytest.raises(SkyT1Error, match="needs the vllm package and CUDA GPUs"):
        engines.launch_for(backend, str(tmp_path), "sky-t1", gpus=8)
    launch = engines.launch_for(backend, str(tmp_path), "sky-t1", gpus=8, executable="/envs/vllm/bin/vllm")
    argv = list(launch.argv)
    assert argv[:3] == ["/envs/vllm/bin/vllm", "serve", str(tmp_path.resolve())]
    opt = {argv[i]: argv[i + 1] for i in range(3, len(argv) - 1) if argv[i].startswith("--")}
    assert opt["--tensor-parallel-size"] == "8" and opt["--dtype"] == "bfloat16"
    assert opt["--max-model-len"] == str(backend["max_model_len"]) == "32768"
    assert opt["--served-model-name"] == "sky-t1" and opt["--host"] == "127.0.0.1" and opt["--port"] == "{port}"
    assert opt["--gpu-memory-utilization"] == "0.9"


def test_stage_client_keeps_requests_in_flight_above_the_engine_batch(tiny_model, tmp_path):
    """The stage's client on an engine it started for itself (no job engine given): concurrency twice the
    engine's batch by default, so the engine's continuous batching stays full; closing the client stops
    the engine."""
    backend = {"name": "skyt1", "batch_size": 3}
    seen: dict = {}
    local = Model(str(tiny_model), {"source": "gguf_package"}, "tiny")
    client = backend_factory(Target("t", local, backend, None, tmp_path / "o.jsonl", Job(threads=2)), seen=seen)()
    try:
        assert client.inner.concurrency == 6 and seen["started"] is True and seen["load_seconds"] > 0
        pid = client.own.pid
        convs = [[{"role": "user", "content": f"Count to {i}."}] for i in range(7)]
        done = {}
        client.generate(convs, Params(max_new_tokens=6), lambda i, c: done.__setitem__(i, c))
        assert sorted(done) == list(range(7)) and all(c.completion_tokens > 0 for c in done.values())
        assert stats(client.inner.base_url)["requests"] == 7
    finally:
        client.close()
    assert not alive(pid)
    with pytest.raises(SkyT1Error, match="is an external endpoint, but tiny is a local model"):
        backend_factory(Target("t", local, {"name": "openai"}, None, tmp_path / "o.jsonl"))()
    with pytest.raises(SkyT1Error, match="starts a local engine, but gpt is an api model"):
        backend_factory(Target("t", Model(None, {"source": "api", "api_model": "gpt"}, "gpt"), {"name": "skyt1"}, None,
                               tmp_path / "o.jsonl"))()
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_a_generation_job_takes_its_engines_machine():
    """A generation job owns its engine: the stage's threads and memory, the engine's GPUs (vLLM: its
    tensor-parallel size), one engine start plus the stage's runtime per target; a stage on an external
    endpoint starts nothing and keeps its own resources."""
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(REPO / "config/sky-t1-32b.yaml"), REPO / "config")
    assert engines.on_engine(cfg, "eval") and engines.on_engine(cfg, "sample") and not engines.on_engine(cfg, "rewrite")
    assert engines.engine_gpus(cfg, "eval") == engines.engine_gpus(cfg, "sample") == 8
    ev, start = cfg["resources"]["evaluate"], cfg["resources"]["engine"]["runtime"]
    assert [engines.job_resource(cfg, "eval", k, targets=7) for k in ("threads", "mem_mb", "gpu", "runtime")] == \
        [ev["threads"], ev["mem_mb"], 8, start + 7 * ev["runtime"]]
    rw = cfg["resources"]["rewrite"]
    assert engines.job_resource(cfg, "rewrite", "threads") == rw["threads"]
    assert engines.job_resource(cfg, "rewrite", "runtime", targets=3) == 3 * rw["runtime"]  # no engine start
    tiny = skyt1_config.resolve({}, REPO / "config")
    assert engines.engine_gpus(tiny, "eval") == 0 and engines.job_resource(tiny, "sample", "threads") == 2


def test_shards_cover_every_record_once_and_merge_back_in_order(tmp_path):
    """sample.shards: shard k of n takes every n-th record; the merge puts them back in the records' order,
    and refuses (writing nothing) a record in two shards or in none unless it failed for good there."""
    from skyt1.core.io import read_json, read_jsonl, write_json, write_jsonl
    from skyt1.stages.sample import merge, shard_of

    recs = [{"id": f"r{i}"} for i in range(7)]
    parts = [shard_of(recs, k, 3) for k in range(3)]
    assert sorted(r["id"] for p in parts for r in p) == sorted(r["id"] for r in recs)
    assert [len(p) for p in parts] == [3, 2, 2]
    with pytest.raises(SkyT1Error, match="shard 3 of 3 does not exist"):
        shard_of(recs, 3, 3)
    records = tmp_path / "records.jsonl"
    write_jsonl(records, recs)

    def shard_files(rows_by_shard, failed=()):
        paths = []
        for k, rows in enumerate(rows_by_shard):
            t, s = tmp_path / f"s{k}.jsonl", tmp_path / f"s{k}.stats.json"
            write_jsonl(t, rows)
            write_json(s, {"items": len(rows), "generated": len(rows), "prompt_tokens": 10, "completion_tokens": 5,
                           "failed": 0, "failures": [{"key": f, "error": "x"} for f in failed if f in {r["id"] for r in rows} or k == 0]})
            paths.append((t, s))
        return [p[0] for p in paths], [p[1] for p in paths]

    rows = [[{"id": f"{r['id']}#{j}", "record_id": r["id"], "sample_index": j} for r in p for j in range(2)] for p in parts]
    traces, stats = shard_files(rows)
    out, out_stats = tmp_path / "merged.jsonl", tmp_path / "merged.stats.json"
    merge(records, traces, stats, out, out_stats)
    merged = read_jsonl(out)
    assert [(m["record_id"], m["sample_index"]) for m in merged] == [(r["id"], j) for r in recs for j in range(2)]
    s = read_json(out_stats)
    assert s["rows"] == 14 and s["prompt_tokens"] == 30 and len(s["shards"]) == 3
    out.unlink()
    # a record in two shards
    traces, stats = shard_files([rows[0] + rows[1][:1], rows[1], rows[2]])
    with pytest.raises(SkyT1Error, match="is in shards 0 and 1"):
        merge(records, traces, stats, out, out_stats)
    assert not out.exists()
    # a record in none: an error, unless its shard says it failed for good
    lost = [r for r in rows[2] if r["record_id"] != "r2"]
    traces, stats = shard_files([rows[0], rows[1], lost])
    with pytest.raises(SkyT1Error, match="1 records are in no shard"):
        merge(records, traces, stats, out, out_stats)
    traces, stats = shard_files([rows[0], rows[1], lost], failed=("r2",))
    merge(records, traces, stats, out, out_stats)
    assert "r2" not in {m["record_id"] for m in read_jsonl(out)} and len(read_json(out_stats)["failures"]) == 1
