"""Helpers for the reconcile tests: a devhub home in tmp, real git repos written from text, CLI runs."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from devhub.service.local import read
from devhub.service.open import open_hub
from devhub.service.port import HubPort
from devhub.settings import Settings, load_settings
from tests.support.daemon import devhub_env, run_cli
from tests.support.repos import git

T = TypeVar("T")

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
}


def make_repo(root: Path, files: dict[str, bytes | str]) -> Path:
    """A committed git repo at `root` holding `files` (relative path -> content, str written as UTF-8)."""
    root.mkdir(parents=True)
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Import workplans")
    return root


class Home:
    """A devhub data/config directory pair, driven through the real CLI or in-process queries."""

    def __init__(self, root: Path) -> None:
        self.env = devhub_env(root / "data", root / "config", GIT_IDENTITY)
        self.config: Settings = load_settings(self.env)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=self.env, timeout=60)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env=self.env, check=True, timeout=60)

    def json(self, *args: str, expect: int = 0) -> Any:
        done = self.cli(*args, "--json")
        assert done.returncode == expect, f"devhub {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        return json.loads(done.stdout)

    def register(self, *paths: Path) -> None:
        self.ok("register", *map(str, paths))

    def query(self, query: Callable[[Any], Any]) -> Any:
        """Run an async read-model query in-process after syncing files and journal (like a CLI command)."""
        return read(self.config, query)

    def _write(self, write: Callable[[HubPort], Awaitable[Any]]) -> None:
        """One write through `open_hub`, as every CLI write goes (without a process start)."""

        async def run() -> None:
            async with open_hub(self.config) as hub:
                await write(hub)

        asyncio.run(run())

    def set_status(
        self, task_id: str, status: str, repo: str | None = None, *, blocking_reason: str | None = None
    ) -> None:
        """What `devhub task set` does, in-process (a move to wait needs a blocking_reason: the status canon)."""
        body = {"status": status, "agent": "test"}
        if blocking_reason is not None:
            body["blocking_reason"] = blocking_reason
        self._write(lambda hub: hub.patch_task(task_id, repo, body, None, "test"))

    def set_workplan_status(self, workplan_id: str, status: str) -> None:
        body = {"status": status, "agent": "test"}
        self._write(lambda hub: hub.patch_workplan(workplan_id, None, body, None, "test"))

    def checks(self, repo: str | None = None) -> list[dict[str, Any]]:
        """`devhub check`'s findings, computed in-process on a freshly synced read model."""
        from devhub.service.checks import run_checks

        findings: list[dict[str, Any]] = self.query(lambda reader: run_checks(reader, repo=repo))
        return findings


def findings_by_rule(findings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for finding in findings:
        grouped.setdefault(finding["rule"], []).append(finding)
    return grouped
