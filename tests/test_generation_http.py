"""Generation over real HTTP: the project's OpenAI-compatible server with the real tiny model, the
real openai client, the request cache and faults injected by a proxy (kill -9 resume and call counts
across reruns: test_nothing_paid_twice.py)."""
import json
import time
import urllib.request

import pytest
from faultproxy import FAULTS, FaultProxy

from skyt1.core.errors import SkyT1Error
from skyt1.generation import Params
from skyt1.generation.openai_backend import OpenAIBackend
from skyt1.core.io import read_jsonl, write_jsonl
from skyt1.engine.server import local_server
from skyt1.stages import rewrite
from skyt1.stages.common import Paths

# Starts engines, trains, runs Snakemake or many sandboxes: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

PROMPT = {"system": "You are a helpful assistant.", "fewshot": []}
API_MODEL = {"source": "api", "api_model": "tiny"}


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with local_server(str(tiny_model), "tiny", batch_size=8, threads=2, log_path=str(log)) as url:
        yield url


def traces(n):
    return [{"id": f"arith/{i}", "record_id": f"arith/{i}", "source": "arith", "domain": "math",
             "question": f"Calculate {i} + {i + 1}.", "answer": str(2 * i + 1), "tests": None, "metadata": {},
             "trace": f"We add {i} and {i + 1}: {i} + {i + 1} = {2 * i + 1}. The final answer is \\boxed{{{2 * i + 1}}}.",
             "sample_index": 0} for i in range(n)]


def rewrite_cfg(**backend):
    return {"model": "tiny", "prompt": "p", "mode": "solution_only",
            "backend": {"name": "openai", "concurrency": 4, "max_retries": 8, "max_failure_share": 0.0, **backend},
            "params": {"max_new_tokens": 16, "temperature": 0.0, "top_p": 1.0, "n": 1, "seed": 0}}


def run_rewrite(src, out, cfg, cache=None):
    """The rewrite stage on `src` with the api model (cache None: no request cache)."""
    spec = rewrite.Spec(cfg=cfg, prompt=PROMPT, model_spec=API_MODEL, model_name="model", cache=cache, artifacts={})
    rewrite.run(spec, Paths(src, None, out, str(out).replace(".jsonl", ".stats.json")))


def test_server_answers_openai_client_and_stops_cleanly(tiny_model, tmp_path):
    import openai

    with local_server(str(tiny_model), "tiny", batch_size=4, threads=2, log_path=str(tmp_path / "s.log")) as url:
        base = url.rsplit("/v1", 1)[0]
        assert get_json(base + "/v1/models")["data"][0]["id"] == "tiny"
        client = openai.OpenAI(base_url=url, api_key="local")
        resp = client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Say hi."}],
                                              max_tokens=8, temperature=0)
        assert resp.choices[0].message.content.strip()
        assert resp.usage.completion_tokens > 0
        assert get_json(base + "/skyt1/stats")["requests"] == 1
    with pytest.raises(OSError):
        urllib.request.urlopen(base + "/health", timeout=2)


def test_request_arriving_mid_decode_joins_the_running_batch(server):
    import threading

    import openai

    client = openai.OpenAI(base_url=server, api_key="local")
    stats_url = server.rsplit("/v1", 1)[0] + "/skyt1/stats"

    def ask(content):
        return client.chat.completions.create(model="tiny", messages=[{"role": "user", "content": content}],
                                              max_tokens=96, temperature=0, seed=3)

    sessions = get_json(stats_url)["sessions"]
    answers = {}
    first = threading.Thread(target=lambda: answers.__setitem__("long", ask("Count from 1 to 200, comma separated.")))
    first.start()
    time.sleep(1.0)  # the first request is decoding now
    answers["joined"] = ask("Calculate 12 + 30.")
    first.join()
    assert answers["long"].choices[0].finish_reason == "length"  # it was still running when the second came
    assert get_json(stats_url)["sessions"] - sessions == 1  # one decoding session served both
    # Alone: the first session has no rows left (a request racing its end may still be taken by it).
    alone = ask("Calculate 12 + 30.")
    assert alone.choices[0].message.content == answers["joined"].choices[0].message.content


