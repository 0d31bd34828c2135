"""The one client path of every generation stage: OpenAI-compatible HTTP against an engine (skyt1.engine.owned:
the project's CPU engine server, `vllm serve`, or an external endpoint such as gpt-4o-mini's).

The API key comes from OPENAI_API_KEY only and is never logged. Requests run concurrently up to
`concurrency`. Retries are the openai SDK's own (backend.max_retries): 408, 409, 429 and 5xx answers,
timeouts and dropped connections, with exponential backoff and jitter, honouring Retry-After (openai-python
2.8.1, the version pinned in envs/pipeline.yaml: openai/_base_client.py, AsyncAPIClient.request's retry loop,
_should_retry and _calculate_retry_timeout). What the SDK does not retry is retried here: a 200 whose body
does not parse (a malformed or cut JSON) or has no message content. An item that still fails is reported
through Completion.error and never becomes data.

On a local engine (skyt1, vllm) max_tokens is clamped to the context the prompt leaves (the engine's
/tokenize gives both), so a long prompt gets a shorter budget instead of vLLM's 400: what the original's
offline vLLM did, which stops a sequence at the end of the context. A read timeout on a local engine is
not retried: the engine is alive and still decoding, and a retry would only start the request again
behind itself (a dead engine shows as a refused connection, which is retried). On an external endpoint
`tokens_per_minute` keeps the client under the account's budget (OpenAI counts a request as its
prompt's estimate plus max_tokens x n when it arrives)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time

from tqdm import tqdm

from ..core.errors import SkyT1Error
from ..engine.owned import LOCAL_ENGINES
from . import Completion, OnDone, Params

log = logging.getLogger(__name__)


class _NotRetried(BaseException):
    """A timeout from a local engine, carried through the SDK's retry loop, which retries every Exception
    its transport raises (openai 2.8.1 _base_client.py: `except httpx.TimeoutException` and `except
    Exception`, each followed by a retry while retries remain). A BaseException passes through it untouched."""


def _local_engine_client(**kwargs):
    """The http client of a local engine: a timeout is not retried (see the module docstring)."""
    import httpx

    class LocalEngineClient(httpx.AsyncClient):
        async def send(self, request, **kw):
            try:
                return await super().send(request, **kw)
            except httpx.TimeoutException as exc:
                raise _NotRetried() from exc

    return LocalEngineClient(**kwargs)


def _backoff(attempt: int) -> float:
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())


# Per-backend read timeouts (backend.timeout_s overrides): an external API answers a 16K-token request in
# minutes; a local vLLM engine decodes a 32K-token n=8 request for 11-27 minutes (issue 21), so 3 hours.
DEFAULT_TIMEOUT_S = {"openai": 600.0, "skyt1": 10800.0, "vllm": 10800.0}


def default_concurrency(cfg: dict, n: int) -> int:
    """Requests in flight when backend.concurrency is not set. vllm: the engine's max-num-seqs in sequences
    (n per request), so it is kept full and no request waits in its queue on the client's timeout; the CPU
    engine: twice its batch (its continuous batching stays full); an external endpoint: 8."""
    from ..engine.owned import max_num_seqs

    kind = cfg.get("name")
    if kind == "vllm":
        return max(1, -(-max_num_seqs(cfg) // max(n, 1)))
    if kind == "skyt1":
        return 2 * max_num_seqs(cfg)
    return 8


class TokenBudget:
    """A tokens-per-minute budget, enforced before each request is sent (a token bucket holding one
    minute's budget, refilled continuously). A request costing more than a minute's budget waits for a
    full bucket. `clock`/`sleep` are injectable for tests."""

    def __init__(self, per_minute: float, clock=time.monotonic, sleep=asyncio.sleep):
        self.rate, self.capacity = per_minute / 60.0, float(per_minute)
        self.level, self.clock, self.sleep = self.capacity, clock, sleep
        self.stamp = clock()
        self.waits = 0
        self.spent = 0
        self._lock = asyncio.Lock()

    async def acquire(self, cost: int) -> None:
        async with self._lock:  # first come first served
            need = min(float(cost), self.capacity)
            while True:
                now = self.clock()
                self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
                self.stamp = now
                if self.level >= need:
                    self.level -= need
                    self.spent += cost
                    return
                self.waits += 1
                await self.sleep((need - self.level) / self.rate)


def estimate_tokens(conversation: list[dict], max_tokens: int | None, n: int) -> int:
    """What OpenAI's rate limiter charges when a request arrives: about a token per 4 characters of the
    messages, plus max_tokens for each of the n choices."""
    chars = sum(len(m.get("content") or "") if isinstance(m.get("content"), str) else len(str(m.get("content")))
                for m in conversation)
    return chars // 4 + 4 * len(conversation) + (max_tokens or 0) * n


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: dict | str, cfg: dict, base_url: str | None = None):
        if not isinstance(model, dict):
            raise SkyT1Error("the openai backend needs an api model (models.<name>.source: api)",
                             "set the stage's model to an api model, or backend.name: skyt1 / vllm for a local one")
        self.model_id = model["api_model"]
        # A local server started by the stage (base_url given) needs no key; the real API does.
        self.base_url = base_url or os.environ.get("SKYT1_OPENAI_BASE_URL") or model.get("base_url")
        self.api_key = None if base_url else os.environ.get("OPENAI_API_KEY")
        if not self.api_key and not self.base_url:
            raise SkyT1Error("OPENAI_API_KEY is not set", "export OPENAI_API_KEY=... (keys are read from the environment only)")
        self.kind = cfg.get("name", "openai")
        self.cfg = cfg
        self.concurrency = cfg.get("concurrency") or default_concurrency(cfg, 1)  # n = 1; _run knows n
        self.timeout = float(cfg.get("timeout_s") or DEFAULT_TIMEOUT_S.get(self.kind, 600.0))
        self.max_retries = cfg.get("max_retries", 6)
        # clamp max_tokens to the context left: on a local engine started by the stage (it has /tokenize)
        self.clamp = bool(base_url) and self.kind in LOCAL_ENGINES  # engines a job starts: vLLM, skyt1
        self.budget: TokenBudget | None = None  # made per run (its lock belongs to that run's event loop)
        self.clamped = 0  # requests whose max_tokens was lowered to fit the context

    async def _fit(self, http, conversation, params: Params) -> int:
        """max_tokens for this request on a local engine: the stage's, or what the context leaves."""
        root = str(self.base_url).rstrip("/").removesuffix("/v1")
        r = await http.post(root + "/tokenize", json={"model": self.model_id, "messages": conversation,
                                                      "add_generation_prompt": True})
        r.raise_for_status()
        info = r.json()
        left = int(info["max_model_len"]) - int(info["count"])
        if left < params.max_new_tokens:
            self.clamped += 1
        # nothing left: ask for 1 and let the engine refuse the prompt (its 400 names the lengths)
        return max(1, min(params.max_new_tokens, left))

    async def _one(self, client, http, conversation, params: Params) -> Completion:
        import httpx
        import openai

        retries = 0  # the SDK's (retries_taken) and ours (a body that is not an answer, a /tokenize 5xx)
        ours = 0
        max_tokens = None
        while True:
            try:
                if max_tokens is None:
                    max_tokens = await self._fit(http, conversation, params) if self.clamp else params.max_new_tokens
                raw = await client.chat.completions.with_raw_response.create(
                    model=self.model_id, messages=conversation, max_tokens=max_tokens,
                    temperature=params.temperature, top_p=params.top_p, n=params.n, seed=params.seed)
                retries += raw.retries_taken
                resp = raw.parse()
                if not resp.choices or any(c.message is None or c.message.content is None for c in resp.choices):
                    raise ValueError("response has no message content")
                texts = [c.message.content for c in resp.choices]
                reasons = [c.finish_reason or "stop" for c in resp.choices]
                usage = resp.usage
                return Completion(texts, reasons, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                                  completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                                  extra={"retries": retries})
            except _NotRetried:
                # a live local engine still decoding: a retry would start the request again behind itself
                return Completion([], [], error=f"APITimeoutError: no answer within timeout_s {self.timeout:g} s "
                                  "from the local engine (not retried)", extra={"retries": retries})
            except (httpx.HTTPStatusError, httpx.TransportError) as exc:
                # /tokenize failed (plain httpx, not the SDK: no retries of its own): a 5xx or a transport error
                # is retried here, another status is the answer
                status = exc.response.status_code if isinstance(exc, httpx.HTTPStatusError) else None
                if (status is None or status >= 500) and ours < self.max_retries:
                    ours += 1
                    retries += 1
                    await asyncio.sleep(_backoff(ours))
                    continue
                what = f"HTTP {status}: {exc.response.text[:300]}" if status else f"{type(exc).__name__}: {str(exc)[:300]}"
                return Completion([], [], error=f"tokenize: {what}", extra={"retries": retries})
            except (openai.APIStatusError, openai.APIConnectionError) as exc:
                # what the SDK gave up on (its retries spent) or never retries (400, 401, 404...)
                return Completion([], [], error=f"{type(exc).__name__}: {str(exc)[:300]}", extra={"retries": retries})
            except (openai.APIResponseValidationError, ValueError) as exc:
                # A 200 whose body is not an answer (JSON that does not parse, no content): the SDK returns it
                # as it came, so this is the one retry made here.
                ours += 1
                if ours > self.max_retries:
                    return Completion([], [], error=f"{type(exc).__name__}: {str(exc)[:300]}", extra={"retries": retries})
                retries += 1
                log.warning("retry %d/%d after %s", ours, self.max_retries, type(exc).__name__)
                await asyncio.sleep(_backoff(ours))

    async def _run(self, conversations, params: Params, on_done: OnDone) -> None:
        import httpx
        import openai

        concurrency = self.cfg.get("concurrency") or default_concurrency(self.cfg, params.n)
        limits = httpx.Limits(max_connections=concurrency + 8, max_keepalive_connections=concurrency + 8)
        hooks = {}
        if self.cfg.get("tokens_per_minute"):
            self.budget = TokenBudget(self.cfg["tokens_per_minute"])

            async def charge(request):
                # every request sent, the SDK's retries included: each one counts when it arrives
                if request.url.path.endswith("/chat/completions"):
                    body = json.loads(request.content)
                    await self.budget.acquire(estimate_tokens(body["messages"], body.get("max_tokens"), body.get("n") or 1))
            hooks = {"request": [charge]}
        make_http = _local_engine_client if self.clamp else httpx.AsyncClient
        client = openai.AsyncOpenAI(api_key=self.api_key or "unused", base_url=self.base_url,
                                    max_retries=self.max_retries, timeout=httpx.Timeout(self.timeout, connect=30.0),
                                    http_client=make_http(limits=limits, timeout=httpx.Timeout(self.timeout, connect=30.0),
                                                          event_hooks=hooks))
        http = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=30.0), limits=limits) if self.clamp else None
        sem = asyncio.Semaphore(concurrency)
        bar = tqdm(total=len(conversations), desc="requests", unit="item", mininterval=2.0)
        t0, tokens = time.time(), 0

        async def task(i):
            nonlocal tokens
            async with sem:
                comp = await self._one(client, http, conversations[i], params)
            tokens += comp.completion_tokens
            on_done(i, comp)
            bar.update(1)
            bar.set_postfix(tok_s=f"{tokens / max(time.time() - t0, 1e-9):.1f}")

        try:
            await asyncio.gather(*(task(i) for i in range(len(conversations))))
        finally:
            bar.close()
            await client.close()
            if http is not None:
                await http.aclose()

    def generate(self, conversations: list[list[dict]], params: Params, on_done: OnDone) -> None:
        asyncio.run(self._run(conversations, params, on_done))

    def close(self) -> None:
        pass
