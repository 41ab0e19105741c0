"""devhub's relay against the strict State Hub stand-in: what it takes lands exactly once, what it would refuse is
refused when written."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import journal_last_seq, patch_task, start_dev, wait_drained, write_progress
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub

TOKEN = "strict-upstream-token"
# CUST-WP-0054 in fixtures/repos/the-custodian carries the fleet's UUIDs; T05 is `todo` in the file.
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"
TASK_UUID = "e91db8d0-973d-4a31-b3c2-ca37fd002ec7"


def test_a_task_patch_with_a_uuid_arrives_exactly_once_at_the_strict_hub(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        hub.seed_workstream(title="Workstation Independence", id=WORKPLAN_UUID)
        hub.seed_task(WORKPLAN_UUID, "CUST-WP-0054-T05", id=TASK_UUID, status="todo")
        workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
        dev = start_dev(tmp_path / "dev", workspace, hub.url, env={"STATE_HUB_TOKEN": TOKEN})
        try:
            with dev.client() as client:
                patch_task(client, "CUST-WP-0054-T05", "progress")
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()

        assert status["delivered"] == 1 and status["dead_letters"] == 0, status
        [effect] = hub.effects_on("PATCH", f"/tasks/{TASK_UUID}")
        assert effect.status == 200 and effect.body["status"] == "progress"
        assert effect.idempotency_key  # the relay sends its envelope's key
        assert hub.task(TASK_UUID)["status"] == "progress"
        assert hub.refusals == [], hub.refusals  # the bearer token went along; nothing was refused
        assert len(hub.effects) == 1


# What used to be accepted offline and then dead-lettered at the strict hub hours later is now refused
# when it is written; what the hub takes lands there exactly once, ids translated to the fleet's.
REFUSED_AT_ONCE = [
    ("POST", "/messages/", {"from_agent": "a", "to_agent": "b", "body": "no subject"}, 422, "subject"),
    (
        "POST",
        "/messages/",
        {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "b", "thread_id": "x"},
        404,
        "Thread root x not found",
    ),
    ("POST", "/progress/", {"summary": "close", "workstream_id": ""}, 422, "workstream_id"),
    ("POST", "/progress/", {"summary": "close", "task_id": ""}, 422, "task_id"),
    ("PATCH", "/tasks/CUST-WP-0054-T01", {"status": "progress"}, 409, "done reopens only by an explicit rule"),
    ("PATCH", "/tasks/CUST-WP-0054-T06", {"status": "wait"}, 422, "blocking_reason"),
    (
        "POST",
        "/tasks/bulk-status-sync",
        {
            "updates": [
                {"task_id": "CUST-WP-0054-T07", "status": "todo"},
                {"task_id": "CUST-WP-0054-T07", "status": "done"},
            ]
        },
        400,
        "duplicate task_id values are not allowed",
    ),
]
TOPIC_UUID = "cee7bedf-2b48-46ef-8601-006474f2ad7a"
T06_UUID = "f2c5dd4b-9af4-4e8c-8619-6814e7d1666e"
T08 = "CUST-WP-0054-T08"


def test_writes_the_strict_hub_would_refuse_are_refused_offline_and_the_rest_land(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        hub.seed_topic("custodian", id=TOPIC_UUID)
        hub.seed_workstream(TOPIC_UUID, title="Workstation Independence", id=WORKPLAN_UUID)
        hub.seed_task(WORKPLAN_UUID, "CUST-WP-0054-T06", id=T06_UUID, status="todo")
        workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
        dev = start_dev(tmp_path / "dev", workspace, hub.url, env={"STATE_HUB_TOKEN": TOKEN})
        try:
            with dev.client() as client:
                last_seq = journal_last_seq(dev)
                for method, path, body, status, words in REFUSED_AT_ONCE:
                    answer = client.request(method, path, json=body)
                    assert answer.status_code == status, (path, body, answer.text)
                    assert words in answer.text, (path, answer.text)
                assert journal_last_seq(dev) == last_seq, "a refused write is never journaled"

                root = client.post(
                    "/messages/",
                    json={"from_agent": "worker", "to_agent": "state-hub", "subject": "T06 ready", "body": "review?"},
                ).json()
                reply = client.post(f"/messages/{root['id']}/reply", json={"from_agent": "state-hub", "body": "ok"})
                assert reply.status_code == 201, reply.text
                assert client.patch(f"/messages/{reply.json()['id']}/archive", json={}).status_code == 200
                assert (
                    client.patch(
                        "/tasks/CUST-WP-0054-T06", json={"status": "wait", "blocking_reason": "needs T05"}
                    ).status_code
                    == 200
                )
                write_progress(
                    client,
                    "session closed",
                    topic_id=TOPIC_UUID,
                    workstream_id="CUST-WP-0054",
                    task_id="CUST-WP-0054-T06",
                )
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()

        assert status["dead_letters"] == 0 and hub.refusals == [], (status, hub.refusals)
        upstream_root, upstream_reply = (e.answer for e in hub.effects_on("POST", "/messages/"))
        assert upstream_root["subject"] == "T06 ready" and upstream_reply["thread_id"] == upstream_root["id"]
        assert hub.effects_on("PATCH", f"/messages/{upstream_root['id']}/read"), "the reply marked the root read"
        assert hub.messages[upstream_reply["id"]]["archived"] is True
        assert hub.task(T06_UUID)["status"] == "wait" and hub.task(T06_UUID)["blocking_reason"] == "needs T05"
        [event] = [e for e in hub.progress if e["summary"] == "session closed"]
        assert (event["topic_id"], event["workstream_id"], event["task_id"]) == (TOPIC_UUID, WORKPLAN_UUID, T06_UUID)
