"""Writes made with the dashboard's forms are relayed like REST writes, and the relay's samples show the queue."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import start_dev, wait_drained
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

TASK = "CUST-WP-0054-T05"  # has a state_hub_task_id, so its writes are not held


def test_a_form_status_change_and_mark_read_reach_the_fleet_hub(tmp_path: Path, fleet: RunningDaemon) -> None:
    dev = start_dev(
        tmp_path / "dev",
        make_workspace(tmp_path / "ws", ["the-custodian"]),
        fleet.url,
        env={"DEVHUB_RELAY_SAMPLE_SECONDS": "0.5"},
    )
    try:
        own = {"Origin": dev.url}
        sent = dev.request(
            "POST", "/messages", json={"from_agent": "planner", "to_agent": "dev", "subject": "ping", "body": "ping"}
        )
        assert sent.status_code in (200, 201), sent.text
        posted = dev.request(
            "POST",
            f"/ui/tasks/{TASK}/status",
            data={"status": "wait", "note": "from the page", "blocking_reason": "a reply"},
            headers=own,
        )
        assert posted.status_code == 303, posted.text[:300]
        read = dev.request("POST", f"/ui/messages/{sent.json()['id']}/read", data={}, headers=own)
        assert read.status_code == 303, read.text[:300]
        wait_drained(dev)

        assert fleet.get(f"/tasks/{TASK}").json()["status"] == "wait"
        upstream = [m for m in fleet.get("/messages", params={"to_agent": "dev"}).json() if m["body"] == "ping"]
        assert len(upstream) == 1 and upstream[0]["read_at"], upstream

        # With a relay running the samples are the relay's own counts: the queue drained to zero.
        history = wait_for(
            lambda: (
                (h := dev.get("/relay/history", params={"hours": 1}).json())["samples"]
                and h["samples"][-1]["pending"] == 0
                and h["samples"][-1]["state"] != "disabled"
                and h
            ),
            timeout=10,
            what="a relay sample after the drain",
        )
        assert all(s["state"] != "disabled" for s in history["samples"])
    finally:
        dev.stop()
