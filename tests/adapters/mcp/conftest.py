"""One real daemon shared by the MCP tests that only need the fixture workspace (a daemon start costs ~1 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace


@pytest.fixture(scope="session")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """A dev daemon (relay off) on the fixture workspace; tests on it use their own ids and keys."""
    root = tmp_path_factory.mktemp("mcp-shared")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()
