"""A small OpenAI-compatible HTTP server for a local model (the tiny preset's rewrite endpoint).

POST /v1/chat/completions, GET /v1/models, GET /health, GET /skyt1/stats (request counters for tests).
Requests are decoded with continuous batching through the same TransformersBackend the batch stages
use: a worker thread starts a session with the requests that arrive within `max_wait_ms`, and later
requests with the same sampling parameters join it as slots free up.

Stages start it through skyt1.engines (backend `skyt1`), which shares one server between the jobs of
one model; `local_server(...)` starts a private one for a block (tests, benches, the smoke run's
stand-ins)."""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations at runtime.

import argparse
import contextlib
import itertools
import logging
import os
import queue
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Iterator

from .generation import Completion, Params

log = logging.getLogger(__name__)


class Batcher:
    """Feeds requests into continuous batching on one worker thread.

    Requests with the same sampling parameters share a decoding session: after a short wait for the
    first burst, a request that arrives while others decode joins the running batch as soon as
    slots free up, instead of waiting for the whole batch to end. Requests with other parameters
    wait for the next session (and stop new joins, so they are not starved)."""

    def __init__(self, backend, batch_size: int, max_wait_ms: float):
        self.backend = backend
        self.batch_size = batch_size
        self.max_wait = max_wait_ms / 1000.0
        self.q: queue.Queue = queue.Queue()
        self.deferred: deque = deque()  # requests for a later session
        self.stats = {"requests": 0, "sessions": 0, "completion_tokens": 0}
        self._ids = itertools.count()

    def start(self) -> "Batcher":
        """Decode on a background thread (in-process use). The server decodes on its main thread
        instead: there, OpenMP worker threads spinning after the main thread's last parallel region
        would take the cores from a decoding thread (measured 1.4x slower on 2 cores)."""
        threading.Thread(target=self.run_forever, daemon=True).start()
        return self

    def submit(self, messages: list[dict], params: Params) -> Future:
        fut: Future = Future()
        self.stats["requests"] += 1
        self.q.put((messages, params, fut))
        return fut

    def run_forever(self) -> None:
        while True:
            first = self.deferred.popleft() if self.deferred else self.q.get()
            waiting = deque([first])
            deadline = time.monotonic() + self.max_wait
            while len(waiting) < self.batch_size and (timeout := deadline - time.monotonic()) > 0:
                try:
                    self._sort(self.q.get(timeout=timeout), first[1], waiting)
                except queue.Empty:
                    break
            self._session(first[1], waiting)

    def _sort(self, item, params: Params, waiting: deque) -> None:
        (waiting if item[1] == params and not self.deferred else self.deferred).append(item)

    def _session(self, params: Params, waiting: deque) -> None:
        self.stats["sessions"] += 1
        running: dict[int, Future] = {}

        def take(free: int, idle: bool) -> list:
            while True:
                try:
                    self._sort(self.q.get_nowait(), params, waiting)
                except queue.Empty:
                    break
            out = []
            while waiting and len(out) < free:
                messages, _, fut = waiting.popleft()
                running[rid := next(self._ids)] = fut
                out.append((rid, messages))
            return out

        def on_done(rid: int, comp: Completion) -> None:
            self.stats["completion_tokens"] += comp.completion_tokens
            running.pop(rid).set_result(comp)

        try:
            self.backend.generate_stream(params, take, on_done)
        except Exception as e:  # a failed session fails its requests (500), the server keeps serving
            for fut in [*running.values(), *(item[2] for item in waiting)]:
                if not fut.done():
                    fut.set_exception(e)


def stand_in_of(model_dir) -> str | None:
    """What a model folder stands in for, as its manifest declares it (tiny_qwen2 stand-ins), else None."""
    import json

    from .models import MANIFEST

    path = Path(model_dir) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text()).get("stand_in_for")


def build_app(batcher: Batcher, model_name: str, stand_in_for: str | None = None):
    """stand_in_for: the served folder is a declared stand-in for that model; /health and /v1/models say so."""
    import asyncio

    from fastapi import FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()
    declared = {"stand_in": True, "stand_in_for": stand_in_for} if stand_in_for else {}

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": model_name, **declared}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "skyt1", **declared}]}

    @app.get("/skyt1/stats")
    async def stats():
        return batcher.stats

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise HTTPException(400, "messages must be a non-empty list")
        if body.get("stream"):
            raise HTTPException(400, "streaming is not supported by this server")
        params = Params(max_new_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
                        temperature=float(body.get("temperature") if body.get("temperature") is not None else 1.0),
                        top_p=float(body.get("top_p") if body.get("top_p") is not None else 1.0),
                        n=int(body.get("n") or 1), seed=int(body.get("seed") or 0))
        try:
            comp: Completion = await asyncio.wrap_future(batcher.submit(messages, params))
        except Exception as e:
            return JSONResponse({"error": {"message": f"generation failed: {type(e).__name__}: {e}"}}, status_code=500)
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
                 startup_timeout: float = 180.0, max_wait_ms: float = 50.0) -> Iterator[str]:
    """Serve `model_dir` on 127.0.0.1 for the duration of the block, owned by the caller alone (stopped at
    the end, also when the block fails); yields the /v1 base URL."""
    from . import engines

    launch = engines.launch_for({"name": "skyt1", "batch_size": batch_size, "max_wait_ms": max_wait_ms},
                                model_dir, name, threads=threads)
    with engines.OwnedEngine(launch, log_path, startup_timeout=startup_timeout) as engine:
        yield engine.url()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m skyt1.serving", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="local model folder (transformers format)")
    p.add_argument("--name", required=True, help="model id the API answers to")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--max-wait-ms", type=float, default=50.0)
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16", "auto"])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from .generation.hf import TransformersBackend

    backend = TransformersBackend(args.model, {"batch_size": args.batch_size, "dtype": args.dtype, "device": args.device},
                                  threads=args.threads, progress=False)
    batcher = Batcher(backend, args.batch_size, args.max_wait_ms)
    stand_in_for = stand_in_of(args.model)
    if stand_in_for:
        log.warning("serving %s as %r: a declared stand-in for %s, not that model",
                    args.model, args.name, stand_in_for)
    server = uvicorn.Server(uvicorn.Config(build_app(batcher, args.name, stand_in_for), host=args.host, port=args.port,
                                           log_level="warning"))

    def serve() -> None:  # HTTP on a thread, decoding on the main thread; the process ends with the server
        try:
            server.run()
        finally:  # also when uvicorn exits with SystemExit (port taken): only os._exit ends a process from a thread
            os._exit(0 if server.started else 1)

    threading.Thread(target=serve, daemon=True).start()
    batcher.run_forever()


if __name__ == "__main__":
    main()
