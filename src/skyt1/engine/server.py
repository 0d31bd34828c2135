"""A small OpenAI-compatible HTTP server for a local model: the CPU engine behind the client path.

POST /v1/chat/completions, POST /tokenize, GET /v1/models, GET /health, GET /skyt1/stats (counters for tests).
It is as strict as vLLM's OpenAI server where that matters (docs/engine.md): a request that does not fit
the context gets vLLM's 400, a field left out gets vLLM's default and never the model folder's
generation_config.json. Requests are decoded with continuous batching (runner.py): the scheduler
(scheduler.py) admits them first come first served, each batch row with its own request's sampling parameters.

A generation job starts it as its own child (skyt1.engine.owned.OwnedEngine, backend `skyt1`);
`local_server(...)` starts a private one for a block (tests, benches, the smoke run's stand-ins)."""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations at runtime.

import argparse
import contextlib
import logging
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Iterator

from ..generation import Completion
from .request import Request
from .scheduler import Scheduler

log = logging.getLogger(__name__)


def stand_in_of(model_dir) -> str | None:
    """What a model folder stands in for, as its manifest declares it (tiny_qwen2 stand-ins), else None."""
    import json

    from ..weights.prepare import MANIFEST

    path = Path(model_dir) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("stand_in_for")


# What the engine checks, as vLLM's OpenAI server does (read from vLLM's source):
# - vllm/entrypoints/openai/serving_engine.py, OpenAIServing._validate_input (vllm-project/vllm@7ded96b3c73f
#   63400cdb048a73c34292ba862d99): with max_tokens (or max_completion_tokens, which wins) given, prompt tokens
#   + max_tokens > max_model_len is refused; without it, a prompt of max_model_len tokens or more is refused.
#   The ValueError becomes HTTP 400 with type BadRequestError. The wording below is the one later releases
#   answer with (e.g. "'max_tokens' or 'max_completion_tokens' is too large: 8000. This model's maximum
#   context length is 4096 tokens and your request has 2778 input tokens (8000 > 4096 - 2778).").
# - vllm/entrypoints/openai/engine/protocol.py (vllm-project/vllm@d7e52523a55cfd60207c99d9f3b7ed527d2115b7):
#   the error body is {"error": {"message", "type", "param", "code"}}.
# - max_tokens left out: vLLM generates up to the context left (max_model_len - prompt tokens).
# - No hidden defaults: a field the request leaves out gets vLLM's own default (temperature 1, top_p 1, no
#   top_k, no seed), as `vllm serve --generation-config vllm` does; the model folder's generation_config.json
#   is not applied (vLLM's default `--generation-config auto` would apply it).
SUPPORTED = {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "n",
             "seed", "stop", "stream", "user"}
# fields this engine does not implement: accepted only at the value that means "off" (refused otherwise, so
# a request never silently gets other sampling than it asked for)
NEUTRAL = {"presence_penalty": 0, "frequency_penalty": 0, "repetition_penalty": 1, "min_p": 0, "logprobs": False,
           "top_logprobs": 0, "stop_token_ids": [], "logit_bias": {}, "ignore_eos": False, "min_tokens": 0,
           "stream_options": None, "tools": [], "tool_choice": "none", "response_format": None}


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, kind: str = "BadRequestError"):
        super().__init__(message)
        self.status, self.kind = status, kind


def context_error(max_model_len: int, prompt_tokens: int, max_tokens: int | None) -> str | None:
    """vLLM's refusal of a request that does not fit the context, or None when it fits."""
    if max_tokens is None:
        if prompt_tokens >= max_model_len:
            return (f"This model's maximum context length is {max_model_len} tokens. However, your request has "
                    f"{prompt_tokens} input tokens. Please reduce the length of the input messages.")
        return None
    if prompt_tokens + max_tokens > max_model_len:
        return (f"'max_tokens' or 'max_completion_tokens' is too large: {max_tokens}. This model's maximum "
                f"context length is {max_model_len} tokens and your request has {prompt_tokens} input tokens "
                f"({max_tokens} > {max_model_len} - {prompt_tokens}).")
    return None


def _number(body: dict, key: str, kind, default, ok, rule: str):
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise BadRequest(f"{key} must be {'an integer' if kind is int else 'a number'}, got {value!r}")
    value = kind(value)
    if not ok(value):
        raise BadRequest(f"{key} must be {rule}, got {value}")
    return value


def parse_request(body: dict, encode, max_model_len: int, served: str) -> Request:
    """A chat completion request as the engine decodes it, or BadRequest with vLLM's status and message."""
    if body.get("model") != served:
        raise BadRequest(f"The model `{body.get('model')}` does not exist.", 404, "NotFoundError")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty list")
    if body.get("stream"):
        raise BadRequest("stream: true is not supported by this engine (send non-streaming requests)")
    for key, neutral in NEUTRAL.items():
        if key in body and body[key] not in (neutral, None):
            raise BadRequest(f"{key}={body[key]!r} is not supported by this engine (only {neutral!r})")
    unknown = sorted(set(body) - SUPPORTED - set(NEUTRAL))
    if unknown:
        log.warning("ignoring request fields %s (vLLM ignores unknown fields too)", unknown)
    max_tokens = body.get("max_completion_tokens")
    key = "max_completion_tokens"
    if max_tokens is None:
        max_tokens, key = body.get("max_tokens"), "max_tokens"
    max_tokens = _number({key: max_tokens}, key, int, None, lambda v: v >= 1, "at least 1")
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    if not all(isinstance(x, str) and x for x in stop):
        raise BadRequest("stop must be a string or a list of non-empty strings")
    sampling = dict(
        temperature=_number(body, "temperature", float, 1.0, lambda v: v >= 0, "at least 0"),
        top_p=_number(body, "top_p", float, 1.0, lambda v: 0 < v <= 1, "in (0, 1]"),
        top_k=max(0, _number(body, "top_k", int, 0, lambda v: v >= -1, "-1, 0 (off) or positive")),
        n=_number(body, "n", int, 1, lambda v: v >= 1, "at least 1"),
        seed=_number(body, "seed", int, None, lambda v: True, "an integer"))
    try:
        prompt = encode(messages)
    except Exception as e:  # a template that rejects the messages (roles, content types)
        raise BadRequest(f"the chat template rejected the messages: {type(e).__name__}: {e}") from None
    refusal = context_error(max_model_len, len(prompt), max_tokens)
    if refusal:
        raise BadRequest(refusal)
    return Request(prompt, max_tokens if max_tokens is not None else max_model_len - len(prompt), stop=stop,
                   **sampling)


