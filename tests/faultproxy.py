"""A FAKE for fault injection only: an HTTP proxy in front of the real model server that answers
some requests with 429 (+ Retry-After), 500, a dropped connection, a truncated body (the connection hangs
up before Content-Length bytes), a malformed body (a complete 200 whose JSON does not parse) or a 200 with no
choices, and passes the rest through. A real server does not make these faults on demand, so this stands in
for them. The openai SDK retries the first four itself; the last two are the client's own retries."""

from __future__ import annotations

import http.client
import itertools
import socketserver
import threading
from collections import Counter

FAULTS = ("rate_limit", "server_error", "drop", "truncate", "malformed", "no_choices")


class FaultProxy:
    def __init__(self, upstream_port: int, plan=None):
        """plan: an iterator of fault names (or 'pass') consumed one per request."""
        self.upstream_port = upstream_port
        self.plan = plan if plan is not None else itertools.cycle(FAULTS + ("pass", "pass"))
        self.counts: Counter = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                proxy._handle(self)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _next(self) -> str:
        with self._lock:
            fault = next(self.plan)
            self.counts[fault] += 1
            return fault

    def _handle(self, h):
        request_line = h.rfile.readline().decode()
        if not request_line:
            return
        method, path, _ = request_line.split(" ", 2)
        headers = {}
        while (line := h.rfile.readline().decode()) not in ("\r\n", "\n", ""):
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        body = h.rfile.read(int(headers.get("content-length", 0) or 0))
        fault = self._next() if path.endswith("/chat/completions") else "pass"
        if fault == "drop":
            return  # close the connection without a byte of response
        if fault == "rate_limit":
            self._send(h, 429, b'{"error": {"message": "rate limited (injected)"}}', {"Retry-After": "0.2"})
            return
        if fault == "server_error":
            self._send(h, 500, b'{"error": {"message": "internal error (injected)"}}')
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=600)
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        if fault == "truncate":
            # Announce the full length, send half, hang up.
            head = f"HTTP/1.1 {resp.status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            h.wfile.write(head.encode() + data[: len(data) // 2])
            h.wfile.flush()
            return
        if fault == "malformed":
            self._send(h, resp.status, data[: len(data) // 2])  # a whole response, its JSON cut in half
            return
        if fault == "no_choices":
            self._send(h, resp.status, b'{"id": "x", "object": "chat.completion", "created": 0, "model": "tiny", '
                                        b'"choices": []}')
            return
        self._send(h, resp.status, data)

    @staticmethod
    def _send(h, status: int, data: bytes, extra: dict | None = None):
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n"
        for k, v in (extra or {}).items():
            head += f"{k}: {v}\r\n"
        h.wfile.write((head + "\r\n").encode() + data)
        h.wfile.flush()
