"""DNS-rebinding protection on /mcp: devhub's middleware and the SDK's own check both refuse foreign names."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from devhub.adapters.mcp.mount import transport_security
from tests.support.daemon import RunningDaemon, start_daemon


@pytest.fixture
def daemon(shared_daemon: RunningDaemon) -> RunningDaemon:
    """This module's tests share one daemon (tests/adapters/mcp/conftest.py)."""
    return shared_daemon


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def test_a_foreign_origin_or_host_is_refused_and_a_loopback_one_is_served(daemon: RunningDaemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=10.0) as client:
        evil_origin = client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": "http://evil.example"})
        evil_host = client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Host": "evil.example:80"})
        loopback = client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "Origin": daemon.url})
    assert evil_origin.status_code == 403 and "evil.example" in evil_origin.json()["detail"]
    assert evil_host.status_code == 403
    assert loopback.status_code == 200, loopback.text
    assert "orient" in {tool["name"] for tool in loopback.json()["result"]["tools"]}


def _verdict(settings: object, host: str, origin: str | None) -> int | None:
    from mcp.server.transport_security import TransportSecurityMiddleware

    headers = [(b"host", host.encode()), (b"content-type", b"application/json")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    request = Request({"type": "http", "method": "POST", "path": "/mcp", "headers": headers})
    refused = asyncio.run(TransportSecurityMiddleware(settings).validate_request(request, is_post=True))  # type: ignore[arg-type]
    return None if refused is None else refused.status_code


def test_the_sdk_check_stays_on_behind_devhubs_middleware() -> None:
    settings = transport_security("127.0.0.1", 8000)
    assert settings.enable_dns_rebinding_protection
    assert _verdict(settings, "127.0.0.1:8000", "http://127.0.0.1:8000") is None
    assert _verdict(settings, "localhost:43123", "http://localhost:43123") is None
    assert _verdict(settings, "[::1]:8000", None) is None
    assert _verdict(settings, "127.0.0.1:8000", "http://evil.example") == 403
    assert _verdict(settings, "evil.example:8000", None) == 421
    assert _verdict(settings, "127.0.0.1.evil.example:80", None) == 421


def test_with_devhub_token_set_mcp_needs_the_bearer_and_devhub_mcp_sends_it(tmp_path: Path) -> None:
    from mcp.client import Client

    from tests.adapters.mcp.helpers import payload, run, stdio_parameters
    from tests.support.repos import make_workspace

    daemon = start_daemon(
        tmp_path / "hub", make_workspace(tmp_path / "ws", ["the-custodian"]), env={"DEVHUB_TOKEN": "s3cret-token"}
    )
    try:
        anonymous = httpx.post(daemon.url + "/mcp", json=INITIALIZE, headers=MCP_HEADERS, timeout=10.0)
        assert anonymous.status_code == 401

        async def scenario() -> object:
            async with Client(stdio_parameters(daemon.env), cache=None) as client:
                return payload(
                    await client.call_tool("update_task_status", {"task_id": "CUST-WP-0054-T05", "status": "progress"})
                )

        assert run(scenario())["status"] == "progress"  # type: ignore[index]
    finally:
        daemon.stop()
