"""`devhub demo` (what `make dev-hub` runs): fixtures become git repos and are served, relay off."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.daemon import devhub_env
from tests.support.waiting import wait_for


def test_demo_serves_the_fixture_workspace(tmp_path: Path) -> None:
    workspace = tmp_path / "demo"
    env = devhub_env(tmp_path / "unused-data", tmp_path / "unused-config")
    proc = subprocess.Popen(
        [sys.executable, "-m", "devhub", "demo", "--port", "0", "--workspace", str(workspace)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    info_path = workspace / ".devhub" / "data" / "daemon.json"
    try:
        info = wait_for(
            lambda: info_path.exists() and json.loads(info_path.read_text()),
            timeout=60,
            what="the demo daemon to start",
        )
        url = info["url"]
        wait_for(lambda: httpx.get(url + "/state/health").status_code == 200, timeout=30, what="health")
        assert {r["slug"] for r in httpx.get(url + "/repos/").json()} == {"the-custodian", "state-hub", "ops-bridge"}
        assert all(r["is_git"] for r in httpx.get(url + "/repos/").json())
        assert len(httpx.get(url + "/workplans/CUST-WP-0054").json()["tasks"]) == 10
        assert httpx.get(url + "/relay").json()["state"] == "disabled"
        # The demo never touches the user's own registry.
        assert not (tmp_path / "unused-config" / "repos.json").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    for label in ("dashboard", "API", "API docs", "MCP"):
        assert label in stderr
