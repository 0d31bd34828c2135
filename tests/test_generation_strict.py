"""The CPU engine as strict as vLLM, and the client that fits it (issue 21).

The engine (python -m skyt1.engine.server, the real tiny model): vLLM's 400 for a request that does not fit the
context, vLLM's defaults for fields a request leaves out (never the model folder's generation_config.json),
per-request sampling parameters inside one batch. The client: max_tokens clamped to the context left on a
local engine, no retry of a read timeout on a live local engine, concurrency matched to vLLM's max-num-seqs,
a tokens-per-minute budget. The vLLM argv the 32B preset renders."""
import asyncio
import http.server
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from faultproxy import FaultProxy

from conftest import REPO
from skyt1 import config as skyt1_config
from skyt1.engine import owned as engines
from skyt1.generation import Params
from skyt1.generation import openai_backend
from skyt1.engine.runner import Request
from skyt1.generation.openai_backend import OpenAIBackend, TokenBudget, default_concurrency, estimate_tokens
from skyt1.engine.server import Scheduler, context_error, local_server

# Snakemake dry runs or a model-serving engine: outside the fast gate (make test-fast).
pytestmark = pytest.mark.slow

CONTEXT = 64  # the max_model_len the test engine enforces (the model's own is 8192)


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def model_dir(tiny_model, tmp_path_factory):
    """The tiny model with a generation_config.json that, if applied, would make every request greedy
    (top_k 1) and short (max_new_tokens 3): the engine must not apply it."""
    folder = tmp_path_factory.mktemp("model")
    for f in tiny_model.iterdir():
        (folder / f.name).symlink_to(f)
    (folder / "generation_config.json").unlink()
    gen = json.loads((tiny_model / "generation_config.json").read_text())
    (folder / "generation_config.json").write_text(json.dumps({**gen, "do_sample": True, "top_k": 1, "temperature": 0.1,
                                                               "repetition_penalty": 1.3, "max_new_tokens": 3}))
    return folder


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    with local_server(str(model_dir), "tiny", batch_size=8, threads=1, log_path=str(log),
                      max_model_len=CONTEXT) as url:
        yield url.removesuffix("/v1")


def chat(base, messages, **fields):
    return post(base + "/v1/chat/completions", {"model": "tiny", "messages": messages, **fields})


LONG = [{"role": "user", "content": "Count from 1 to 500, comma separated, and nothing else."}]


def prompt_tokens(base, messages):
    status, body = post(base + "/tokenize", {"model": "tiny", "messages": messages})
    assert status == 200 and body["max_model_len"] == CONTEXT
    return body["count"]


def test_over_long_requests_get_vllms_400(server):
    n = prompt_tokens(server, LONG)
    # prompt + max_tokens one over the context: refused with vLLM's message and error body
    status, body = chat(server, LONG, max_tokens=CONTEXT - n + 1, temperature=0)
    assert status == 400
    assert body == {"error": {
        "message": f"'max_tokens' or 'max_completion_tokens' is too large: {CONTEXT - n + 1}. This model's maximum "
                   f"context length is {CONTEXT} tokens and your request has {n} input tokens "
                   f"({CONTEXT - n + 1} > {CONTEXT} - {n}).",
        "type": "BadRequestError", "param": None, "code": 400}}
    # max_completion_tokens wins over max_tokens, as in vLLM
    assert chat(server, LONG, max_tokens=1, max_completion_tokens=10 ** 5)[0] == 400
    # exactly the context: accepted, and it stops at the context
    status, body = chat(server, LONG, max_tokens=CONTEXT - n, temperature=0)
    assert status == 200 and body["usage"]["prompt_tokens"] == n
    assert body["usage"]["completion_tokens"] <= CONTEXT - n
    # the prompt alone fills the context: refused with or without max_tokens
    huge = [{"role": "user", "content": "one two three four five six seven " * 40}]
    m = prompt_tokens(server, huge)
    assert m >= CONTEXT
    status, body = chat(server, huge)
    assert status == 400 and body["error"]["message"] == (
        f"This model's maximum context length is {CONTEXT} tokens. However, your request has {m} input tokens. "
        "Please reduce the length of the input messages.")
    assert chat(server, huge, max_tokens=1)[0] == 400
    # the openai client sees vLLM's BadRequestError, and nothing was decoded for any refusal
    import openai

    client = openai.OpenAI(base_url=server + "/v1", api_key="local", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="maximum context length is 64 tokens"):
        client.chat.completions.create(model="tiny", messages=LONG, max_tokens=100000)


