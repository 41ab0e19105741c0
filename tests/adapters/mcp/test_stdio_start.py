"""`devhub mcp` answers the handshake at once and starts the data directory's daemon when none runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.adapters.mcp.helpers import SPEC_TOOLS, error_text, payload, run, stdio_parameters
from tests.support.daemon import devhub_env, run_cli


def test_devhub_mcp_starts_the_daemon_when_none_runs(tmp_path: Path, workspace: list[Path]) -> None:
    from mcp.client import Client

    data_dir, config_dir = tmp_path / "data", tmp_path / "config"
    env = devhub_env(data_dir, config_dir, {"DEVHUB_PORT": "0"})  # a free port: 8000 may be taken here
    run_cli("register", *map(str, workspace), env=env, check=True)
    assert not (data_dir / "daemon.json").exists()

    async def scenario() -> tuple[set[str], dict[str, Any]]:
        async with Client(stdio_parameters(env), cache=None) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            oriented = payload(await client.call_tool("orient", {"repo": "the-custodian"}))
            return names, oriented

    try:
        names, oriented = run(scenario())
        assert names == SPEC_TOOLS
        assert "CUST-WP-0054" in [w["id"] for w in oriented["active_workplans"]]
        info = json.loads((data_dir / "daemon.json").read_text())
        # Checked after the session closed: the daemon is the user's hub and outlives the MCP client.
        status = run_cli("status", env=env)
        assert status.returncode == 0 and info["url"] in status.stdout
    finally:
        run_cli("down", env=env)
    assert not (data_dir / "daemon.json").exists()


def test_a_daemon_that_cannot_start_is_a_tool_error_saying_why(tmp_path: Path) -> None:
    from mcp.client import Client

    env = devhub_env(tmp_path / "data", tmp_path / "config", {"DEVHUB_PORT": "0"})  # nothing registered

    async def scenario() -> tuple[int, Any]:
        async with Client(stdio_parameters(env), cache=None) as client:
            listed = len((await client.list_tools()).tools)  # the handshake never waits for the daemon
            return listed, await client.call_tool("orient", {})

    listed, result = run(scenario())
    assert listed == len(SPEC_TOOLS)
    text = error_text(result)
    assert "`devhub up --detach` failed" in text and "nothing to serve: no repos are registered" in text
    assert not (tmp_path / "data" / "daemon.json").exists()
