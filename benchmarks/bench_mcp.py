"""MCP benchmarks (SPEC §8): tool-call latency over streamable HTTP against the same REST call, and
`devhub mcp` (stdio) start-up to a listed tool set.

One real daemon serves both protocols in the same run, and REST and MCP calls alternate so
machine noise hits both alike. Floors: the REST endpoint's p95 for the tools; `python -c pass`
for the stdio start.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import figure, log, median, percentile, time_repeated
from devhub.daemon.spawn import DaemonExited, DaemonProcess, DaemonSilent, spawn_daemon

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MCP_TO_REST_TARGET_RATIO = 2.0
STDIO_READY_TARGET_S = 1.5
DAEMON_START_TIMEOUT_S = 60.0

# tool -> (arguments, the REST path and query it wraps)
CALLS: dict[str, tuple[dict[str, Any], str, dict[str, str]]] = {
    "orient": ({}, "/orient", {}),
    "get_next_steps": ({}, "/state/next_steps", {}),
}


def run(workdir: Path, quick: bool) -> dict[str, Any]:
    """p95 of MCP `orient` / `get_next_steps` vs REST, and `devhub mcp` ready-to-list-tools time."""
    calls = 40 if quick else 300
    starts = 2 if quick else 7
    with running_daemon(workdir) as (url, env):
        log(f"mcp: daemon at {url}; {calls} calls per tool and transport")
        latencies = asyncio.run(measure_calls(url, calls))
        stdio_ready = [measure_stdio_ready(env) for _ in range(starts)]
    figures = []
    for tool, (_, path, query) in CALLS.items():
        mcp_p95 = percentile(latencies[f"mcp:{tool}"], 95) * 1000
        rest_p95 = percentile(latencies[f"rest:{tool}"], 95) * 1000
        where = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
        figures.append(figure(
            f"MCP {tool} over streamable HTTP, p95", mcp_p95, "ms", rest_p95, f"REST GET {where} p95 (same daemon)",
            f"<= {MCP_TO_REST_TARGET_RATIO:g}x floor", mcp_p95 <= MCP_TO_REST_TARGET_RATIO * rest_p95,
            samples=calls, mcp_p50_ms=percentile(latencies[f"mcp:{tool}"], 50) * 1000,
            rest_p50_ms=percentile(latencies[f"rest:{tool}"], 50) * 1000,
        ))
    python_start = median(time_repeated(
        lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), 3 if quick else 7
    ))
    ready = median(stdio_ready)
    figures.append(figure(
        "devhub mcp (stdio) ready to list tools, daemon running", ready, "s", python_start,
        "python -c pass start-up", f"<= {STDIO_READY_TARGET_S:g} s", ready <= STDIO_READY_TARGET_S,
        samples=starts,
    ))
    return {"figures": figures}


async def measure_calls(url: str, calls: int) -> dict[str, list[float]]:
    """Seconds per call for each tool through MCP and through REST, alternating call by call."""
    import httpx
    from mcp.client import Client

    samples: dict[str, list[float]] = {f"{kind}:{tool}": [] for tool in CALLS for kind in ("mcp", "rest")}
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as rest, Client(url + "/mcp", cache=None) as mcp:
        for tool, (arguments, path, query) in CALLS.items():  # warm both paths
            await rest.get(path, params=query)
            await mcp.call_tool(tool, arguments)
        for _ in range(calls):
            for tool, (arguments, path, query) in CALLS.items():
                started = time.perf_counter()
                response = await rest.get(path, params=query)
                samples[f"rest:{tool}"].append(time.perf_counter() - started)
                response.raise_for_status()
                started = time.perf_counter()
                result = await mcp.call_tool(tool, arguments)
                samples[f"mcp:{tool}"].append(time.perf_counter() - started)
                if result.is_error:
                    raise RuntimeError(f"MCP {tool} failed during the benchmark: {result.content}")
    return samples


def measure_stdio_ready(env: dict[str, str]) -> float:
    """Seconds from spawning `python -m devhub mcp` to its tool list (handshake included)."""
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=sys.executable, args=["-m", "devhub", "mcp"], env=env,
                                   cwd=str(PROJECT_ROOT))

    async def ready() -> float:
        started = time.perf_counter()
        async with Client(params, cache=None) as client:
            tools = await client.list_tools()
            elapsed = time.perf_counter() - started
        if len(tools.tools) < 20:
            raise RuntimeError(f"devhub mcp listed only {len(tools.tools)} tools")
        return elapsed

    return asyncio.run(ready())


@contextmanager
def running_daemon(workdir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A dev daemon (relay off, free port) on the fixture repos, as real git repos under workdir."""
    from devhub.cli.demo import FIXTURES, make_git_repo

    root = workdir / "mcp-bench"
    shutil.rmtree(root, ignore_errors=True)
    repos = [make_git_repo(src, root / "ws" / src.name) for src in sorted((FIXTURES / "repos").iterdir())
             if src.is_dir()]
    data_dir = root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVHUB_")}
    env.update({"DEVHUB_DATA_DIR": str(data_dir), "DEVHUB_CONFIG_DIR": str(root / "config")})
    data_dir.mkdir(parents=True)
    up = ["up", "--port", "0", "--no-relay", *map(str, repos)]
    daemon = spawn_daemon(up, data_dir=data_dir, log_path=data_dir / "bench-daemon.log", env=env, cwd=PROJECT_ROOT)
    try:
        yield _wait_until_serving(daemon, data_dir), env
    finally:
        daemon.stop(timeout=20)


def _wait_until_serving(daemon: DaemonProcess, data_dir: Path) -> str:
    try:
        return daemon.wait_until_answering(DAEMON_START_TIMEOUT_S)
    except DaemonExited as exited:
        raise RuntimeError(f"the benchmark daemon exited with {exited.code}; see {data_dir}") from None
    except DaemonSilent:
        raise RuntimeError(f"the benchmark daemon did not answer within {DAEMON_START_TIMEOUT_S:.0f}s") from None
