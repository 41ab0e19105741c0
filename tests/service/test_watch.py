"""Live watching: saved, added, deleted and renamed files and branch switches show through the API."""

from __future__ import annotations

import asyncio
from pathlib import Path

from devhub.registry import inspect_repo
from devhub.service.watch import Watcher, _is_watch_limit
from tests.support.daemon import RunningDaemon
from tests.support.repos import git
from tests.support.waiting import wait_for

SEED_FILE = "workplans/CUST-WP-0054-workstation-independence.md"

NEW_PLAN = """---
id: CUST-WP-0900
type: workplan
title: Added while running
status: active
---

## Task: Fresh task
```task
id: CUST-WP-0900-T01
status: todo
priority: high
```
A freshly added task about zeppelins.
"""


def _custodian(workspace: list[Path]) -> Path:
    return next(p for p in workspace if p.name == "the-custodian")


def _status(daemon: RunningDaemon, task: str) -> str | None:
    response = daemon.get(f"/tasks/{task}")
    return response.json()["status"] if response.status_code == 200 else None


def test_saved_file_is_visible(daemon: RunningDaemon, workspace: list[Path]) -> None:
    path = _custodian(workspace) / SEED_FILE
    text = path.read_text()
    assert "id: CUST-WP-0054-T05\nstatus: todo" in text
    path.write_text(text.replace("id: CUST-WP-0054-T05\nstatus: todo", "id: CUST-WP-0054-T05\nstatus: progress"))
    wait_for(lambda: _status(daemon, "CUST-WP-0054-T05") == "progress", timeout=5, what="the edit to show")


def test_added_renamed_and_deleted_files(daemon: RunningDaemon, workspace: list[Path]) -> None:
    folder = _custodian(workspace) / "workplans"
    added = folder / "CUST-WP-0900-added.md"
    added.write_text(NEW_PLAN)
    wait_for(lambda: _status(daemon, "CUST-WP-0900-T01") == "todo", timeout=5, what="the added file")
    assert any(h["id"] == "CUST-WP-0900-T01" for h in daemon.get("/search", params={"q": "zeppelins"}).json())
    renamed = folder / "CUST-WP-0900-renamed.md"
    added.rename(renamed)
    wait_for(
        lambda: daemon.get("/workplans/CUST-WP-0900").json().get("path") == "workplans/CUST-WP-0900-renamed.md",
        timeout=5,
        what="the rename",
    )
    renamed.unlink()
    wait_for(lambda: daemon.get("/tasks/CUST-WP-0900-T01").status_code == 404, timeout=5, what="the deletion")


def test_broken_file_is_reported_and_others_still_served(daemon: RunningDaemon, workspace: list[Path]) -> None:
    broken = _custodian(workspace) / "workplans" / "CUST-WP-0901-broken.md"
    broken.write_text("---\nid: CUST-WP-0901\ntype: workplan\nstatus: [unclosed\n---\n")

    def reported() -> bool:
        problems = daemon.get("/errors").json()["problems"]
        return any(p["path"].endswith("CUST-WP-0901-broken.md") and p["severity"] == "error" for p in problems)

    wait_for(reported, timeout=5, what="the broken file in /errors")
    problem = next(p for p in daemon.get("/errors").json()["problems"] if p["path"].endswith("0901-broken.md"))
    assert problem["line"] >= 1 and problem["location"].startswith("workplans/CUST-WP-0901-broken.md:")
    assert daemon.get("/tasks/CUST-WP-0054-T01").status_code == 200


def test_branch_switch_rescans_the_repo(daemon: RunningDaemon, workspace: list[Path]) -> None:
    repo = _custodian(workspace)
    git(repo, "checkout", "-q", "-b", "feature")
    path = repo / SEED_FILE
    path.write_text(
        path.read_text().replace("id: CUST-WP-0054-T06\nstatus: todo", "id: CUST-WP-0054-T06\nstatus: done")
    )
    git(repo, "commit", "-qam", "T06 done on a branch")
    wait_for(lambda: _status(daemon, "CUST-WP-0054-T06") == "done", timeout=5, what="the branch edit")
    git(repo, "checkout", "-q", "main")
    wait_for(lambda: _status(daemon, "CUST-WP-0054-T06") == "todo", timeout=5, what="the switch back to main")
    wait_for(
        lambda: next(r for r in daemon.get("/repos/").json() if r["slug"] == "the-custodian")["branch"] == "main",
        timeout=5,
        what="the branch in /repos",
    )


def test_polling_mode_reports_changes(tmp_path: Path, workspace: list[Path]) -> None:
    """The fallback used when inotify runs out of watches works on its own."""
    repo = inspect_repo(_custodian(workspace)).repo
    seen: list[set[str]] = []

    async def scenario() -> None:
        async def on_files(_repo: object, paths: set[str]) -> None:
            seen.append(paths)
            watcher.stop()

        async def on_branch(_repo: object) -> None:
            return None

        watcher = Watcher([repo], on_files, on_branch, force_polling=True)
        task = asyncio.create_task(watcher.run())
        # The poller only sees changes after its first snapshot: keep saving until it reports one.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not task.done() and loop.time() < deadline:
            (repo.root / SEED_FILE).write_text((repo.root / SEED_FILE).read_text() + "\nmore\n")
            await asyncio.wait([task], timeout=0.2)
        await asyncio.wait_for(task, timeout=1)
        assert watcher.state.mode == "polling"

    asyncio.run(scenario())
    assert seen and seen[0] == {SEED_FILE}


def test_watch_limit_errors_are_recognised() -> None:
    assert _is_watch_limit(OSError("OS file watch limit reached. about [...]"))
    assert not _is_watch_limit(OSError("permission denied"))