def test_rewrite_over_http_then_cache_makes_zero_calls(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SKYT1_OPENAI_BASE_URL", server)
    stats_url = server.rsplit("/v1", 1)[0] + "/skyt1/stats"
    src = tmp_path / "traces.jsonl"
    write_jsonl(src, traces(6))
    cache = {"enabled": True, "dir": str(tmp_path / "cache")}
    before = get_json(stats_url)["requests"]
    run_rewrite(src, tmp_path / "a.jsonl", rewrite_cfg(), cache)
    first = read_jsonl(tmp_path / "a.jsonl")
    assert [r["id"] for r in first] == [f"arith/{i}" for i in range(6)]
    assert all(r["rewritten"].startswith("<|begin_of_thought|>") for r in first)
    assert get_json(stats_url)["requests"] - before == 6
    # An unrelated setting changes (concurrency): snakemake would rerun the stage; the cache answers everything.
    run_rewrite(src, tmp_path / "b.jsonl", rewrite_cfg(concurrency=2), cache)
    assert get_json(stats_url)["requests"] - before == 6  # zero new calls
    assert read_jsonl(tmp_path / "b.jsonl") == first
    stats = json.loads((tmp_path / "b.stats.json").read_text())
    assert stats["cached"] == 6 and stats["generated"] == 0


def test_faults_are_survived_without_loss_or_duplicates(server, tmp_path):
    upstream_port = int(server.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(upstream_port)
    try:
        backend = OpenAIBackend({"api_model": "tiny"}, {"concurrency": 3, "max_retries": 10, "timeout_s": 60},
                                base_url=proxy.base_url)
        convs = [[{"role": "user", "content": f"Calculate {i} + 1."}] for i in range(8)]
        done = {}

        def on_done(i, comp):
            assert i not in done, "an item was delivered twice"
            done[i] = comp

        backend.generate(convs, Params(max_new_tokens=8), on_done)
    finally:
        proxy.close()
    assert sorted(done) == list(range(8))
    assert all(c.error is None and c.texts[0].strip() for c in done.values())
    assert all("injected" not in c.texts[0] and "error" not in c.texts[0].lower() for c in done.values())
    for fault in ("rate_limit", "server_error", "drop", "truncate", "malformed", "no_choices"):
        assert proxy.counts[fault] >= 1, proxy.counts
    # every injected fault cost one retry (the SDK's or the client's own), and nothing else did
    faults = sum(proxy.counts[f] for f in FAULTS)
    assert sum(c.extra["retries"] for c in done.values()) == faults, proxy.counts


def test_items_that_keep_failing_go_to_failures_not_data(server, tmp_path, monkeypatch):
    upstream_port = int(server.rsplit(":", 1)[1].split("/")[0])
    proxy = FaultProxy(upstream_port, plan=iter(["server_error"] * 1000))
    monkeypatch.setenv("SKYT1_OPENAI_BASE_URL", proxy.base_url)
    src = tmp_path / "traces.jsonl"
    write_jsonl(src, traces(3))
    cfg = rewrite_cfg(max_retries=1, max_failure_share=0.0)
    try:
        with pytest.raises(SkyT1Error, match=r"3 of 3 items failed .*InternalServerError"):
            run_rewrite(src, tmp_path / "o.jsonl", cfg)
    finally:
        proxy.close()
    assert not (tmp_path / "o.jsonl").exists()


def test_missing_api_key_is_one_clear_line(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("SKYT1_OPENAI_BASE_URL", raising=False)
    with pytest.raises(SkyT1Error, match="OPENAI_API_KEY is not set"):
        OpenAIBackend({"api_model": "gpt-4o-mini", "base_url": None}, {})
