"""Offline, then online: hundreds of writes made with the fleet hub down arrive once, in order, unprompted."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from tests.relay_e2e.helpers import (
    BACKOFF_CAP,
    journal_last_seq,
    patch_task,
    progress_summaries,
    relay,
    start_dev,
    start_fleet,
    wait_drained,
    write_progress,
)
from tests.support.faultproxy import fault_proxy
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

TASKS = [f"CUST-WP-0054-T{n:02d}" for n in range(1, 11)]
STATUSES = ["todo", "progress", "wait", "done", "cancel"]


def allowed_moves(current: str) -> list[str]:
    """The statuses the canon lets a write move to from `current` (cancel is final; done does not reopen)."""
    return [current] if current in ("cancel", "done") else STATUSES


def test_writes_made_offline_arrive_exactly_once_in_order(tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "ws")
    rng = random.Random(54)
    # Small segments, so compaction after the drain has whole relayed segments to drop.
    env = {"DEVHUB_JOURNAL_MAX_BYTES": "400000"}
    with fault_proxy(mode="refuse") as proxy:
        dev = start_dev(tmp_path / "dev", workspace, proxy.url, env=env)
        fleet = None
        try:
            wait_for(lambda: relay(dev)["state"] == "offline", timeout=10, what="the relay to notice it is offline")
            last_status: dict[str, str] = {}
            summaries: list[str] = []
            with dev.client() as client:
                current = {task: client.get(f"/tasks/{task}").json()["status"] for task in TASKS}
                # Done and cancelled tasks move no further, so only some start there (and a few get there).
                open_tasks = [task for task in TASKS if current[task] not in ("done", "cancel")]
                for index in range(300):
                    if index % 3 == 2:
                        summary = f"offline-{index:03d}"
                        write_progress(client, summary, task_id=rng.choice(TASKS), event_type="note")
                        summaries.append(summary)
                    else:
                        task = rng.choice(open_tasks if rng.random() < 0.9 else TASKS)
                        status = rng.choice(allowed_moves(current[task]))
                        if status == "wait":  # a wait says what it waits for (the canon's blocking_reason)
                            answer = client.patch(f"/tasks/{task}", json={"status": "wait", "blocking_reason": "r"})
                            assert answer.status_code == 200, answer.text
                        else:
                            patch_task(client, task, status)
                        current[task] = last_status[task] = status
            offline = relay(dev)
            assert offline["state"] == "offline"
            assert offline["pending"] == 300
            assert offline["oldest_pending_age_seconds"] is not None
            assert "unreachable" in offline["last_error"]
            shown = dev.cli("relay", "status", check=True).stdout
            assert "offline" in shown and "pending 300" in shown

            fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws"))
            proxy.set_target(int(fleet.url.rsplit(":", 1)[1]))
            back = time.monotonic()
            proxy.set_mode("pass")
            # No new write: the relay's own probing must notice within the backoff cap (+1 s of slack).
            wait_for(
                lambda: journal_last_seq(fleet) > 0,
                timeout=BACKOFF_CAP + 1.0,
                interval=0.02,
                what="the first relayed envelope after the upstream came back",
            )
            assert time.monotonic() - back <= BACKOFF_CAP + 1.0

            drained = wait_drained(dev, timeout=60)
            assert drained["state"] == "idle"
            assert drained["delivered"] == 300
            assert drained["dead_letters"] == 0

            # Exactly once: the fleet journaled 300 writes, each progress summary once, in the dev's order.
            assert journal_last_seq(fleet) == 300
            assert progress_summaries(fleet, "offline-") == summaries
            for task, expected in last_status.items():
                assert fleet.get(f"/tasks/{task}").json()["status"] == expected, task
        finally:
            dev.stop()
            if fleet is not None:
                fleet.stop()

    # Every relayed segment but the active one can go; nothing is left pending.
    compact = json.loads(dev.cli("journal", "compact", "--retention-days", "0", "--json", check=True).stdout)
    assert compact["relayed_through"] == 300
    assert len(compact["removed"]) >= 1
    shown = json.loads(dev.cli("journal", "show", "--pending", "--json", check=True).stdout)
    assert shown["pending"] == 0 and shown["records"] == []
