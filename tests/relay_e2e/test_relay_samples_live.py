"""With a relay running, the queue samples follow it: a write and the relay's drain are each sampled soon
(well before the next minute's sample), and every sample is announced on the dashboard's event stream."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx

from tests.relay_e2e.helpers import start_dev, wait_drained
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

TASK = "CUST-WP-0054-T05"  # has a state_hub_task_id, so its write is not held


def _listen(url: str, seen: list[dict[str, Any]], stop: threading.Event) -> None:
    """Collect the dashboard stream's events (`hello` as {"kind": "hello"}) until `stop` or the daemon stops."""
    try:
        with httpx.stream("GET", url + "/ui/events", timeout=httpx.Timeout(30.0, read=None)) as response:
            kind = None
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    kind = line.split(":", 1)[1].strip()
                elif line.startswith("data:") and kind == "change":
                    seen.append(json.loads(line.split(":", 1)[1]))
                elif line.startswith("data:") and kind == "hello":
                    seen.append({"kind": "hello"})
    except httpx.HTTPError:  # the daemon stopped: the stream ends
        return


def test_the_relays_drain_is_sampled_and_announced_without_waiting_a_minute(
    tmp_path: Path, fleet: RunningDaemon
) -> None:
    # The default interval (60 s): any sample after the first one here came from a change.
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), fleet.url)
    seen: list[dict[str, Any]] = []
    stop = threading.Event()
    listener = threading.Thread(target=_listen, args=(dev.url, seen, stop), daemon=True)
    listener.start()
    try:
        wait_for(lambda: dev.get("/relay/history").json()["samples"], timeout=10, what="the start's sample")
        wait_for(lambda: seen and seen[0]["kind"] == "hello", timeout=10, what="the dashboard stream to open")
        wait_drained(dev)
        written = dev.request("PATCH", f"/tasks/{TASK}", json={"status": "progress"})
        assert written.status_code == 200, written.text
        wait_drained(dev)
        assert fleet.get(f"/tasks/{TASK}").json()["status"] == "progress"

        samples = wait_for(
            lambda: (s := dev.get("/relay/history").json()["samples"])[-1]["pending"] == 0 and len(s) >= 2 and s,
            timeout=15,
            what="a sample of the drained queue",
        )
        assert all(s["state"] != "disabled" for s in samples), "with a relay, the samples are the relay's counts"
        announced = wait_for(
            lambda: [e for e in seen if e["kind"] == "relay-sample" and e["ts"] == samples[-1]["ts"]],
            timeout=5,
            what="the sample's event on the dashboard stream",
        )
        assert announced[0]["pending"] == 0 and announced[0]["state"] == samples[-1]["state"]
    finally:
        stop.set()
        dev.stop()
        listener.join(timeout=10)
