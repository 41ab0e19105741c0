"""With a relay running, the queue samples follow it: the relay's drain is sampled soon (well before the next
minute's sample). The browser test (tests/adapters/dashboard/test_browser_live.py) shows an open page's chart
moving on the `relay-sample` event each such sample announces."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import start_dev, wait_drained
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

TASK = "CUST-WP-0054-T05"  # has a state_hub_task_id, so its write is not held


def test_the_relays_drain_is_sampled_without_waiting_a_minute(tmp_path: Path, fleet: RunningDaemon) -> None:
    # The default interval (60 s): any sample after the start's one here came from a change.
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), fleet.url)
    try:
        started = wait_for(lambda: dev.get("/relay/history").json()["samples"], timeout=10, what="the start's sample")
        written = dev.request("PATCH", f"/tasks/{TASK}", json={"status": "progress"})
        assert written.status_code == 200, written.text
        wait_drained(dev)
        assert fleet.get(f"/tasks/{TASK}").json()["status"] == "progress"
        samples = wait_for(
            lambda: (s := dev.get("/relay/history").json()["samples"])[-1]["pending"] == 0
            and s[-1]["ts"] > started[0]["ts"]
            and s,
            timeout=15,
            what="a sample of the drained queue",
        )
        assert all(s["state"] != "disabled" for s in samples), "with a relay, the samples are the relay's counts"
        assert samples[-1]["state"] in ("idle", "online")
    finally:
        dev.stop()
