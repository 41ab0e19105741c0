"""Dashboard test fixtures: one real daemon per module on the fixture workspace, and the system Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture(scope="module")
def module_workspace(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return make_workspace(tmp_path_factory.mktemp("dash") / "ws")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, module_workspace: list[Path]) -> Iterator[RunningDaemon]:
    """A real dev daemon (relay off) shared by a module's tests; tests change disjoint tasks and files."""
    running = start_daemon(tmp_path_factory.mktemp("hub"), module_workspace)
    try:
        yield running
    finally:
        running.stop()


def repo_path(workspace: list[Path], name: str) -> Path:
    return next(path for path in workspace if path.name == name)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """The Debian Chromium, headless; never a downloaded browser. Missing it is a failure, not a skip."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard browser tests drive the system Chromium "
            "(install it with `apt-get install chromium`; .ci/run does this in CI)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
