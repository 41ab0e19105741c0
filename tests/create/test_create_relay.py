"""Created work is relayed upstream: to a devhub `--role fleet` hub, and to the strict State Hub stand-in."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import start_dev, start_fleet, wait_drained
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub

WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"  # CUST-WP-0054's state_hub_workstream_id
TOKEN = "strict-upstream-token"


def test_creates_reach_a_fleet_hub_once(tmp_path: Path) -> None:
    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws"))
    dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws"), fleet.url)
    try:
        with dev.client() as client:
            workplan = client.post("/workplans/", json={"repo_id": "state-hub", "title": "Relayed plan"}).json()
            in_new = client.post("/tasks/", json={"workstream_id": workplan["id"], "title": "In the new plan"}).json()
            in_old = client.post("/tasks/", json={"workplan_id": "CUST-WP-0054", "title": "In an old plan"}).json()
        status = wait_drained(dev, timeout=30)
        assert status["delivered"] == 3 and status["dead_letters"] == 0, status
        # The fleet hub assigned the same ids from the same files, and serves what was sent.
        assert fleet.get(f"/workplans/{workplan['id']}").json()["title"] == "Relayed plan"
        assert fleet.get(f"/tasks/{in_new['id']}").json()["title"] == "In the new plan"
        assert fleet.get(f"/tasks/{in_old['id']}").json()["workplan_id"] == "CUST-WP-0054"
    finally:
        dev.stop()
        fleet.stop()


def test_a_created_task_goes_with_the_workplans_uuid_and_its_uuid_is_learnt(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        hub.seed_workstream(title="Workstation Independence", id=WORKPLAN_UUID)
        workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
        dev = start_dev(tmp_path / "dev", workspace, hub.url, env={"STATE_HUB_TOKEN": TOKEN})
        try:
            with dev.client() as client:
                task = client.post(
                    "/tasks/", json={"workstream_id": "CUST-WP-0054", "title": "Created offline", "priority": "high"}
                ).json()
                wait_drained(dev, timeout=30)
                # Once the upstream answered with its UUID, a status change of the created task is not held.
                assert client.patch(f"/tasks/{task['id']}", json={"status": "progress"}).status_code == 200
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()
        assert status["delivered"] == 2 and status["dead_letters"] == 0 and status["held"] == 0, status
        [created] = hub.effects_on("POST", "/tasks/")
        assert created.status == 201 and created.body["workstream_id"] == WORKPLAN_UUID
        assert created.body["title"] == "Created offline" and created.body["priority"] == "high"
        [uuid] = [ident for ident, row in hub.tasks.items() if row["title"] == "Created offline"]
        [patched] = hub.effects_on("PATCH", f"/tasks/{uuid}")
        assert patched.body["status"] == "progress"
        assert hub.refusals == [], hub.refusals