def test_bad_fields_are_refused_not_ignored(server):
    assert chat(server, LONG, model="other")[0] == 404  # vLLM: "The model `other` does not exist."
    for fields in ({"temperature": -1}, {"top_p": 0}, {"n": 0}, {"max_tokens": 0}, {"stream": True},
                   {"repetition_penalty": 1.05}, {"presence_penalty": 0.5}, {"logprobs": True}):
        status, body = chat(server, LONG, **fields)
        assert status == 400 and body["error"]["type"] == "BadRequestError", (fields, body)
    # a neutral value of an unimplemented field is accepted (it changes nothing)
    assert chat(server, LONG, max_tokens=2, repetition_penalty=1.0, presence_penalty=0)[0] == 200


def test_fields_left_out_get_vllms_defaults_not_generation_config(server):
    # max_tokens left out: up to the context left (the folder's max_new_tokens 3 is not applied)
    n = prompt_tokens(server, LONG)
    status, body = chat(server, LONG, temperature=0)
    assert status == 200 and body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == CONTEXT - n
    # temperature left out: 1.0 with no top_k (the folder's top_k 1 would make all four samples the same)
    status, body = chat(server, [{"role": "user", "content": "Write one word."}], max_tokens=12, n=4, seed=7)
    texts = [c["message"]["content"] for c in body["choices"]]
    assert status == 200 and len(set(texts)) > 1, texts


def test_mixed_sampling_settings_decode_in_one_batch(server):
    """Requests with two interleaved settings (as two benchmarks with different max_tokens on one engine)
    share the batch, and each gets what it would get alone: greedy rows their greedy text, seeded sampled
    rows their own draws (each request has its own generator)."""
    settings = [dict(max_tokens=20, temperature=0), dict(max_tokens=12, temperature=0.8, top_p=0.9, seed=5)]
    reqs = [([{"role": "user", "content": f"Calculate {i} + {3 * i}."}], settings[i % 2]) for i in range(8)]
    before = get_json(server + "/skyt1/stats")
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda r: chat(server, r[0], **r[1]), reqs))
    after = get_json(server + "/skyt1/stats")
    assert all(status == 200 for status, _ in together)
    assert after["max_active_rows"] >= 6  # they decoded together (not one setting's session at a time)
    assert after["sessions"] - before["sessions"] <= 2
    alone = [chat(server, m, **s) for m, s in reqs[:4]]
    assert [b["choices"] for _, b in alone] == [b["choices"] for _, b in together[:4]]
    assert all(b["usage"]["completion_tokens"] <= s["max_tokens"] for (_, s), (_, b) in zip(reqs, together))


class _StubBackend:
    """Decodes every row for one step per call of its loop; records how many rows each step had."""

    def __init__(self):
        self.steps: list[int] = []

    def run(self, take, emit, on_step=None):
        rows = []
        while True:
            rows += [(rid, req, 0) for rid, req in take(8 - len(rows), not rows)]
            if not rows:
                return
            self.steps.append(sum(req.n for _, req, _ in rows))
            keep = []
            for rid, req, done in rows:
                if done + 1 >= req.max_tokens:
                    from skyt1.generation import Completion
                    emit(rid, Completion(["x"], ["length"], 1, req.max_tokens))
                else:
                    keep.append((rid, req, done + 1))
            rows = keep


def test_scheduler_batches_interleaved_settings_together():
    """The issue's stub: 32 requests, two settings interleaved. The old Batcher decoded all 32 alone;
    here every step but the tail is a full batch of 8."""
    stub = _StubBackend()
    sched = Scheduler(stub, batch_size=8, max_wait_ms=0)
    futs = [sched.submit(Request([1, 2, 3], max_tokens=4 if i % 2 else 6, temperature=0.0 if i % 2 else 0.7,
                                 seed=i)) for i in range(32)]
    threading.Thread(target=sched.run_forever, daemon=True).start()
    assert all(f.result(timeout=30).finish_reasons == ["length"] for f in futs)
    assert max(stub.steps) == 8 and sum(s == 8 for s in stub.steps) >= len(stub.steps) - 6, stub.steps
    assert sched.stats["sessions"] == 1


