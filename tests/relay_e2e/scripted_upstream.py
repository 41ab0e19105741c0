"""A real HTTP server on loopback that answers relayed calls from a script, and records every call."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a status with headers and body, or a fault ("timeout" sleeps, "reset" RSTs)."""

    status: int = 201
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    fault: str | None = None


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedUpstream:
    """Answers by the request body's `summary`: the next scripted Reply for it, else 201 with the body."""

    def __init__(self, timeout_sleep: float = 2.0) -> None:
        self.scripts: dict[str, list[Reply]] = {}
        self.calls: list[Call] = []
        self.timeout_sleep = timeout_sleep
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send(Reply(200, body={"status": "ok", "role": "fleet"}))

            def do_POST(self) -> None:
                self._handle()

            def do_PATCH(self) -> None:
                self._handle()

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = owner._next(Call(self.command, self.path, headers, body))
                if reply.fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if reply.fault == "timeout":
                    time.sleep(owner.timeout_sleep)
                    self.close_connection = True
                with contextlib.suppress(OSError):
                    self._send(
                        reply
                        if reply.body is not None or reply.status == 204
                        else Reply(reply.status, reply.headers, {"echo": body})
                    )

            def _send(self, reply: Reply) -> None:
                data = b"" if reply.status == 204 else json.dumps(reply.body or {}).encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _next(self, call: Call) -> Reply:
        with self._lock:
            self.calls.append(call)
            script = self.scripts.get(str(call.body.get("summary")))
            return script.pop(0) if script else Reply(201)

    def calls_for(self, summary: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.body.get("summary") == summary]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def scripted_upstream(**kwargs: Any) -> Iterator[ScriptedUpstream]:
    server = ScriptedUpstream(**kwargs)
    try:
        yield server
    finally:
        server.close()
