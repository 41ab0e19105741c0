"""A task without a state_hub_task_id is held (in order, without blocking other tasks) until its file gains one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.relay_e2e.helpers import (
    patch_task,
    progress_summaries,
    relay,
    start_dev,
    start_fleet,
    wait_drained,
    write_progress,
)
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

HELD_TASK = "CUST-WP-0011-T10"
NEW_UUID = "5d0c1f0e-8d8a-4c4e-9b1e-2f6a7f0c0a10"
WORKPLAN = Path("workplans/CUST-WP-0011-state-hub-cluster-migration.md")


def _give_id(repo: Path) -> None:
    path = repo / WORKPLAN
    text = path.read_text()
    block = f"id: {HELD_TASK}\nstatus: todo\n"
    assert block in text
    path.write_text(text.replace(block, f'{block}state_hub_task_id: "{NEW_UUID}"\n'))


def test_held_task_waits_for_its_id_and_others_keep_flowing(tmp_path: Path) -> None:
    fleet_repo = make_workspace(tmp_path / "fleet-ws", ["the-custodian"])
    dev_repo = make_workspace(tmp_path / "dev-ws", ["the-custodian"])
    fleet = start_fleet(tmp_path / "fleet", fleet_repo)
    dev = start_dev(tmp_path / "dev", dev_repo, fleet.url)
    try:
        with dev.client() as client:
            patch_task(client, HELD_TASK, "progress")
            write_progress(client, "held-other-1", task_id="CUST-WP-0054-T07")
            patch_task(client, "CUST-WP-0054-T07", "done")
            patch_task(client, HELD_TASK, "done")  # must not overtake the held write to the same task
            write_progress(client, "held-other-2")
            assert client.patch("/workplans/CUST-WP-0054", json={"status": "blocked"}).status_code == 200
        # The relay settles to idle after the pass that delivered the rest; wait for both, not the first.
        held = wait_for(
            lambda: (s := relay(dev))["pending"] == 2 and s["state"] == "idle" and s,
            timeout=15,
            what="everything but the held task's two writes to be delivered, and the relay idle",
        )
        assert held["held"] == 2 and held["state"] == "idle"
        assert fleet.get("/workplans/CUST-WP-0054").json()["status"] == "blocked"  # routed by its UUID
        assert any("no state_hub_task_id" in h["reason"] for h in held["held_reasons"])
        assert progress_summaries(fleet, "held-other-") == ["held-other-1", "held-other-2"]
        assert fleet.get("/tasks/CUST-WP-0054-T07").json()["status"] == "done"
        assert fleet.get(f"/tasks/{HELD_TASK}").json()["status"] == "todo"

        # The fleet registers the task first (its file gains the id), then the dev checkout pulls it.
        _give_id(fleet_repo[0])
        wait_for(
            lambda: fleet.get(f"/tasks/{NEW_UUID}").status_code == 200,
            timeout=10,
            what="the fleet hub to see the new task id",
        )
        _give_id(dev_repo[0])
        released = wait_drained(dev, timeout=15)  # the file change wakes the relay; no write needed
        assert released["held"] == 0 and released["dead_letters"] == 0
        assert fleet.get(f"/tasks/{HELD_TASK}").json()["status"] == "done"  # both arrived, in order
        journal = json.loads(fleet.cli("journal", "show", "--json", "--limit", "0", check=True).stdout)
        assert journal["last_seq"] == 6  # every write exactly once
        held_writes = [r["body"]["status"] for r in journal["records"] if r["path"] == f"/tasks/{HELD_TASK}"]
        assert held_writes == ["progress", "done"]
    finally:
        dev.stop()
        fleet.stop()
