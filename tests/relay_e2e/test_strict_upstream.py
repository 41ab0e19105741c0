"""devhub's relay against the strict State Hub stand-in: a task PATCH addressed by UUID lands exactly once."""

from __future__ import annotations

from pathlib import Path

from tests.relay_e2e.helpers import patch_task, start_dev, wait_drained
from tests.support.repos import make_workspace
from tests.support.strict_statehub import strict_statehub

TOKEN = "strict-upstream-token"
# CUST-WP-0054 in fixtures/repos/the-custodian carries the fleet's UUIDs; T05 is `todo` in the file.
WORKPLAN_UUID = "8a828444-dd49-4d7b-a2d1-9952b5bc929d"
TASK_UUID = "e91db8d0-973d-4a31-b3c2-ca37fd002ec7"


def test_a_task_patch_with_a_uuid_arrives_exactly_once_at_the_strict_hub(tmp_path: Path) -> None:
    with strict_statehub(token=TOKEN) as hub:
        hub.seed_workstream(title="Workstation Independence", id=WORKPLAN_UUID)
        hub.seed_task(WORKPLAN_UUID, "CUST-WP-0054-T05", id=TASK_UUID, status="todo")
        workspace = make_workspace(tmp_path / "ws", ["the-custodian"])
        dev = start_dev(tmp_path / "dev", workspace, hub.url, env={"STATE_HUB_TOKEN": TOKEN})
        try:
            with dev.client() as client:
                patch_task(client, "CUST-WP-0054-T05", "progress")
            status = wait_drained(dev, timeout=30)
        finally:
            dev.stop()

        assert status["delivered"] == 1 and status["dead_letters"] == 0, status
        [effect] = hub.effects_on("PATCH", f"/tasks/{TASK_UUID}")
        assert effect.status == 200 and effect.body["status"] == "progress"
        assert effect.idempotency_key  # the relay sends its envelope's key
        assert hub.task(TASK_UUID)["status"] == "progress"
        assert hub.refusals == [], hub.refusals  # the bearer token went along; nothing was refused
        assert len(hub.effects) == 1
