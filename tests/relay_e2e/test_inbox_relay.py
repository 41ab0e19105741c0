"""Inbox and progress writes made on a dev hub reach a `--role fleet` hub through the relay: a reply lands in
the fleet's thread (its root's fleet id), the archive and the read follow, and a topic slug is
left out of progress that its workplan places (the real hub takes only a topic UUID)."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import start_dev, start_fleet, wait_drained, write_progress
from tests.support.repos import make_workspace


def test_reply_archive_and_progress_topic_arrive_at_the_fleet(tmp_path: Path) -> None:
    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws"))
    dev = None
    try:
        dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws"), fleet.url)
        with dev.client() as client:
            root = client.post(
                "/messages/", json={"from_agent": "worker", "to_agent": "state-hub", "subject": "ready", "body": "?"}
            ).json()
            reply = client.post(f"/messages/{root['id']}/reply", json={"from_agent": "state-hub", "body": "go"})
            assert reply.status_code == 201, reply.text
            assert client.patch(f"/messages/{root['id']}/archive", json={}).status_code == 200
            write_progress(client, "closed", topic_id="custodian", workstream_id="CUST-WP-0054")
        status = wait_drained(dev, timeout=30)
        assert status["delivered"] == 5 and status["dead_letters"] == 0, (
            status
        )  # message, message+read, archive, progress

        everything = fleet.get("/messages/", params={"include_archived": "true"}).json()
        [fleet_root] = [m for m in everything if m["subject"] == "ready"]
        [fleet_reply] = [m for m in everything if m["subject"] == "Re: ready"]
        assert fleet_root["id"] != root["id"], "the fleet gave the message its own id"
        assert (fleet_reply["thread_id"], fleet_reply["to_agent"]) == (fleet_root["id"], "worker")
        assert fleet_root["read"] is True and fleet_root["archived"] is True
        assert [m["id"] for m in fleet.get(f"/messages/{fleet_root['id']}/thread").json()] == [
            fleet_root["id"],
            fleet_reply["id"],
        ]
        # The real hub takes only a topic UUID: a slug is left out when the workplan places the event.
        [event] = [e for e in fleet.get("/progress/").json() if e["summary"] == "closed"]
        assert (event["workplan_id"], event["topic_id"]) == ("CUST-WP-0054", None)
    finally:
        if dev is not None:
            dev.stop()
        fleet.stop()
