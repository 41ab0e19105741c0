"""Shared by the relay end-to-end modules: one real fleet hub per module, serving the-custodian."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.relay_e2e.helpers import start_fleet
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    home = tmp_path_factory.mktemp("fleet")
    running = start_fleet(home, make_workspace(home / "ws", ["the-custodian"]))
    try:
        yield running
    finally:
        running.stop()
