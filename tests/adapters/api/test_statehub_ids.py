"""The real hub's ids on devhub's answers: `workstream_id` on tasks and progress events, `topic_id` on workplans,
progress found by the file id or the fleet UUID, and the progress events a bulk status sync writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

WORKPLAN = "CUST-WP-0054"
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # its state_hub_workstream_id in fixtures/repos
T05, T06 = f"{WORKPLAN}-T05", f"{WORKPLAN}-T06"
T06_UUID = "f2c5dd4b-9af4-4e8c-8619-6814e7d1666e"
TOPIC_UUID = "cee7bedf-2b48-46ef-8601-006474f2ad7a"


def test_tasks_answer_their_workplans_fleet_uuid_as_workstream_id(daemon: RunningDaemon) -> None:
    listed = daemon.get("/tasks/", params={"workplan_id": WORKPLAN}).json()
    assert listed and {t["workstream_id"] for t in listed} == {WORKPLAN_UUID}
    assert daemon.get(f"/tasks/{T06_UUID}").json()["workstream_id"] == WORKPLAN_UUID
    patched = daemon.request("PATCH", f"/tasks/{T05}", json={"status": "progress"}).json()
    assert patched["workstream_id"] == WORKPLAN_UUID and patched["workplan_id"] == WORKPLAN
    without_uuid = [t for t in daemon.get("/tasks/").json() if t["workplan_id"] != WORKPLAN]
    unknown = [
        t for t in without_uuid if not daemon.get(f"/workplans/{t['workplan_id']}").json()["state_hub_workstream_id"]
    ]
    assert unknown and all(t["workstream_id"] == t["workplan_id"] for t in unknown)  # no UUID: the file id


def test_progress_is_found_by_file_id_or_uuid_whichever_was_given(daemon: RunningDaemon) -> None:
    by_id = daemon.request("POST", "/progress/", json={"summary": "given file ids", "task_id": T06}).json()
    by_uuid = daemon.request(
        "POST", "/progress/", json={"summary": "given UUIDs", "task_id": T06_UUID, "workstream_id": WORKPLAN_UUID}
    ).json()
    assert by_id["workstream_id"] == by_uuid["workstream_id"] == WORKPLAN_UUID
    for name, values in (("task_id", (T06, T06_UUID, T06_UUID.upper())), ("workstream_id", (WORKPLAN, WORKPLAN_UUID))):
        for value in values:
            found = {e["summary"] for e in daemon.get("/progress/", params={name: value}).json()}
            assert found == {"given file ids", "given UUIDs"}, (name, value, found)
    assert daemon.get("/progress/", params={"workplan_id": "CUST-WP-0001"}).json() == []
    assert {e["workstream_id"] for e in daemon.get("/progress/").json()} == {WORKPLAN_UUID}


def test_a_bulk_sync_writes_one_progress_event_per_change_locally(daemon: RunningDaemon) -> None:
    updates = [{"task_id": T05, "status": "progress"}, {"task_id": T06_UUID, "status": "todo"}]  # T06 is todo
    answer = daemon.request("POST", "/tasks/bulk-status-sync", json={"updates": updates, "author": "atlas-app"}).json()
    (event,) = answer["events"]  # T06 did not change: no event
    assert (event["event_type"], event["author"], event["task_id"]) == ("task_status_changed", "atlas-app", T05)
    assert event["detail"] == {"previous_status": "todo", "status": "progress"}
    stored = daemon.get("/progress/", params={"task_id": T05}).json()
    assert [(e["id"], e["summary"], e["workstream_id"]) for e in stored] == [
        (event["id"], event["summary"], WORKPLAN_UUID)
    ]
    daemon.request("POST", "/tasks/bulk-status-sync", json={"updates": [{"task_id": T05, "status": "done"}]})
    newest = daemon.get("/progress/", params={"task_id": T05, "limit": 1}).json()[0]
    assert newest["author"] == "custodian" and newest["detail"]["previous_status"] == "progress"  # the default


def test_bulk_sync_events_survive_a_rebuild_unchanged(tmp_path: Path) -> None:
    repos = make_workspace(tmp_path / "ws", ["the-custodian"])
    first = start_daemon(tmp_path / "hub", repos)
    body = {"updates": [{"task_id": T05, "status": "progress"}], "author": "a1"}
    try:
        (event,) = first.request("POST", "/tasks/bulk-status-sync", json=body).json()["events"]
    finally:
        first.stop()
    rebuilt = first.cli("rebuild", "--json")  # from the files and the journal alone
    assert rebuilt.returncode == 0, rebuilt.stderr
    again = start_daemon(tmp_path / "hub", repos)
    try:
        after = again.get("/progress/", params={"task_id": T05}).json()
        assert [(e["id"], e["created_at"], e["author"]) for e in after] == [(event["id"], event["created_at"], "a1")]
    finally:
        again.stop()


def test_workplans_answer_their_topics_fleet_uuid_as_topic_id(tmp_path: Path) -> None:
    repos = make_workspace(tmp_path / "ws", ["the-custodian", "ops-bridge"])
    plan = repos[0] / "workplans" / "CUST-WP-0054-workstation-independence.md"
    plan.write_text(
        plan.read_text().replace("topic_slug: custodian\n", f"topic_slug: custodian\ntopic_id: {TOPIC_UUID.upper()}\n")
    )
    subprocess.run(["git", "-C", str(repos[0]), "commit", "-qam", "record the topic UUID"], check=True)
    running = start_daemon(tmp_path / "hub", repos)
    try:
        topics = {w["topic_slug"]: w["topic_id"] for w in running.get("/workplans/").json() if w["topic_slug"]}
        assert topics == {"custodian": TOPIC_UUID, "ops-bridge": "ops-bridge"}  # one records it: the whole topic
        assert running.get("/topics/custodian").json()["id"] == TOPIC_UUID
        active = running.get("/workstreams/", params={"topic_id": TOPIC_UUID, "status": "active"}).json()
        assert active and {w["topic_id"] for w in active} == {TOPIC_UUID}
        summary = running.get("/state/summary").json()
        compact = [w for key in ("open_workstreams", "workstreams") for w in summary.get(key) or []]
        assert compact and all(w["topic_id"] in (TOPIC_UUID, "ops-bridge") for w in compact)
    finally:
        running.stop()
