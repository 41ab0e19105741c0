"""Decisions through a real daemon's REST API: recorded offline, visible at once, resolved once, kept across a
rebuild from the journal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # CUST-WP-0054's state_hub_workstream_id
TOPIC_UUID = "5b0f3a52-6c1e-4d8e-9a35-0c7f1e2d3b4a"
UNKNOWN = "0b6f1c7e-2a44-4e0e-8d1b-53a1f1d0c9e2"  # no decision has this id


def _record(daemon: RunningDaemon, **fields: Any) -> dict[str, Any]:
    answer = daemon.request("POST", "/decisions/", json=fields)
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_a_decision_is_recorded_read_back_and_resolved_once(daemon: RunningDaemon) -> None:
    made = _record(
        daemon,
        title="Use SQLite for the read model",
        decision_type="pending",
        topic_id="custodian",
        deadline="2026-12-20",
        description="or PostgreSQL?",
    )
    assert uuid.UUID(made["id"]) and made["status"] == "open" and made["decision_type"] == "pending"
    assert made["topic_id"] == "custodian" and made["topic_slug"] == "custodian"
    assert made["pending_relay"] is True and made["created_at"] == made["updated_at"]
    stored = {k: v for k, v in made.items() if k != "pending_relay"}
    assert daemon.get(f"/decisions/{made['id']}").json() == stored
    assert [d["id"] for d in daemon.get("/decisions/", params={"decision_type": "pending"}).json()] == [made["id"]]

    patched = daemon.request("PATCH", f"/decisions/{made['id']}", json={"deadline": "2026-12-24", "context": "x"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["deadline"] == "2026-12-24" and patched.json()["context"] == "x"

    resolved = daemon.request(
        "POST", f"/decisions/{made['id']}/resolve", json={"rationale": "offline first", "decided_by": "bernd"}
    )
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert (body["status"], body["decision_type"], body["rationale"], body["decided_by"]) == (
        "resolved",
        "made",
        "offline first",
        "bernd",
    )
    assert body["resolved_at"] and body["deadline"] == "2026-12-24"
    assert daemon.get("/decisions/", params={"decision_type": "pending"}).json() == []
    assert daemon.get("/decisions/", params={"status": "resolved"}).json()[0]["id"] == made["id"]
    # The fleet writes a progress event when it resolves a decision; so does the local model.
    [event] = daemon.get("/progress/", params={"event_type": "decision_resolved"}).json()
    assert event["summary"] == "Decision resolved: Use SQLite for the read model"
    assert event["detail"]["decision_id"] == made["id"]

    # Decided: resolving a resolved decision again is a 409 (the fleet's answer is not public; docs/decisions.md).
    again = daemon.request("POST", f"/decisions/{made['id']}/resolve", json={"rationale": "r", "decided_by": "b"})
    assert again.status_code == 409 and "already resolved" in again.json()["detail"]


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """One daemon for every refusal below: none of them may leave a decision behind."""
    home = tmp_path_factory.mktemp("refusals")
    running = start_daemon(home / "hub", make_workspace(home / "ws", ["the-custodian"]))
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "/decisions/", {"topic_id": "custodian"}, 422, "title"),
        ("POST", "/decisions/", {"title": "  ", "topic_id": "custodian"}, 422, "title"),
        ("POST", "/decisions/", {"title": "no place"}, 422, "topic_id"),
        ("POST", "/decisions/", {"title": "t", "topic_id": "custodian", "decision_type": "may"}, 422, "decision_type"),
        ("POST", "/decisions/", {"title": "t", "topic_id": "custodian", "deadline": "soon"}, 422, "deadline"),
        ("POST", "/decisions/", {"title": "t", "topic_id": "custodian", "colour": "red"}, 422, "colour"),
        ("POST", "/decisions/", {"title": "t", "topic_id": "no-such-topic"}, 404, None),
        ("POST", "/decisions/", {"title": "t", "workstream_id": "NOPE-WP-0001"}, 404, None),
        ("POST", f"/decisions/{UNKNOWN}/resolve", {"rationale": "r", "decided_by": "b"}, 404, None),
        ("POST", "/decisions/not-a-uuid/resolve", {"rationale": "r", "decided_by": "b"}, 422, "decision_id"),
        ("POST", f"/decisions/{UNKNOWN}/resolve", {"rationale": "r"}, 422, "decided_by"),
        ("PATCH", f"/decisions/{UNKNOWN}", {"title": "x"}, 404, None),
        ("PATCH", f"/decisions/{UNKNOWN}", {"topic_id": "custodian"}, 422, "topic_id"),
        ("GET", f"/decisions/{UNKNOWN}", None, 404, None),
        ("GET", "/decisions/CUST-WP-0054", None, 422, "decision_id"),
        ("GET", "/decisions/?decision_type=later", None, 400, "decision_type"),
    ],
)
def test_bad_decision_requests_are_refused_by_field(
    refusing: RunningDaemon, method: str, path: str, body: Any, status: int, field: str | None
) -> None:
    daemon = refusing
    answer = daemon.request(method, path, json=body) if body is not None else daemon.request(method, path)
    assert answer.status_code == status, answer.text
    if field:
        assert field in [p["name"] for p in answer.json()["invalid_params"]], answer.json()
    assert daemon.get("/decisions/").json() == []  # nothing was written


def test_topic_filter_takes_the_slug_or_the_uuid_and_pending_sorts_by_deadline(daemon: RunningDaemon) -> None:
    later = _record(daemon, title="later", decision_type="pending", topic_id="custodian", deadline="2027-01-10")
    by_workplan = _record(daemon, title="by workplan", decision_type="pending", workstream_id=WORKPLAN_UUID)
    sooner = _record(daemon, title="sooner", decision_type="pending", topic_id=TOPIC_UUID, deadline="2026-12-10")
    legal = _record(daemon, title="sign it", decision_type="pending", topic_id="custodian", category="legal")
    made = _record(daemon, title="done deal", topic_id="custodian")
    assert made["decision_type"] == "made" and made["status"] == "resolved"
    assert legal["status"] == "escalated"  # financial/legal and pending: escalated for a person
    assert by_workplan["workplan_id"] == "CUST-WP-0054" and by_workplan["workstream_id"] == WORKPLAN_UUID
    assert by_workplan["topic_slug"] == "custodian"  # from the workplan's frontmatter

    pending = daemon.get("/decisions/", params={"decision_type": "pending"}).json()
    assert [d["title"] for d in pending] == ["sooner", "later", "by workplan", "sign it"]
    by_slug = daemon.get("/decisions/", params={"decision_type": "pending", "topic_id": "custodian"}).json()
    assert {d["id"] for d in by_slug} == {later["id"], by_workplan["id"], legal["id"]}
    by_uuid = daemon.get("/decisions/", params={"topic_id": TOPIC_UUID.upper()}).json()
    assert [d["id"] for d in by_uuid] == [sooner["id"]]
    assert [d["id"] for d in daemon.get("/decisions/", params={"status": "escalated"}).json()] == [legal["id"]]
    in_domain = daemon.get("/decisions/", params={"domain": "infotech", "blocking": "true"}).json()
    assert {d["id"] for d in in_domain} == {later["id"], by_workplan["id"], legal["id"]}


def test_decisions_survive_a_restart_and_a_rebuild_from_the_journal(tmp_path: Path, workspace: list[Path]) -> None:
    first = start_daemon(tmp_path / "hub", workspace)
    try:
        kept = _record(first, title="kept", decision_type="pending", topic_id="custodian")
        gone = _record(first, title="resolved later", decision_type="pending", topic_id="custodian")
        first.request("POST", f"/decisions/{gone['id']}/resolve", json={"rationale": "r", "decided_by": "b"})
        tokens = {"tokens_in": 3, "tokens_out": 4, "task_id": "CUST-WP-0054-T05"}
        token = first.request("POST", "/token-events/", json=tokens)
        assert token.status_code == 201, token.text
        before = first.get("/decisions/").json()
    finally:
        first.stop()
    for suffix in ("", "-wal", "-shm"):  # the read model goes; the journal alone must rebuild it
        Path(f"{first.data_dir / 'readmodel.sqlite'}{suffix}").unlink(missing_ok=True)
    second = start_daemon(tmp_path / "hub", workspace)
    try:
        assert second.get("/decisions/").json() == before
        pending = second.get("/decisions/", params={"decision_type": "pending"}).json()
        assert [d["id"] for d in pending] == [kept["id"]]
        assert second.get(f"/token-events/{token.json()['id']}").json()["tokens_total"] == 7
    finally:
        second.stop()
