"""`devhub fleet tunnels probe`: run every tunnel's health check at once, each cut off at its timeout.

A check is an HTTP GET of `health_check.url` (up on 2xx/3xx) or, without a URL,
a TCP connect to 127.0.0.1:local_port (up when the connection opens).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from devhub.fleet.register import DEFAULT_HEALTH_TIMEOUT_SECONDS, Tunnel

ProbeState = Literal["up", "down", "timeout"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """How one tunnel's check went: state, what was checked, what happened and how long it took."""

    tunnel: str
    check: str  # the URL, or tcp://127.0.0.1:PORT
    state: ProbeState
    detail: str
    latency_ms: float
    timeout_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_target(tunnel: Tunnel) -> str:
    if tunnel.health_check and tunnel.health_check.url:
        return tunnel.health_check.url
    return f"tcp://127.0.0.1:{tunnel.local_port}"


def _timeout(tunnel: Tunnel) -> float:
    return tunnel.health_check.timeout_seconds if tunnel.health_check else DEFAULT_HEALTH_TIMEOUT_SECONDS


async def _http(client: Any, url: str) -> tuple[ProbeState, str]:
    import httpx

    try:
        response = await client.get(url)
    except httpx.TimeoutException:
        return "timeout", "no answer in time"
    except httpx.HTTPError as exc:
        return "down", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    state: ProbeState = "up" if response.status_code < 400 else "down"
    return state, f"HTTP {response.status_code}"


async def _tcp(port: int) -> tuple[ProbeState, str]:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        return "down", exc.strerror or str(exc)
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass  # the peer may already have gone; the connect itself is what counted
    return "up", "connected"


async def _probe_one(client: Any, tunnel: Tunnel) -> ProbeResult:
    timeout = _timeout(tunnel)
    target = check_target(tunnel)
    started = time.perf_counter()
    work = _http(client, target) if target.startswith("http") else _tcp(tunnel.local_port)
    try:
        state, detail = await asyncio.wait_for(work, timeout)
    except TimeoutError:
        state, detail = "timeout", f"no answer within {timeout:g}s"
    latency_ms = round((time.perf_counter() - started) * 1000, 1)
    return ProbeResult(tunnel.name, target, state, detail, latency_ms, timeout)


async def probe_tunnels(tunnels: Sequence[Tunnel]) -> list[ProbeResult]:
    """Every tunnel's check run concurrently; results in the order the tunnels were given."""
    import httpx

    longest = max((_timeout(t) for t in tunnels), default=DEFAULT_HEALTH_TIMEOUT_SECONDS)
    # trust_env=False: a proxy from the environment must never carry a loopback health check.
    async with httpx.AsyncClient(timeout=longest, trust_env=False, follow_redirects=False) as client:
        return list(await asyncio.gather(*(_probe_one(client, t) for t in tunnels)))


def run_probes(tunnels: Sequence[Tunnel]) -> list[ProbeResult]:
    """Blocking wrapper around probe_tunnels for the CLI."""
    return asyncio.run(probe_tunnels(tunnels))
