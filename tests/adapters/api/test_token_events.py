"""Token events through a real daemon: POST, the upsert of a growing session, filters, and the tokens a task
update carries (stored as a token event and journaled as sent, never dropped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

T05, T06 = "CUST-WP-0054-T05", "CUST-WP-0054-T06"
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    home = tmp_path_factory.mktemp("tokens")
    running = start_daemon(home / "hub", make_workspace(home / "ws", ["the-custodian"]))
    try:
        yield running
    finally:
        running.stop()


def _journal(daemon: RunningDaemon) -> list[dict[str, Any]]:
    lines = []
    for segment in sorted((daemon.data_dir / "journal").glob("*.jsonl")):
        lines += [json.loads(line) for line in segment.read_text().splitlines() if line.strip()]
    return lines


def test_a_token_event_is_recorded_with_its_total_and_the_tasks_workplan(hub: RunningDaemon) -> None:
    answer = hub.request(
        "POST",
        "/token-events/",
        json={
            "tokens_in": 1200,
            "tokens_out": 300,
            "task_id": T05,
            "model": "opus",
            "note": "manual-1",
            "measurement_kind": "estimated",
            "source_provider": "manual",
        },
    )
    assert answer.status_code == 201, answer.text
    event = answer.json()
    assert event["tokens_total"] == 1500 and event["task_id"] == T05
    assert event["workplan_id"] == "CUST-WP-0054" and event["workstream_id"] == WORKPLAN_UUID  # filled from the task
    assert event["confidence"] == 0.35 and event["origin"] == "post"  # the estimated kind's default confidence
    stored = {k: v for k, v in event.items() if k != "pending_relay"}
    assert hub.get(f"/token-events/{event['id']}").json() == stored
    assert [e["id"] for e in hub.get("/token-events/", params={"note": "manual-1"}).json()] == [event["id"]]
    by_workplan = hub.get("/token-events/", params={"workstream_id": WORKPLAN_UUID, "note": "manual-1"}).json()
    assert [e["id"] for e in by_workplan] == [event["id"]]
    assert hub.get("/token-events/", params={"model": "no-such-model"}).json() == []
    # Relayed with the file's ids (the relay maps them to UUIDs at send time) and without an invented workstream.
    [envelope] = [e for e in _journal(hub) if e["kind"] == "token_event" and e["body"].get("note") == "manual-1"]
    assert envelope["body"]["task_id"] == T05 and "workstream_id" not in envelope["body"]


def test_the_upsert_updates_one_row_per_source(hub: RunningDaemon) -> None:
    source = {"measurement_kind": "measured", "source_provider": "claude_transcript", "source_id": "session-42"}
    first = hub.request("POST", "/token-events/upsert", json={**source, "tokens_in": 10, "tokens_out": 5})
    assert first.status_code == 201, first.text
    grown = hub.request("POST", "/token-events/upsert", json={**source, "tokens_in": 90, "tokens_out": 40})
    assert grown.status_code == 200, grown.text
    assert grown.json()["id"] == first.json()["id"] and grown.json()["tokens_total"] == 130
    assert grown.json()["created_at"] == first.json()["created_at"]
    rows = hub.get("/token-events/", params={"source_id": "session-42"}).json()
    assert [(r["id"], r["tokens_total"]) for r in rows] == [(first.json()["id"], 130)]
    # A plain POST of the same source would make a second row the fleet refuses: 409, pointing at the upsert.
    clash = hub.request("POST", "/token-events/", json={**source, "tokens_in": 1, "tokens_out": 1})
    assert clash.status_code == 409 and "upsert" in clash.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/token-events/", {"tokens_out": 1}, 422, "tokens_in"),
        ("/token-events/", {"tokens_in": -1, "tokens_out": 1}, 422, "tokens_in"),
        ("/token-events/", {"tokens_in": 1, "tokens_out": "2"}, 422, "tokens_out"),
        ("/token-events/", {"tokens_in": 1, "tokens_out": 1, "measurement_kind": "guessed"}, 422, "measurement_kind"),
        ("/token-events/", {"tokens_in": 1, "tokens_out": 1, "confidence": 2}, 422, "confidence"),
        ("/token-events/", {"tokens_in": 1, "tokens_out": 1, "repo_id": "the-custodian"}, 422, "repo_id"),
        ("/token-events/", {"tokens_in": 1, "tokens_out": 1, "cost": 3}, 422, "cost"),
        ("/token-events/", {"tokens_in": 1, "tokens_out": 1, "task_id": "NOPE-WP-0001-T01"}, 404, None),
        ("/token-events/upsert", {"tokens_in": 1, "tokens_out": 1, "source_id": "s"}, 422, "measurement_kind"),
    ],
)
def test_bad_token_events_are_refused_by_field(
    hub: RunningDaemon, path: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    before = len(_journal(hub))
    answer = hub.request("POST", path, json=body)
    assert answer.status_code == status, answer.text
    if field:
        assert field in [p["name"] for p in answer.json()["invalid_params"]]
    assert len(_journal(hub)) == before


def test_tokens_on_a_task_update_are_stored_and_journaled_as_sent(hub: RunningDaemon) -> None:
    body = {
        "status": "progress",
        "tokens_in": 700,
        "tokens_out": 80,
        "workplan_tokens_in": 5,
        "model": "sonnet",
        "agent": "tok-agent",
        "session_id": "s-9",
    }
    answer = hub.request("PATCH", f"/tasks/{T06}", json=body)
    assert answer.status_code == 200, answer.text
    [event] = hub.get("/token-events/", params={"task_id": T06}).json()
    assert (event["tokens_in"], event["tokens_out"], event["tokens_total"], event["model"]) == (700, 80, 780, "sonnet")
    assert (event["workplan_tokens_in"], event["agent"], event["session_id"]) == (5, "tok-agent", "s-9")
    assert event["origin"] == "task.patch" and event["workplan_id"] == "CUST-WP-0054"
    # The envelope the relay will send carries every token field exactly as the client sent it.
    envelope = [e for e in _journal(hub) if e["kind"] == "task.patch" and e["target"]["id"] == T06][-1]
    assert {k: envelope["body"][k] for k in body} == body

    # Tokens alone are a valid update (not "nothing to change"), and bad counts are refused by name.
    alone = hub.request("PATCH", f"/tasks/{T06}", json={"tokens_in": 1, "tokens_out": 2})
    assert alone.status_code == 200, alone.text
    assert len(hub.get("/token-events/", params={"task_id": T06}).json()) == 2
    bad = hub.request("PATCH", f"/tasks/{T06}", json={"status": "done", "tokens_out": -5})
    assert bad.status_code == 422 and "tokens_out" in [p["name"] for p in bad.json()["invalid_params"]]
    assert hub.get(f"/tasks/{T06}").json()["status"] == "progress"


def test_token_events_filter_by_the_task_uuid_too(hub: RunningDaemon) -> None:
    task_uuid = hub.get(f"/tasks/{T05}").json()["state_hub_task_id"]
    by_uuid = hub.get("/token-events/", params={"task_id": task_uuid}).json()
    assert by_uuid and all(e["task_id"] == T05 for e in by_uuid)


def test_the_summary_totals_a_scope_by_model_without_superseded_rows(hub: RunningDaemon) -> None:
    for body in (
        {"tokens_in": 10, "tokens_out": 1, "model": "m1", "ref_type": "commit", "ref_id": "abc123"},
        {"tokens_in": 20, "tokens_out": 2, "model": "m2", "ref_type": "commit", "ref_id": "abc123"},
        {
            "tokens_in": 99,
            "tokens_out": 9,
            "model": "m2",
            "ref_type": "commit",
            "ref_id": "abc123",
            "measurement_kind": "superseded",
        },
        {"tokens_in": 5, "tokens_out": 5, "model": "m1", "ref_type": "commit", "ref_id": "other"},
    ):
        assert hub.request("POST", "/token-events/", json=body).status_code == 201
    summary = hub.get("/token-events/summary/", params={"scope": "commit", "id": "abc123"}).json()
    assert (summary["events"], summary["tokens_in"], summary["tokens_out"], summary["tokens_total"]) == (2, 30, 3, 33)
    assert [(m["model"], m["tokens_total"]) for m in summary["by_model"]] == [("m1", 11), ("m2", 22)]
    bad = hub.get("/token-events/summary/", params={"scope": "galaxy", "id": "x"})
    assert bad.status_code == 400 and "scope" in bad.json()["detail"]
