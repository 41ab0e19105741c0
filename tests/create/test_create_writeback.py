"""`devhub writeback` puts created work into the repo as a minimal edit, and the read model then serves the file."""

from __future__ import annotations

import json
from pathlib import Path

from devhub.workplans import parse_workplan
from tests.reconcile.helpers import GIT_IDENTITY
from tests.support.daemon import RunningDaemon, run_cli, start_daemon
from tests.support.repos import git

WP_FILE = "workplans/CUST-WP-0054-workstation-independence.md"


def _repo(daemon: RunningDaemon, slug: str) -> Path:
    return next(Path(r["path"]) for r in daemon.get("/repos").json() if r["slug"] == slug)


def test_created_work_is_written_back_and_then_served_from_the_files(daemon: RunningDaemon) -> None:
    env = {**daemon.env, **GIT_IDENTITY}
    custodian, state_hub = _repo(daemon, "the-custodian"), _repo(daemon, "state-hub")
    before = (custodian / WP_FILE).read_bytes()
    with daemon.client() as client:
        task = client.post(
            "/tasks/",
            json={
                "workstream_id": "CUST-WP-0054",
                "title": "Write the failover runbook",
                "description": "Steps for railiance01: drain, switch, verify.",
                "assignee": "claude: ops",
                "due_date": "2026-12-24",
                "priority": "high",
            },
        ).json()
        # A later status change of the created task is written with it (not refused as "not in the file").
        assert client.patch(f"/tasks/{task['id']}", json={"status": "progress"}).status_code == 200
        plan = client.post(
            "/workplans/",
            json={"repo_id": "state-hub", "title": "Created offline", "description": "Why it exists.", "owner": "me"},
        ).json()
        first = client.post("/tasks/", json={"workstream_id": plan["id"], "title": "First step"}).json()

    check = json.loads(run_cli("check", "--json", env=env).stdout)
    pending = [f["message"] for f in check["findings"] if f["rule"] == "pending-writeback"]
    assert any(task["id"] in m for m in pending) and any(plan["id"] in m for m in pending)

    dry = run_cli("writeback", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "+## Task: Write the failover runbook" in dry.stdout and (custodian / WP_FILE).read_bytes() == before

    done = run_cli("writeback", "--commit", env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    # A minimal edit: the old bytes are untouched, one task block is appended.
    after = (custodian / WP_FILE).read_bytes()
    assert after.startswith(before)
    appended = after[len(before) :].decode()
    assert "## Task: Write the failover runbook" in appended and f"id: {task['id']}" in appended
    assert "status: progress" in appended and 'assignee: "claude: ops"' in appended
    parsed = parse_workplan(after, WP_FILE)
    assert not [p for p in parsed.problems if p.severity == "error"]
    [written] = [t for t in parsed.workplan.tasks if t.id == task["id"]]  # type: ignore[union-attr]
    assert (written.status, written.priority, written.assignee) == ("progress", "high", "claude: ops")

    new_file = state_hub / plan["path"]
    parsed_new = parse_workplan(new_file.read_bytes(), plan["path"])
    assert parsed_new.workplan is not None and parsed_new.workplan.id == plan["id"]
    assert [p.code for p in parsed_new.problems] == []
    assert [t.id for t in parsed_new.workplan.tasks] == [first["id"]]
    assert git(state_hub, "status", "--porcelain").strip() == ""  # committed
    assert plan["path"] in git(state_hub, "show", "--name-only", "--format=", "HEAD")

    # The read model now serves the items from the files: same ids, no duplicates, nothing pending.
    shown = daemon.get(f"/tasks/{task['id']}").json()
    assert shown["line"] and shown["status"] == "progress" and shown["status_source"] == "file"
    ids = [t["id"] for t in daemon.get("/tasks/", params={"limit": 500}).json()]
    assert ids.count(task["id"]) == 1 and ids.count(first["id"]) == 1
    assert daemon.get(f"/workplans/{plan['id']}").json()["path"] == plan["path"]
    assert [w["id"] for w in daemon.get("/workplans/").json()].count(plan["id"]) == 1
    again = run_cli("writeback", env=env)
    assert again.returncode == 0 and "nothing to write back" in again.stdout
    check = json.loads(run_cli("check", "--json", env=env).stdout)
    assert not [f for f in check["findings"] if f["rule"] == "pending-writeback"]


def test_after_writeback_a_rebuilt_model_has_each_item_once(tmp_path: Path, workspace: list[Path]) -> None:
    env_extra = GIT_IDENTITY
    hub = start_daemon(tmp_path / "hub", workspace)
    try:
        task = hub.request("POST", "/tasks/", json={"workstream_id": "OPS-WP-0014", "title": "Kept once"}).json()
        done = run_cli("writeback", "--commit", env={**hub.env, **env_extra})
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        hub.stop()
    database = tmp_path / "hub" / "data" / "readmodel.sqlite"
    assert database.exists()
    for stale in (tmp_path / "hub" / "data").glob("readmodel.sqlite*"):
        stale.unlink()  # the next start rebuilds the model from the files and the journal
    again = start_daemon(tmp_path / "hub", workspace)
    try:
        rows = [t for t in again.get("/tasks/", params={"workplan_id": "OPS-WP-0014"}).json() if t["id"] == task["id"]]
        assert len(rows) == 1 and rows[0]["line"] and rows[0]["status_source"] == "file"
        nxt = again.request("POST", "/tasks/", json={"workstream_id": "OPS-WP-0014", "title": "Next"}).json()
        assert nxt["id"] != task["id"]
    finally:
        again.stop()


def test_a_dirty_workplan_file_is_refused_and_left_alone(daemon: RunningDaemon) -> None:
    env = {**daemon.env, **GIT_IDENTITY}
    custodian = _repo(daemon, "the-custodian")
    daemon.request("POST", "/tasks/", json={"workstream_id": "CUST-WP-0054", "title": "Waits"})
    path = custodian / WP_FILE
    path.write_bytes(path.read_bytes() + b"\nA person's unsaved note.\n")
    edited = path.read_bytes()
    done = run_cli("writeback", env=env)
    assert done.returncode == 1
    assert "uncommitted changes" in done.stderr
    assert path.read_bytes() == edited
