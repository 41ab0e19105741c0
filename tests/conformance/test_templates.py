"""Issue 15: the ecosystem's agent templates, replayed step by step against a real daemon with no upstream.

Each template (tests/conformance/templates.py) runs on its own daemon over the conformance
workspace, with the relay on and its upstream a closed port: an agent following the template
offline must meet no unknown tool, no 404, no answer missing a key the real hub gives, and no
argument without its effect. The MCP templates run through the official SDK client, over the
daemon's streamable HTTP /mcp and over stdio (`devhub mcp`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.adapters.mcp.helpers import run
from tests.conformance.runner import replay
from tests.conformance.steps import Template
from tests.conformance.templates import TEMPLATES
from tests.conformance.world import make_conformance_workspace
from tests.support.daemon import start_daemon
from tests.support.faultproxy import free_port

CASES = [
    pytest.param(template, transport, id=f"{template.name} [{transport}]")
    for template in TEMPLATES
    for transport in (("http", "stdio") if template.surface == "mcp" else ("rest",))
]


@pytest.mark.parametrize(("template", "transport"), CASES)
def test_template_replays_offline(template: Template, transport: str, tmp_path: Path) -> None:
    unreachable = f"http://127.0.0.1:{free_port()}"  # nothing listens: the fleet is out of reach
    daemon = start_daemon(
        tmp_path / "hub", make_conformance_workspace(tmp_path / "ws"), args=("--upstream", unreachable)
    )
    try:
        relay = daemon.get("/relay").json()
        assert relay["state"] != "disabled", f"the relay runs, with nowhere to send: {relay}"
        failures = run(replay(template, daemon, transport))
    finally:
        daemon.stop()
    assert failures == [], f"{template.source}: {len(failures)} failing step(s):\n" + "\n".join(failures)