def test_client_clamps_max_tokens_to_the_context_left(server):
    """The 32B preset asks for as many new tokens as the context holds: on a local engine the client asks
    for what the prompt leaves, so nothing is refused; on an external endpoint it would be."""
    convs = [LONG, [{"role": "user", "content": "Say hi."}]]
    done = {}
    client = OpenAIBackend({"api_model": "tiny"}, {"name": "skyt1", "max_retries": 0}, base_url=server + "/v1")
    client.generate(convs, Params(max_new_tokens=CONTEXT, temperature=0.0), done.__setitem__)
    assert all(c.error is None for c in done.values()), done
    assert client.clamped == 2
    assert done[0].prompt_tokens + done[0].completion_tokens == CONTEXT and done[0].finish_reasons == ["length"]
    # a budget that fits is left as it is
    small = {}
    client.generate(convs[:1], Params(max_new_tokens=5, temperature=0.0), small.__setitem__)
    assert small[0].completion_tokens == 5 and client.clamped == 2
    # without the clamp (an endpoint the client did not start), the engine's 400 is the item's error
    unclamped = {}
    OpenAIBackend({"api_model": "tiny"}, {"name": "openai", "max_retries": 0}, base_url=server + "/v1").generate(
        convs[:1], Params(max_new_tokens=CONTEXT), unclamped.__setitem__)
    assert "BadRequestError" in unclamped[0].error and "maximum context length is 64" in unclamped[0].error


class _Stalling(http.server.BaseHTTPRequestHandler):
    """An engine that answers /tokenize and then decodes for longer than the client waits."""
    calls = 0

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        if self.path == "/tokenize":
            body = json.dumps({"count": 5, "max_model_len": 100, "tokens": [1] * 5}).encode()
        else:
            type(self).calls += 1
            threading.Event().wait(3)
            body = b"{}"
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (its timeout): what this test is about
            pass

    def log_message(self, *args):
        pass


def test_read_timeout_on_a_local_engine_is_not_retried():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stalling)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    try:
        for name, calls in (("skyt1", 1), ("openai", 3)):
            _Stalling.calls = 0
            done = {}
            OpenAIBackend({"api_model": "tiny"}, {"name": name, "timeout_s": 0.5, "max_retries": 2},
                          base_url=url).generate([LONG], Params(max_new_tokens=4), done.__setitem__)
            assert "APITimeoutError" in done[0].error and _Stalling.calls == calls, (name, _Stalling.calls)
    finally:
        srv.shutdown()
        srv.server_close()


def test_timeouts_fit_long_local_requests():
    """A 32K-token n=8 request on vLLM decodes for 11-27 minutes: the local engines' default read timeout
    is hours, the external API's stays 10 minutes; backend.timeout_s overrides both."""
    assert OpenAIBackend({"api_model": "m"}, {"name": "vllm"}, base_url="http://x/v1").timeout >= 3 * 3600
    assert OpenAIBackend({"api_model": "m"}, {"name": "skyt1"}, base_url="http://x/v1").timeout >= 3 * 3600
    assert OpenAIBackend({"api_model": "m"}, {"name": "openai"}, base_url="http://x/v1").timeout == 600
    assert OpenAIBackend({"api_model": "m"}, {"name": "vllm", "timeout_s": 5}, base_url="http://x/v1").timeout == 5


def test_vllm_argv_and_client_concurrency_of_the_32b_preset(tmp_path):
    cfg = skyt1_config.resolve(skyt1_config.load_yaml(REPO / "config/sky-t1-32b.yaml"), REPO / "config")
    for stage, context in (("sample", 20480), ("eval", 32768)):
        backend = cfg[stage]["backend"]
        argv = list(engines.launch_for(backend, str(tmp_path), "m", gpus=8, executable="/envs/vllm/bin/vllm").argv)
        opt = {argv[i]: argv[i + 1] for i in range(3, len(argv) - 1) if argv[i].startswith("--")}
        assert opt["--generation-config"] == "vllm", argv  # no hidden defaults from generation_config.json
        assert opt["--max-model-len"] == str(context) and opt["--tensor-parallel-size"] == "8"
        assert int(opt["--max-num-seqs"]) == 256  # vLLM's default, stated
        # the client keeps exactly the engine's sequences in flight: n=1 -> 256 requests, n=8 -> 32
        assert default_concurrency(backend, 1) == 256 and default_concurrency(backend, 8) == 32
        client = OpenAIBackend({"api_model": "m"}, backend, base_url="http://x/v1")
        assert client.concurrency == 256 and client.clamp
    # the rewrite (gpt-4o-mini) has a tokens-per-minute budget
    assert cfg["rewrite"]["backend"]["tokens_per_minute"] > 0


