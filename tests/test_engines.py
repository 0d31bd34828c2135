"""Local engines (skyt1.engines): the real CPU engine server on the real tiny model, shared through the
registry, stopped by its watchdog when idle, and every way it can fail to start is one clear line."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from skyt1 import config as skyt1_config
from skyt1 import engines
from skyt1.errors import SkyT1Error
from skyt1.generation import Params
from skyt1.stages.common import backend_factory

from conftest import REPO


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


def test_jobs_of_one_model_share_one_load_and_the_idle_engine_stops(tiny_model, tmp_path):
    registry = tmp_path / "engines"
    launch = engines.launch_for({"name": "skyt1", "batch_size": 4}, str(tiny_model), "tiny", threads=2)
    log = tmp_path / "engine.log"
    with engines.lease(launch, registry, log_path=str(log), idle_s=2) as first:
        assert not first.reused and first.load_seconds > 0
        # a second job while the first holds its lease, and a third after it: the same engine
        with engines.lease(launch, registry, log_path=str(tmp_path / "other.log"), idle_s=2) as second:
            assert second.reused and second.url == first.url and second.log == str(log)
    with engines.lease(launch, registry, idle_s=2) as third:
        assert third.reused and third.url == first.url
        [rec] = engines.running(registry)
        assert rec["leases"] == 1 and rec["load_seconds"] == first.load_seconds
    # another launch (another batch size) is another engine
    other = engines.launch_for({"name": "skyt1", "batch_size": 2}, str(tiny_model), "tiny", threads=2)
    assert other.key() != launch.key()
    assert wait_until(lambda: not engines.running(registry), timeout=30)  # idle for 2 s: stopped
    assert "idle for 2 s with no lease: stopping it" in log.read_text()
    with pytest.raises(OSError):
        urllib.request.urlopen(first.url.rsplit("/v1", 1)[0] + "/health", timeout=2)


def test_a_failing_stage_and_a_killed_holder_both_let_the_engine_stop(tiny_model, tmp_path):
    registry = tmp_path / "engines"
    launch = engines.launch_for({"name": "skyt1", "batch_size": 2}, str(tiny_model), "tiny", threads=1)
    with pytest.raises(RuntimeError):
        with engines.lease(launch, registry, idle_s=1):
            raise RuntimeError("the stage failed")
    assert wait_until(lambda: not engines.running(registry))
    # A holder killed with -9 leaves a stale lease: the watchdog sees its process is gone.
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from skyt1 import engines\n"
        f"launch = engines.launch_for({{'name': 'skyt1', 'batch_size': 2}}, {str(tiny_model)!r}, 'tiny', threads=1)\n"
        f"with engines.lease(launch, Path({str(registry)!r}), idle_s=1):\n"
        "    print('leased', flush=True); time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "leased"
    [rec] = engines.running(registry)
    assert rec["leases"] == 1
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert wait_until(lambda: not engines.running(registry))


def test_an_engine_that_dies_or_hangs_at_start_is_one_line_naming_its_log(tmp_path):
    registry = tmp_path / "engines"
    log = tmp_path / "engine.log"
    missing = engines.launch_for({"name": "skyt1"}, str(tmp_path / "no-such-model"), "tiny")
    with pytest.raises(SkyT1Error) as err:
        with engines.lease(missing, registry, log_path=str(log)):
            pass
    assert "exited with code" in str(err.value) and str(log) in str(err.value)
    assert "\n" not in str(err.value) and "no-such-model" in log.read_text()
    # A server that never answers /health in time is stopped, not left behind.
    slow = engines.Launch(kind="skyt1", argv=(sys.executable, "-c", "import time; time.sleep(600)"), name="slow")
    with pytest.raises(SkyT1Error) as err:
        with engines.lease(slow, registry, log_path=str(log), startup_timeout=1.0):
            pass
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
    """The stage's client on a leased engine: concurrency twice the engine's batch by default, so the
    engine's continuous batching stays full; the lease is dropped when the client closes."""
    cache = {"dir": str(tmp_path / "cache")}
    backend = {"name": "skyt1", "batch_size": 3, "idle_s": 1}
    seen: dict = {}
    client = backend_factory(backend, str(tiny_model), "tiny", threads=2, gpus=0, cache_cfg=cache, seen=seen)()
    try:
        assert client.inner.concurrency == 6 and seen["reused"] is False
        convs = [[{"role": "user", "content": f"Count to {i}."}] for i in range(7)]
        done = {}
        client.generate(convs, Params(max_new_tokens=6), lambda i, c: done.__setitem__(i, c))
        assert sorted(done) == list(range(7)) and all(c.completion_tokens > 0 for c in done.values())
        assert stats(client.inner.base_url)["requests"] == 7
    finally:
        client.close()
    assert wait_until(lambda: not engines.running(engines.default_registry(cache)))
    with pytest.raises(SkyT1Error, match="is an external endpoint, but tiny is a local model"):
        backend_factory({"name": "openai"}, str(tiny_model), "tiny", 1, 0)()
    with pytest.raises(SkyT1Error, match="starts a local engine, but gpt is an api model"):
        backend_factory({"name": "skyt1"}, {"source": "api", "api_model": "gpt"}, "gpt", 1, 0)()
    assert os.environ.get("HF_HUB_OFFLINE") == "1"


def test_engine_and_client_resources_follow_the_backend():
    """An engine job takes its stage's machine (vLLM: its tensor-parallel GPUs); the stage's jobs on it
    are clients (resources.client, no GPU); a stage on an external endpoint keeps its own resources."""
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(REPO / "config/sky-t1-32b.yaml"), REPO / "config")
    assert engines.on_engine(cfg, "eval") and engines.on_engine(cfg, "sample") and not engines.on_engine(cfg, "rewrite")
    assert engines.engine_gpus(cfg, "eval") == engines.engine_gpus(cfg, "sample") == 8
    client = cfg["resources"]["client"]
    assert [engines.job_resource(cfg, "eval", k) for k in ("threads", "mem_mb", "gpu", "runtime")] == \
        [client["threads"], client["mem_mb"], 0, cfg["resources"]["evaluate"]["runtime"]]
    assert engines.job_resource(cfg, "rewrite", "threads") == cfg["resources"]["rewrite"]["threads"]
    tiny = skyt1_config.resolve({}, REPO / "config")
    assert engines.engine_gpus(tiny, "eval") == 0 and engines.job_resource(tiny, "sample", "threads") == 2
