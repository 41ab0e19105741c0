"""Helpers for the relay end-to-end tests: two real daemons (dev and fleet) on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.waiting import wait_for

BACKOFF_CAP = 1.0  # seconds; small so "upstream back -> resumes within cap + 1 s" is quick to check


def start_dev(
    home: Path, repos: list[Path], upstream: str, *, env: dict[str, str] | None = None, data_dir: Path | None = None
) -> RunningDaemon:
    """A dev hub relaying to `upstream` with a short backoff cap and request timeout."""
    # The fleet snapshot is off unless a test turns it on (test_fleet_snapshot.py): its GETs would otherwise share
    # the fault proxy's one-shot faults with the relayed writes these tests count.
    full_env = {
        "DEVHUB_RELAY_BACKOFF_CAP": str(BACKOFF_CAP),
        "DEVHUB_RELAY_TIMEOUT": "2",
        "DEVHUB_SNAPSHOT_INTERVAL": "0",
        **(env or {}),
    }
    return start_daemon(home, repos, args=("--upstream", upstream), env=full_env, data_dir=data_dir)


def start_fleet(home: Path, repos: list[Path], **kwargs: Any) -> RunningDaemon:
    """An authoritative fleet-role hub (no relay) on the given repos."""
    return start_daemon(home, repos, role="fleet", args=("--no-relay",), **kwargs)


def relay(dev: RunningDaemon) -> dict[str, Any]:
    data: dict[str, Any] = dev.get("/relay").json()
    return data


def wait_drained(dev: RunningDaemon, timeout: float = 30.0) -> dict[str, Any]:
    """Wait until nothing is pending (held envelopes count as pending) and the pass that emptied the queue has
    ended (the state is no longer `online`), and return the relay status."""
    return wait_for(
        lambda: (s := relay(dev))["pending"] == 0 and s["state"] != "online" and s,
        timeout=timeout,
        what="the relay to drain",
    )


def progress_summaries(hub: RunningDaemon, prefix: str) -> list[str]:
    """Progress summaries starting with `prefix`, oldest first (by the hub's journal seq)."""
    events = hub.get("/progress/", params={"limit": 10000}).json()
    chosen = [e for e in events if str(e["summary"]).startswith(prefix)]
    return [e["summary"] for e in sorted(chosen, key=lambda e: e["seq"])]


def journal_last_seq(hub: RunningDaemon) -> int:
    """How many envelopes the hub has journaled (a fleet hub journals each write it accepts, once)."""
    seq: int = hub.get("/state/daemon").json()["journal"]["last_seq"]
    return seq


def write_progress(client: httpx.Client, summary: str, **fields: Any) -> None:
    answer = client.post("/progress/", json={"summary": summary, **fields})
    assert answer.status_code == 201, answer.text


def patch_task(client: httpx.Client, task: str, status: str) -> None:
    answer = client.patch(f"/tasks/{task}", json={"status": status})
    assert answer.status_code == 200, answer.text
