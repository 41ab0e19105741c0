"""A fault-injecting TCP proxy on loopback, for putting a bad network between a dev hub and its upstream.

It runs an asyncio loop in a daemon thread (so it dies with the test process) and
listens on a fixed loopback port, forwarding to a target that can change at runtime.
Modes, switchable at any time with `set_mode`:

    pass      forward both ways
    refuse    stop listening (connection refused) and cut every open connection
    reset     forward the request, send the client the first bytes of the answer, then RST
    delay     hold each client->upstream chunk for `delay` seconds, then forward
    503       answer every request itself: 503 with `Retry-After: <retry_after>`
    drop      forward the request, let the upstream answer, then drop the answer and close
              (the lost acknowledgement: the upstream applied it, the client never knows)

A switch cuts every open connection, so the new mode applies to the client's next request.
`times=N` applies the mode to the next N connections' first exchange, then falls back to
`pass`. Counters help assertions: `connections`, `requests_forwarded` (first requests of
connections), `responses_lost` (answers dropped or cut).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

MODES = ("pass", "refuse", "reset", "delay", "503", "drop")
LIFETIME_SECONDS = 600.0  # stops by itself even if a test forgets to


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class FaultProxy:
    """`with FaultProxy(target_port) as proxy:` — `proxy.url` is what the client talks to."""

    def __init__(self, target_port: int | None = None, *, port: int | None = None, mode: str = "pass") -> None:
        self.port = port or free_port()
        self.target_port = target_port
        self.delay = 0.5
        self.retry_after = 1
        self.connections = 0
        self.peak_connections = 0  # most connections open at once (a pooled client opens more only when busy)
        self.requests_forwarded = 0
        self.responses_lost = 0  # answers dropped or cut by `drop` / `reset`
        self._mode = "pass"
        self._times: int | None = None
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faultproxy", daemon=True)
        self._started = time.monotonic()
        self._thread.start()
        self.set_mode(mode)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mode(self) -> str:
        return self._mode

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def set_target(self, target_port: int) -> None:
        self.target_port = target_port

    def set_mode(
        self, mode: str, *, times: int | None = None, delay: float | None = None, retry_after: int | None = None
    ) -> None:
        """Switch behaviour now; with `times`, only for the next N connections, then `pass`."""
        if mode not in MODES:
            raise ValueError(f"unknown proxy mode {mode!r}; use one of {MODES}")
        if delay is not None:
            self.delay = delay
        if retry_after is not None:
            self.retry_after = retry_after
        self._call(self._switch(mode, times))

    async def _switch(self, mode: str, times: int | None) -> None:
        self._mode, self._times = mode, times
        for writer in list(self._writers):  # kept-alive connections would otherwise dodge the new mode
            _abort(writer)
        if mode == "refuse":
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
                self._server = None
        elif self._server is None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)

    def _take_mode(self) -> str:
        mode = self._mode
        if self._times is not None:
            self._times -= 1
            if self._times <= 0:
                self._mode, self._times = "pass", None
        return mode

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        self.peak_connections = max(self.peak_connections, len(self._writers))
        try:
            if time.monotonic() - self._started > LIFETIME_SECONDS:
                _abort(writer)
                return
            await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            _abort(writer)
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.read(65536)
        if not first:
            return
        mode = self._take_mode()
        if mode == "503":
            await _drain_request(reader, first)
            body = b'{"title":"Service Unavailable","status":503,"detail":"fault proxy"}'
            head = (
                "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
                f"Retry-After: {self.retry_after}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
            return
        if self.target_port is None:
            _abort(writer)
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        try:
            if mode == "delay":
                await asyncio.sleep(self.delay)
            up_writer.write(first)
            await up_writer.drain()
            self.requests_forwarded += 1
            if mode in ("reset", "drop"):
                # Keep feeding the upstream (a body may follow the headers) until it answers.
                feeding = asyncio.ensure_future(self._pipe(reader, up_writer, delay=False))
                try:
                    answer = await up_reader.read(65536)  # the upstream has applied the request by now
                finally:
                    feeding.cancel()
                if mode == "reset" and answer:
                    writer.write(answer[: min(12, len(answer))])
                    await writer.drain()
                self.responses_lost += 1
                _abort(writer)
                return
            await asyncio.gather(
                self._pipe(reader, up_writer, delay=mode == "delay"), self._pipe(up_reader, writer, delay=False)
            )
        finally:
            with contextlib.suppress(Exception):
                up_writer.close()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, delay: bool) -> None:
        try:
            while True:
                chunk = await source.read(65536)
                if not chunk:
                    break
                if delay:
                    await asyncio.sleep(self.delay)
                sink.write(chunk)
                await sink.drain()
                if self._mode == "refuse":
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()

    def close(self) -> None:
        """Stop listening, cut connections and end the loop thread."""
        if not self._loop.is_running():
            return
        with contextlib.suppress(Exception):
            self._call(self._switch("refuse", None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)


async def _drain_request(reader: asyncio.StreamReader, first: bytes) -> None:
    """Read the rest of one request (headers + Content-Length body) so answering it does not RST the client."""
    data = first
    while b"\r\n\r\n" not in data:
        more = await reader.read(65536)
        if not more:
            return
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    while len(rest) < length:
        more = await reader.read(65536)
        if not more:
            return
        rest += more


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), the way a crashed peer or a middlebox reset looks."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport = writer.transport
    with contextlib.suppress(Exception):
        transport.abort()


@contextlib.contextmanager
def fault_proxy(target_port: int | None = None, **kwargs: Any) -> Iterator[FaultProxy]:
    """A FaultProxy that is closed on exit."""
    proxy = FaultProxy(target_port, **kwargs)
    try:
        yield proxy
    finally:
        proxy.close()
