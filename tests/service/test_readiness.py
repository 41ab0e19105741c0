"""`ready` through the real daemon: refreshed for dependents after local writes and file edits,
and never granted by a dependency that does not exist."""

from __future__ import annotations

from pathlib import Path

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import git
from tests.support.waiting import wait_for

DEPENDENCY = "CUST-WP-0011-T08"  # progress in the fixture
DEPENDENT = "CUST-WP-0011-T09"  # todo, depends_on [T08], workplan active
SETTLED_DEPENDENT = "CUST-WP-0011-T10"  # todo, depends_on [T07] which is done


def _ready(daemon: RunningDaemon, task_id: str) -> bool:
    """The flag as both endpoints show it; they must agree."""
    one = daemon.get(f"/tasks/{task_id}")
    assert one.status_code == 200, one.text
    listed = daemon.get("/tasks/", params={"ready": "true", "limit": 500})
    assert listed.status_code == 200, listed.text
    in_list = task_id in {t["id"] for t in listed.json()}
    assert bool(one.json()["ready"]) == in_list, (one.json()["ready"], in_list)
    return in_list


def test_a_dependency_patched_to_done_makes_its_dependent_ready_and_stays_so(daemon: RunningDaemon) -> None:
    assert not _ready(daemon, DEPENDENT)
    assert daemon.request("PATCH", f"/tasks/{DEPENDENCY}", json={"status": "done"}).status_code == 200
    assert _ready(daemon, DEPENDENT)  # read your write: no wait
    # The canon: done does not reopen through a write (docs/decisions.md), so readiness cannot flip back.
    assert daemon.request("PATCH", f"/tasks/{DEPENDENCY}", json={"status": "progress"}).status_code == 409
    assert _ready(daemon, DEPENDENT)


def test_a_dependency_cancelled_by_bulk_sync_counts_as_settled(daemon: RunningDaemon) -> None:
    assert not _ready(daemon, DEPENDENT)
    bulk = {"updates": [{"task_id": DEPENDENCY, "status": "cancel"}]}
    assert daemon.request("POST", "/tasks/bulk-status-sync", json=bulk).status_code == 200
    assert _ready(daemon, DEPENDENT)  # cancelled counts as settled too


def test_a_workplan_status_write_refreshes_its_tasks(daemon: RunningDaemon) -> None:
    assert _ready(daemon, SETTLED_DEPENDENT)
    assert daemon.request("PATCH", "/workplans/CUST-WP-0011", json={"status": "blocked"}).status_code == 200
    assert not _ready(daemon, SETTLED_DEPENDENT)
    assert daemon.request("PATCH", "/workplans/CUST-WP-0011", json={"status": "active"}).status_code == 200
    assert _ready(daemon, SETTLED_DEPENDENT)


def test_a_dependency_done_in_its_file_makes_its_dependent_ready(daemon: RunningDaemon, workspace: list[Path]) -> None:
    path = next(p for p in workspace if p.name == "the-custodian") / (
        "workplans/CUST-WP-0011-state-hub-cluster-migration.md"
    )
    text = path.read_text()
    block = f"id: {DEPENDENCY}\nstatus: progress"
    assert block in text
    path.write_text(text.replace(block, f"id: {DEPENDENCY}\nstatus: done"))
    wait_for(lambda: _ready(daemon, DEPENDENT), timeout=10, what="the watcher to make the dependent ready")


WORKPLAN = """---
id: DANG-WP-0001
type: workplan
title: Dangling dependencies
status: active
---

# DANG-WP-0001

## Task: Waits on a task nobody defines

```task
id: DANG-WP-0001-T01
status: todo
depends_on: [NOPE-WP-0404-T01]
```

## Task: Waits on a typo of a sibling

```task
id: DANG-WP-0001-T02
status: todo
depends_on: [T99]
```

## Task: Waits on a real, finished sibling

```task
id: DANG-WP-0001-T03
status: todo
depends_on: [T04]
```

## Task: Finished

```task
id: DANG-WP-0001-T04
status: done
```
"""


def test_a_dependency_that_does_not_exist_never_counts_as_done(tmp_path: Path) -> None:
    repo = tmp_path / "dangling"
    (repo / "workplans").mkdir(parents=True)
    (repo / "workplans/DANG-WP-0001-dangling.md").write_text(WORKPLAN)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "dangling")
    hub = start_daemon(tmp_path / "hub", [repo])
    try:
        assert not _ready(hub, "DANG-WP-0001-T01")
        assert not _ready(hub, "DANG-WP-0001-T02")
        assert _ready(hub, "DANG-WP-0001-T03")  # the control: a real settled dependency does count
        problems = [p for p in hub.get("/errors").json()["problems"] if p["code"] == "unknown-dependency"]
        named = sorted((p["location"], p["severity"], p["message"].split(" ")[4]) for p in problems)
        assert named == [
            ("workplans/DANG-WP-0001-dangling.md:15", "warning", "NOPE-WP-0404-T01,"),
            ("workplans/DANG-WP-0001-dangling.md:23", "warning", "DANG-WP-0001-T99,"),
        ]
        check = hub.cli("check", "--json")
        assert "unknown-dependency" in check.stdout
        # The missing task appears: the dependent follows it (todo: not ready; done: ready).
        with (repo / "workplans/DANG-WP-0001-dangling.md").open("a") as handle:
            handle.write("\n## Task: Now it exists\n\n```task\nid: DANG-WP-0001-T99\nstatus: done\n```\n")
        wait_for(lambda: _ready(hub, "DANG-WP-0001-T02"), timeout=10, what="T02 to become ready")
        remaining = [p for p in hub.get("/errors").json()["problems"] if p["code"] == "unknown-dependency"]
        assert len(remaining) == 1
    finally:
        hub.stop()
