"""Fixtures shared by every test area: fixture repos as real git repos, and a running daemon."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> list[Path]:
    """Every fixtures/repos/* folder as a committed git repo under tmp_path/ws."""
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def daemon(tmp_path: Path, workspace: list[Path]) -> Iterator[RunningDaemon]:
    """A real dev daemon (relay off) serving the fixture workspace on a free loopback port."""
    running = start_daemon(tmp_path / "hub", workspace)
    try:
        yield running
    finally:
        running.stop()
