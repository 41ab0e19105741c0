"""Decisions, a resolve, token events and the tokens of a task update, relayed to the strict State Hub
stand-in: every call is one the real hub's models accept (UUIDs, required fields), applied once."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import start_dev, wait_drained
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub

TOKEN = "strict-upstream-token"
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # CUST-WP-0054 in fixtures/repos/the-custodian
TASK_UUID = "e91db8d0-973d-4a31-b3c2-ca37fd002ec7"  # CUST-WP-0054-T05, `todo` in the file


def test_decisions_and_tokens_land_at_the_strict_hub_exactly_once(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        topic = hub.seed_topic("custodian")
        hub.seed_workstream(topic, title="Workstation Independence", id=WORKPLAN_UUID)
        hub.seed_task(WORKPLAN_UUID, "CUST-WP-0054-T05", id=TASK_UUID, status="todo")
        dev = start_dev(
            tmp_path / "dev",
            make_workspace(tmp_path / "ws", ["the-custodian"]),
            hub.url,
            env={"STATE_HUB_TOKEN": TOKEN},
        )
        try:
            with dev.client() as client:
                decision = client.post(
                    "/decisions/",
                    json={
                        "title": "Which cluster",
                        "decision_type": "pending",
                        "workstream_id": "CUST-WP-0054",
                        "category": "financial",
                    },
                )
                assert decision.status_code == 201 and decision.json()["status"] == "escalated", decision.text
                local_id = decision.json()["id"]
                resolved = client.post(
                    f"/decisions/{local_id}/resolve", json={"rationale": "cheaper", "decided_by": "bernd"}
                )
                assert resolved.status_code == 200, resolved.text
                on_topic = client.post("/decisions/", json={"title": "Topic-wide", "topic_id": topic})
                assert on_topic.status_code == 201, on_topic.text
                event = client.post(
                    "/token-events/",
                    json={"tokens_in": 30, "tokens_out": 5, "task_id": "CUST-WP-0054-T05", "model": "opus"},
                )
                assert event.status_code == 201, event.text
                done = client.patch(
                    "/tasks/CUST-WP-0054-T05",
                    json={"status": "done", "tokens_in": 400, "tokens_out": 100, "model": "opus"},
                )
                assert done.status_code == 200, done.text
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()

        assert status["delivered"] == 5 and status["dead_letters"] == 0, status
        assert hub.refusals == [], hub.refusals
        [created, other] = [e for e in hub.effects if e.path == "/decisions/"]
        assert created.body["workstream_id"] == WORKPLAN_UUID and created.body["decision_type"] == "pending"
        assert "topic_id" not in created.body and other.body["topic_id"] == topic
        upstream_id = created.answer["id"]
        assert upstream_id != local_id  # the resolve was addressed by the id the stand-in gave
        [resolve] = hub.effects_on("POST", f"/decisions/{upstream_id}/resolve")
        assert resolve.body == {"rationale": "cheaper", "decided_by": "bernd"} and resolve.idempotency_key
        assert hub.decisions[upstream_id]["status"] == "resolved"
        [token_post] = hub.effects_on("POST", "/token-events/")
        assert token_post.body["task_id"] == TASK_UUID and token_post.answer["workstream_id"] == WORKPLAN_UUID
        [patch] = hub.effects_on("PATCH", f"/tasks/{TASK_UUID}")
        assert {k: patch.body[k] for k in ("tokens_in", "tokens_out", "model")} == {
            "tokens_in": 400,
            "tokens_out": 100,
            "model": "opus",
        }
        totals = sorted(e["tokens_total"] for e in hub.token_events.values())
        assert totals == [35, 500]  # the POST, and the event the hub wrote from the done update's tokens
        assert len(hub.effects) == 5
