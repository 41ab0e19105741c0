"""A running daemon follows the registry and the repo folders: register, unregister, delete, move, re-create."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.support.daemon import RunningDaemon, run_cli
from tests.support.repos import git
from tests.support.waiting import wait_for

# The daemon looks every quarter second; the deadline leaves room for a loaded machine.
DEADLINE = 5.0
CUSTODIAN_TASK = "CUST-WP-0054-T05"


def _plan(ident: str, status: str = "todo") -> str:
    return f"""---
id: {ident}
type: workplan
title: Plan {ident}
status: active
---

## Task: Only task
```task
id: {ident}-T01
status: {status}
priority: high
```
"""


def _new_repo(path: Path, ident: str) -> Path:
    (path / "workplans").mkdir(parents=True)
    (path / "workplans" / f"{ident}-plan.md").write_text(_plan(ident))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "plans")
    return path


def _task_status(daemon: RunningDaemon, task: str) -> str | None:
    response = daemon.get(f"/tasks/{task}")
    return response.json()["status"] if response.status_code == 200 else None


def _repo_row(daemon: RunningDaemon, slug: str) -> dict[str, object] | None:
    return next((r for r in daemon.get("/repos/").json() if r["slug"] == slug), None)


def _is_missing(daemon: RunningDaemon, slug: str) -> bool:
    return (_repo_row(daemon, slug) or {}).get("missing") is True


def _missing_problems(daemon: RunningDaemon, slug: str) -> list[dict[str, object]]:
    return [p for p in daemon.get("/errors").json()["problems"] if p["repo"] == slug and p["code"] == "repo-missing"]


def _roots(daemon: RunningDaemon) -> int:
    roots: int = daemon.get("/state/daemon").json()["watcher"]["roots"]
    return roots


def _custodian(workspace: list[Path]) -> Path:
    return next(p for p in workspace if p.name == "the-custodian")


def _edit_task(repo: Path, ident: str, status: str) -> None:
    (repo / "workplans" / f"{ident}-plan.md").write_text(_plan(ident, status))


def test_register_and_unregister_while_running(daemon: RunningDaemon, tmp_path: Path) -> None:
    repo = _new_repo(tmp_path / "later", "LATE-WP-0001")
    roots_before = _roots(daemon)
    daemon.cli("register", str(repo), check=True)
    wait_for(lambda: _task_status(daemon, "LATE-WP-0001-T01") == "todo", timeout=DEADLINE, what="the new repo")
    assert _repo_row(daemon, "later") is not None
    assert "later" in daemon.get("/state/daemon").json()["repos"]
    assert _roots(daemon) == roots_before + 2  # its workplans/ and .git
    # It is watched, not only scanned once.
    _edit_task(repo, "LATE-WP-0001", "progress")
    wait_for(lambda: _task_status(daemon, "LATE-WP-0001-T01") == "progress", timeout=DEADLINE, what="an edit")

    daemon.cli("unregister", "later", check=True)
    wait_for(lambda: _task_status(daemon, "LATE-WP-0001-T01") is None, timeout=DEADLINE, what="the repo to go")
    assert _repo_row(daemon, "later") is None
    assert daemon.get("/workplans/", params={"repo": "later"}).json() == []
    assert _roots(daemon) == roots_before  # no longer watched
    assert _task_status(daemon, CUSTODIAN_TASK) == "todo"  # the others are untouched


def test_hand_edits_of_the_registry_are_followed(daemon: RunningDaemon) -> None:
    registry = daemon.config_dir / "repos.json"
    data = json.loads(registry.read_text())
    custodian = next(r for r in data["repos"] if r["slug"] == "the-custodian")
    data["repos"] = [r for r in data["repos"] if r["slug"] != "the-custodian"]
    registry.write_text(json.dumps(data))
    wait_for(lambda: _task_status(daemon, CUSTODIAN_TASK) is None, timeout=DEADLINE, what="the hand edit")
    # A broken registry file is reported and changes nothing that is served.
    registry.write_text("{ not json")
    wait_for(lambda: "still serving" in " ".join(daemon.log().split()), timeout=DEADLINE, what="the warning")
    assert "unreadable" in daemon.log()
    assert {r["slug"] for r in daemon.get("/repos/").json()} == {"state-hub", "ops-bridge"}
    assert daemon.get("/state/health").status_code == 200
    # Fixed again: followed again.
    registry.write_text(json.dumps({"version": 1, "repos": [*data["repos"], custodian]}))
    wait_for(lambda: _task_status(daemon, CUSTODIAN_TASK) == "todo", timeout=DEADLINE, what="the repo back")


def test_a_deleted_repo_is_missing_then_recreated_content_is_served(
    daemon: RunningDaemon, workspace: list[Path]
) -> None:
    repo = _custodian(workspace)
    assert _task_status(daemon, CUSTODIAN_TASK) == "todo"
    shutil.rmtree(repo)

    wait_for(lambda: _is_missing(daemon, "the-custodian"), timeout=DEADLINE, what="the repo to be missing")
    assert _task_status(daemon, CUSTODIAN_TASK) is None, "a vanished repo's workplans are not served as live"
    assert daemon.get("/workplans/", params={"repo": "the-custodian"}).json() == []
    [problem] = _missing_problems(daemon, "the-custodian")
    assert problem["severity"] == "error" and str(repo) in str(problem["message"])
    status = daemon.cli("status", check=True).stdout
    assert "missing: the-custodian" in status and str(repo) in status
    assert daemon.get("/state/daemon").json()["missing_repos"] == [{"slug": "the-custodian", "path": str(repo)}]
    assert "(missing)" in run_cli("repos", env={**daemon.env, "COLUMNS": "300"}, check=True).stdout
    assert "repo-missing" in daemon.cli("check").stdout
    page = daemon.get("/", headers={"Accept": "text/html"}).text
    assert "repo-missing" in page and str(repo) in page
    assert (_repo_row(daemon, "state-hub") or {}).get("missing") is False

    _new_repo(repo, "CUST-WP-0777")  # git init again, with different content
    wait_for(lambda: _task_status(daemon, "CUST-WP-0777-T01") == "todo", timeout=DEADLINE, what="the new content")
    assert _task_status(daemon, CUSTODIAN_TASK) is None
    assert (_repo_row(daemon, "the-custodian") or {}).get("missing") is False
    assert _missing_problems(daemon, "the-custodian") == []
    assert daemon.get("/state/daemon").json()["missing_repos"] == []
    # The watcher covers the re-created folders again.
    _edit_task(repo, "CUST-WP-0777", "progress")
    wait_for(lambda: _task_status(daemon, "CUST-WP-0777-T01") == "progress", timeout=DEADLINE, what="an edit")


def test_a_repo_moved_away_and_back_is_served_and_watched_again(daemon: RunningDaemon, workspace: list[Path]) -> None:
    repo = _custodian(workspace)
    aside = repo.with_name("moved-aside")
    repo.rename(aside)
    wait_for(lambda: _is_missing(daemon, "the-custodian"), timeout=DEADLINE, what="the repo to be missing")
    assert _task_status(daemon, CUSTODIAN_TASK) is None
    aside.rename(repo)
    wait_for(lambda: _task_status(daemon, CUSTODIAN_TASK) == "todo", timeout=DEADLINE, what="the repo back")
    assert (_repo_row(daemon, "the-custodian") or {}).get("missing") is False
    _set_seed_task(repo, "progress")
    wait_for(lambda: _task_status(daemon, CUSTODIAN_TASK) == "progress", timeout=DEADLINE, what="an edit")


def test_a_recreated_workplans_folder_is_watched_again(daemon: RunningDaemon, workspace: list[Path]) -> None:
    repo = _custodian(workspace)
    shutil.rmtree(repo / "workplans")
    wait_for(lambda: _task_status(daemon, CUSTODIAN_TASK) is None, timeout=DEADLINE, what="the folder to go")
    assert (_repo_row(daemon, "the-custodian") or {}).get("missing") is False  # the repo itself is there
    (repo / "workplans").mkdir()
    (repo / "workplans" / "CUST-WP-0778-plan.md").write_text(_plan("CUST-WP-0778"))
    wait_for(lambda: _task_status(daemon, "CUST-WP-0778-T01") == "todo", timeout=DEADLINE, what="the new folder")
    _edit_task(repo, "CUST-WP-0778", "progress")
    wait_for(lambda: _task_status(daemon, "CUST-WP-0778-T01") == "progress", timeout=DEADLINE, what="an edit")


def test_delete_and_recreate_in_one_go_is_noticed(daemon: RunningDaemon, workspace: list[Path]) -> None:
    """Faster than the daemon looks, and with the same inode numbers (ext4 hands freed ones straight back)."""
    repo = _custodian(workspace)
    for ident in ("CUST-WP-0781", "CUST-WP-0782", "CUST-WP-0783"):
        shutil.rmtree(repo)
        (repo / "workplans").mkdir(parents=True)
        (repo / ".git").mkdir()
        (repo / "workplans" / f"{ident}-plan.md").write_text(_plan(ident))
        wait_for(lambda ident=ident: _task_status(daemon, f"{ident}-T01") == "todo", timeout=DEADLINE, what=ident)
        _edit_task(repo, ident, "progress")
        wait_for(
            lambda ident=ident: _task_status(daemon, f"{ident}-T01") == "progress",
            timeout=DEADLINE,
            what=f"an edit in the re-created {ident}",
        )
    assert _task_status(daemon, CUSTODIAN_TASK) is None


def test_a_repo_replaced_by_another_folder_is_rescanned(daemon: RunningDaemon, workspace: list[Path]) -> None:
    repo = _custodian(workspace)
    replacement = _new_repo(repo.with_name("replacement"), "CUST-WP-0790")
    shutil.rmtree(repo)
    replacement.rename(repo)
    wait_for(lambda: _task_status(daemon, "CUST-WP-0790-T01") == "todo", timeout=DEADLINE, what="the replacement")
    assert _task_status(daemon, CUSTODIAN_TASK) is None
    _edit_task(repo, "CUST-WP-0790", "progress")
    wait_for(lambda: _task_status(daemon, "CUST-WP-0790-T01") == "progress", timeout=DEADLINE, what="an edit")


def _set_seed_task(repo: Path, status: str) -> None:
    path = repo / "workplans" / "CUST-WP-0054-workstation-independence.md"
    before, after = f"id: {CUSTODIAN_TASK}\nstatus: todo", f"id: {CUSTODIAN_TASK}\nstatus: {status}"
    path.write_text(path.read_text().replace(before, after))
