"""The one client path of every generation stage: OpenAI-compatible HTTP against an engine (skyt1.engines:
the project's CPU engine server, `vllm serve`, or an external endpoint such as gpt-4o-mini's).

The API key comes from OPENAI_API_KEY only and is never logged. Requests run concurrently up to
`concurrency`; 429, 5xx, timeouts and dropped connections are retried with exponential backoff and
jitter, honouring Retry-After. An item that still fails is reported through Completion.error and
never becomes data."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time

from tqdm import tqdm

from ..errors import SkyT1Error
from . import Completion, OnDone, Params

log = logging.getLogger(__name__)


def _retry_after(exc) -> float | None:
    response = getattr(exc, "response", None)
    if response is None:
        return None
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


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
        self.concurrency = cfg.get("concurrency", 8)
        self.timeout = cfg.get("timeout_s", 600)
        self.max_retries = cfg.get("max_retries", 6)

    async def _one(self, client, conversation, params: Params) -> Completion:
        import openai

        retryable = (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                     openai.InternalServerError)
        attempt = 0
        while True:
            try:
                resp = await client.chat.completions.create(
                    model=self.model_id, messages=conversation, max_tokens=params.max_new_tokens,
                    temperature=params.temperature, top_p=params.top_p, n=params.n, seed=params.seed)
                if not resp.choices or any(c.message is None or c.message.content is None for c in resp.choices):
                    raise ValueError("response has no message content")
                texts = [c.message.content for c in resp.choices]
                reasons = [c.finish_reason or "stop" for c in resp.choices]
                usage = resp.usage
                return Completion(texts, reasons, prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                                  completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
                                  extra={"retries": attempt})
            except retryable as exc:
                attempt += 1
                if attempt > self.max_retries:
                    return Completion([], [], error=f"{type(exc).__name__}: {str(exc)[:300]}", extra={"retries": attempt - 1})
                delay = _retry_after(exc)
                if delay is None:
                    delay = min(60.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
                log.warning("retry %d/%d after %s (waiting %.1f s)", attempt, self.max_retries, type(exc).__name__, delay)
                await asyncio.sleep(delay)
            except openai.APIStatusError as exc:  # 400, 401, 404...: retrying will not help
                return Completion([], [], error=f"{type(exc).__name__}: {str(exc)[:300]}", extra={"retries": attempt})
            except (openai.APIResponseValidationError, ValueError) as exc:
                # A truncated or malformed body (JSON that does not parse): the bytes are not an answer.
                attempt += 1
                if attempt > self.max_retries:
                    return Completion([], [], error=f"{type(exc).__name__}: {str(exc)[:300]}", extra={"retries": attempt - 1})
                await asyncio.sleep(min(60.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random()))

    async def _run(self, conversations, params: Params, on_done: OnDone) -> None:
        import openai

        client = openai.AsyncOpenAI(api_key=self.api_key or "unused", base_url=self.base_url,
                                    timeout=self.timeout, max_retries=0)
        sem = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=len(conversations), desc="requests", unit="item", mininterval=2.0)
        t0, tokens = time.time(), 0

        async def task(i):
            nonlocal tokens
            async with sem:
                comp = await self._one(client, conversations[i], params)
            tokens += comp.completion_tokens
            on_done(i, comp)
            bar.update(1)
            bar.set_postfix(tok_s=f"{tokens / max(time.time() - t0, 1e-9):.1f}")

        try:
            await asyncio.gather(*(task(i) for i in range(len(conversations))))
        finally:
            bar.close()
            await client.close()

    def generate(self, conversations: list[list[dict]], params: Params, on_done: OnDone) -> None:
        asyncio.run(self._run(conversations, params, on_done))

    def close(self) -> None:
        pass