def _error(e: BadRequest):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": str(e), "type": e.kind, "param": None, "code": e.status}},
                        status_code=e.status)


def build_app(scheduler: Scheduler, encode, max_model_len: int, model_name: str, stand_in_for: str | None = None):
    """encode(messages) -> prompt ids (the model's chat template); max_model_len: the context the engine
    enforces. stand_in_for: the served folder is a declared stand-in for that model; /health and /v1/models
    say so."""
    import asyncio

    from fastapi import FastAPI, Request as HTTPRequest

    app = FastAPI()
    declared = {"stand_in": True, "stand_in_for": stand_in_for} if stand_in_for else {}

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, **declared}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "skyt1",
                                            "max_model_len": max_model_len, **declared}]}

    @app.get("/skyt1/stats")
    async def stats():
        return scheduler.stats

    async def _json(request: HTTPRequest) -> dict:
        try:
            body = await request.json()
        except ValueError:
            raise BadRequest("the request body is not JSON") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    @app.post("/tokenize")
    async def tokenize(request: HTTPRequest):
        """vLLM's /tokenize for chat messages: the prompt's token count and the context it must fit."""
        try:
            body = await _json(request)
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                raise BadRequest("messages must be a non-empty list")
            try:
                tokens = encode(messages)
            except Exception as e:
                raise BadRequest(f"the chat template rejected the messages: {type(e).__name__}: {e}") from None
        except BadRequest as e:
            return _error(e)
        return {"count": len(tokens), "max_model_len": max_model_len, "tokens": tokens}

    @app.post("/v1/chat/completions")
    async def chat(request: HTTPRequest):
        try:
            req = parse_request(await _json(request), encode, max_model_len, model_name)
        except BadRequest as e:
            return _error(e)
        try:
            comp: Completion = await asyncio.wrap_future(scheduler.submit(req))
        except Exception as e:
            return _error(BadRequest(f"generation failed: {type(e).__name__}: {e}", 500, "InternalServerError"))
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model_name,
            "choices": [{"index": k, "message": {"role": "assistant", "content": t}, "finish_reason": r}
                        for k, (t, r) in enumerate(zip(comp.texts, comp.finish_reasons))],
            "usage": {"prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens,
                      "total_tokens": comp.prompt_tokens + comp.completion_tokens},
        }

    return app


@contextlib.contextmanager
def local_server(model_dir: str, name: str, *, batch_size: int = 16, threads: int = 1, log_path: str | None = None,
                 startup_timeout: float = 180.0, max_wait_ms: float = 50.0,
                 max_model_len: int | None = None) -> Iterator[str]:
    """Serve `model_dir` on 127.0.0.1 for the duration of the block, owned by the caller alone (stopped at
    the end, also when the block fails); yields the /v1 base URL."""
    from . import owned

    launch = owned.launch_for({"name": "skyt1", "batch_size": batch_size, "max_wait_ms": max_wait_ms,
                                 "max_model_len": max_model_len},
                                model_dir, name, threads=threads)
    with owned.OwnedEngine(launch, log_path, startup_timeout=startup_timeout) as engine:
        yield engine.url()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m skyt1.engine.server", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local model folder (transformers format)")
    p.add_argument("--name", required=True, help="model id the API answers to")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-wait-ms", type=float, default=50.0)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16", "auto"])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--max-model-len", type=int, default=None,
                   help="context a request must fit (prompt + max_tokens); default: the model's max_position_embeddings")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from .runner import TransformersBackend

    backend = TransformersBackend(args.model, {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device},
                                  threads=args.threads, progress=False)
    scheduler = Scheduler(backend, args.batch_size, args.max_wait_ms)
    max_model_len = backend.max_model_len(args.max_model_len)
    stand_in_for = stand_in_of(args.model)
    if stand_in_for:
        log.warning("serving %s as %r: a declared stand-in for %s, not that model",
                    args.model, args.name, stand_in_for)
    server = uvicorn.Server(uvicorn.Config(build_app(scheduler, backend.encode, max_model_len, args.name, stand_in_for), host=args.host, port=args.port,
                                           log_level="warning"))

    def serve() -> None:  # HTTP on a thread, decoding on the main thread; the process ends with the server
        try:
            server.run()
        finally:  # also when uvicorn exits with SystemExit (port taken): only os._exit ends a process from a thread
            os._exit(0 if server.started else 1)

    threading.Thread(target=serve, daemon=True).start()
    scheduler.run_forever()


if __name__ == "__main__":
    main()