def test_context_error_is_vllms_rule():
    assert context_error(100, 99, None) is None and context_error(100, 100, None) is not None
    assert context_error(100, 60, 40) is None and context_error(100, 60, 41).startswith("'max_tokens'")


def test_token_budget_holds_the_rate_without_real_waiting():
    now = [0.0]

    async def sleep(s):
        now[0] += s

    async def go():
        budget = TokenBudget(600, clock=lambda: now[0], sleep=sleep)  # 10 tokens/s, 600 in the bucket
        for _ in range(10):
            await budget.acquire(150)
        return budget

    budget = asyncio.run(go())
    # 1500 tokens: the first 600 at once, the other 900 at 10/s
    assert budget.spent == 1500 and budget.waits >= 1 and now[0] == pytest.approx(90.0)


def test_token_budget_through_faults_on_the_local_server(server, monkeypatch):
    """The budget on the real client path through the fault proxy (429s, 500s, drops): everything arrives,
    and what was sent never ran ahead of the budget (a fake clock: no real waiting, no timed assertion)."""
    now = [0.0]
    sent = []

    async def sleep(s):
        now[0] += s

    class Budget(TokenBudget):
        def __init__(self, per_minute):
            super().__init__(per_minute, clock=lambda: now[0], sleep=sleep)

        async def acquire(self, cost):
            await super().acquire(cost)
            sent.append((now[0], cost))

    monkeypatch.setattr(openai_backend, "TokenBudget", Budget)
    proxy = FaultProxy(int(server.rsplit(":", 1)[1]))
    try:
        backend = OpenAIBackend({"api_model": "tiny"}, {"name": "openai", "concurrency": 4, "max_retries": 10,
                                                        "tokens_per_minute": 120, "timeout_s": 120},
                                base_url=proxy.base_url)
        convs = [[{"role": "user", "content": f"Calculate {i} + 1."}] for i in range(6)]
        done = {}
        backend.generate(convs, Params(max_new_tokens=4), done.__setitem__)
    finally:
        proxy.close()
    assert sorted(done) == list(range(6)) and all(c.error is None for c in done.values())
    assert backend.budget.waits >= 1 and sum(proxy.counts.values()) == len(sent)
    cost = estimate_tokens(convs[0], 4, 1)
    assert all(c == cost for _, c in sent)
    for k, (t, _) in enumerate(sent):  # by time t at most a minute's budget plus 2 tokens/s was spent
        assert (k + 1) * cost <= 120 + 2 * t + 1e-6


_ANSWER = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "tiny",
                      "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
                      "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}).encode()


class _RateLimitedThenCut(http.server.BaseHTTPRequestHandler):
    """A 429 with Retry-After (the SDK retries it), then a 200 whose JSON is cut (the client retries it), then
    the answer."""
    calls = 0

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        type(self).calls += 1
        status, body, extra = {1: (429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0.1"}),
                               2: (200, _ANSWER[: len(_ANSWER) // 2], {})}.get(self.calls, (200, _ANSWER, {}))
        self.send_response(status)
        for k, v in {"Content-Type": "application/json", "Content-Length": str(len(body)), **extra}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_every_request_sent_is_charged_to_the_budget_the_sdks_retries_included(monkeypatch):
    charged = []

    class Budget(TokenBudget):
        async def acquire(self, cost):
            charged.append(cost)
            await super().acquire(cost)

    monkeypatch.setattr(openai_backend, "TokenBudget", Budget)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RateLimitedThenCut)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    conv = [{"role": "user", "content": "x" * 40}]
    try:
        done = {}
        OpenAIBackend({"api_model": "tiny"}, {"name": "openai", "tokens_per_minute": 10000, "max_retries": 3},
                      base_url=f"http://127.0.0.1:{srv.server_address[1]}/v1").generate(
            [conv], Params(max_new_tokens=4), done.__setitem__)
    finally:
        srv.shutdown()
        srv.server_close()
    assert done[0].error is None and done[0].texts == ["hi"] and done[0].extra["retries"] == 2
    assert _RateLimitedThenCut.calls == 3 and charged == [estimate_tokens(conv, 4, 1)] * 3
