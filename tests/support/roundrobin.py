"""A round-robin HTTP load balancer on loopback, for putting several fleet replicas behind one URL.

Each request goes to the next replica in turn (one request per connection: the request is sent
with `Connection: close` and the client's connection is closed after the answer, so a kept-alive
client still spreads its requests). A replica that refuses the connection is skipped for that
request, as a balancer's health check would. `forwarded[port]` counts the requests each got.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import threading
from typing import Any

from tests.support.faultproxy import free_port

_CONNECTION_HEADER = re.compile(rb"(?im)^connection:[^\r\n]*\r\n")
_LENGTH_HEADER = re.compile(rb"(?im)^content-length:\s*(\d+)\s*$")


class RoundRobin:
    """`with RoundRobin([port_a, port_b]) as balancer:` — `balancer.url` is what the client talks to."""

    def __init__(self, target_ports: list[int]) -> None:
        self.port = free_port()
        self.targets = list(target_ports)
        self.forwarded = dict.fromkeys(self.targets, 0)
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="roundrobin", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True), self._loop
        ).result(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RoundRobin:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = _LENGTH_HEADER.search(head)
            body = await reader.readexactly(int(length.group(1))) if length else b""
            request = _CONNECTION_HEADER.sub(b"", head[:-2]) + b"Connection: close\r\n\r\n" + body
            answer = await self._forward(request)
            if answer:
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _forward(self, request: bytes) -> bytes:
        """Send to the next replica that accepts a connection; its whole answer, or b"" when none does."""
        start = next(self._turn)
        for step in range(len(self.targets)):
            port = self.targets[(start + step) % len(self.targets)]
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue  # down: the next one takes it
            try:
                up_writer.write(request)
                await up_writer.drain()
                self.forwarded[port] += 1
                return await up_reader.read()  # to EOF: the replica closes after one answer
            finally:
                with contextlib.suppress(Exception):
                    up_writer.close()
        return b""

    def close(self) -> None:
        if not self._loop.is_running():
            return

        async def stop() -> None:
            self._server.close()
            await self._server.wait_closed()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
