"""Decisions, their resolves and token events written on a dev hub arrive at a `--role fleet` hub, each once,
with fleet UUIDs; a decision placed only by a topic slug waits (held) instead of being refused upstream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.relay_e2e.helpers import relay, start_dev, start_fleet
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # CUST-WP-0054
TOPIC_UUID = "5b0f3a52-6c1e-4d8e-9a35-0c7f1e2d3b4a"


def _ok(answer: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    data: dict[str, Any] = answer.json()
    return data


def test_decisions_resolves_and_token_events_reach_the_fleet_hub(tmp_path: Path) -> None:
    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws", ["the-custodian"]))
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), fleet.url)
    try:
        with dev.client() as client:
            placed = _ok(
                client.post(
                    "/decisions/",
                    json={
                        "title": "Move the tunnel",
                        "decision_type": "pending",
                        "topic_id": "custodian",
                        "workstream_id": "CUST-WP-0054",
                        "deadline": "2026-12-20",
                    },
                )
            )
            _ok(client.patch(f"/decisions/{placed['id']}", json={"context": "railiance01 is full"}), 200)
            resolve = {"rationale": "move it", "decided_by": "bernd"}
            _ok(client.post(f"/decisions/{placed['id']}/resolve", json=resolve), 200)
            by_topic = _ok(client.post("/decisions/", json={"title": "Fleet topic", "topic_id": TOPIC_UUID}))
            slug_only = _ok(client.post("/decisions/", json={"title": "Slug only", "topic_id": "custodian"}))
            tokens = {"tokens_in": 11, "tokens_out": 2, "task_id": "CUST-WP-0054-T05"}
            _ok(client.post("/token-events/", json=tokens))
            source = {"measurement_kind": "measured", "source_provider": "codex_session", "source_id": "sess-7"}
            _ok(client.post("/token-events/upsert", json={**source, "tokens_in": 5, "tokens_out": 1}))
            _ok(client.post("/token-events/upsert", json={**source, "tokens_in": 50, "tokens_out": 10}), 200)
            update = {"status": "progress", "tokens_in": 70, "model": "opus"}
            _ok(client.patch("/tasks/CUST-WP-0054-T05", json=update), 200)

        # Everything but the slug-only decision is delivered; that one is held, not dead-lettered.
        status = wait_for(
            lambda: (s := relay(dev))["pending"] == 1 and s["held"] == 1 and s["state"] != "online" and s,
            timeout=30,
            what="the relay to deliver all but the held decision",
        )
        assert status["dead_letters"] == 0 and status["delivered"] == 8, status

        decisions = {d["title"]: d for d in fleet.get("/decisions/").json()}
        assert set(decisions) == {"Move the tunnel", "Fleet topic"}
        moved = decisions["Move the tunnel"]
        assert moved["id"] != placed["id"]  # the fleet assigned its own id; the patch and resolve found it
        assert (moved["status"], moved["rationale"], moved["decided_by"], moved["context"]) == (
            "resolved",
            "move it",
            "bernd",
            "railiance01 is full",
        )
        assert moved["workstream_id"] == WORKPLAN_UUID and moved["topic_id"] is None  # the slug stayed home
        assert decisions["Fleet topic"]["topic_id"] == TOPIC_UUID and by_topic["id"] != decisions["Fleet topic"]["id"]

        events = fleet.get("/token-events/", params={"limit": 100}).json()
        by_origin = sorted((e["origin"], e["tokens_total"]) for e in events)
        assert by_origin == [("post", 13), ("task.patch", 70), ("upsert", 60)], events
        assert {e["task_id"] for e in events if e["origin"] != "upsert"} == {"CUST-WP-0054-T05"}
        fleet_task = fleet.get("/tasks/CUST-WP-0054-T05").json()
        assert fleet_task["status"] == "progress"
        assert slug_only["id"] not in {d["id"] for d in decisions.values()}
    finally:
        dev.stop()
        fleet.stop()
