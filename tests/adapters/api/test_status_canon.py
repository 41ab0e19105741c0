"""The status canon's transition rules, refused when the write is made — through REST, bulk sync and the CLI
— so nothing the fleet would refuse reaches the journal. (MCP: tests/adapters/mcp/test_parity_tools.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

DONE = "CUST-WP-0054-T01"  # done in its file
TODO = "CUST-WP-0054-T05"
WAITING_WITHOUT_REASON = "CUST-WP-0054-T09"  # wait in its file, no blocking_reason


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("canon")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


def _journal_size(hub: RunningDaemon) -> int:
    return sum(p.stat().st_size for p in (hub.data_dir / "journal").rglob("*") if p.is_file())


def _patch(hub: RunningDaemon, task: str, **body: Any) -> Any:
    return hub.request("PATCH", f"/tasks/{task}", json=body)


def test_cancel_is_final(hub: RunningDaemon) -> None:
    task = "CUST-WP-0054-T06"
    assert _patch(hub, task, status="cancelled").status_code == 200  # the alias, stored as cancel
    before = _journal_size(hub)
    for target in ("todo", "progress", "done", "wait"):
        refused = _patch(hub, task, status=target, blocking_reason="x")
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "cancel is final" in detail and f"cancel -> {target}" in detail
    assert _journal_size(hub) == before, "a refused write reaches nothing"
    assert hub.get(f"/tasks/{task}").json()["status"] == "cancel"
    assert _patch(hub, task, status="canceled", note="again").status_code == 200  # the same status is no move


def test_done_does_not_reopen_through_a_write(hub: RunningDaemon) -> None:
    refused = _patch(hub, DONE, status="progress")
    assert refused.status_code == 409
    assert "done reopens only by an explicit rule" in refused.json()["detail"]
    assert (refused.json()["current_status"], refused.json()["requested_status"]) == ("done", "progress")
    assert _patch(hub, DONE, status="cancel").status_code == 409
    assert _patch(hub, DONE, status="done", note="confirmed").status_code == 200


def test_wait_needs_a_blocking_reason_unless_the_task_has_one(hub: RunningDaemon) -> None:
    refused = _patch(hub, TODO, status="blocked")
    assert refused.status_code == 422
    assert [p["name"] for p in refused.json()["invalid_params"]] == ["blocking_reason"]
    assert _patch(hub, TODO, status="wait", blocking_reason="  ").status_code == 422
    assert hub.get(f"/tasks/{TODO}").json()["status"] == "todo"
    assert _patch(hub, TODO, status="wait", blocking_reason="needs the forge").status_code == 200
    assert _patch(hub, TODO, status="progress").status_code == 200
    # Its reason is still on the task, so waiting again needs no new one.
    assert _patch(hub, TODO, status="waiting").json()["blocking_reason"] == "needs the forge"
    # A task waiting in its file without a reason may be touched in other ways, not re-set to wait.
    assert _patch(hub, WAITING_WITHOUT_REASON, note="still waiting").status_code == 200
    # Setting wait again still needs the reason the fleet would ask for (strict_statehub answers 422 too).
    assert _patch(hub, WAITING_WITHOUT_REASON, status="wait").status_code == 422


def test_bulk_sync_duplicates_are_400_and_unknown_ids_404_in_the_state_hubs_shape(hub: RunningDaemon) -> None:
    before = _journal_size(hub)
    dup = hub.request(
        "POST",
        "/tasks/bulk-status-sync",
        json={
            "updates": [
                {"task_id": "CUST-WP-0054-T07", "status": "progress"},
                {"task_id": "CUST-WP-0054-T07", "status": "done"},
                {"task_id": "nope", "status": "done"},
            ]
        },
    )
    assert dup.status_code == 400, dup.text
    assert dup.json()["detail"] == {
        "message": "duplicate task_id values are not allowed",
        "task_ids": ["CUST-WP-0054-T07"],
    }
    # One task spelled two ways (file id and State Hub UUID) is still one task twice.
    spelled = hub.request(
        "POST",
        "/tasks/bulk-status-sync",
        json={
            "updates": [
                {"task_id": DONE, "status": "done"},
                {"task_id": "67b91b18-9ad0-4917-990a-056a7007a2d4", "status": "done"},
            ]
        },
    )
    assert spelled.status_code == 400 and len(spelled.json()["detail"]["task_ids"]) == 2
    missing = hub.request(
        "POST",
        "/tasks/bulk-status-sync",
        json={
            "updates": [
                {"task_id": "CUST-WP-0054-T07", "status": "progress"},
                {"task_id": "nope-1", "status": "done"},
                {"task_id": "nope-2", "status": "todo"},
            ]
        },
    )
    assert missing.status_code == 404
    assert missing.json()["detail"] == {"message": "one or more tasks were not found", "task_ids": ["nope-1", "nope-2"]}
    assert _journal_size(hub) == before
    assert hub.get("/tasks/CUST-WP-0054-T07").json()["status"] == "todo"


def test_bulk_sync_refuses_a_forbidden_transition_or_a_reasonless_wait_all_or_nothing(hub: RunningDaemon) -> None:
    before = _journal_size(hub)
    forbidden = hub.request(
        "POST",
        "/tasks/bulk-status-sync",
        json={"updates": [{"task_id": "CUST-WP-0054-T08", "status": "progress"}, {"task_id": DONE, "status": "todo"}]},
    )
    assert forbidden.status_code == 409 and "done -> todo" in forbidden.json()["detail"]
    reasonless = hub.request(
        "POST",
        "/tasks/bulk-status-sync",
        json={
            "updates": [
                {"task_id": "CUST-WP-0054-T08", "status": "progress"},
                {"task_id": "CUST-WP-0054-T07", "status": "wait"},
            ]
        },
    )
    assert reasonless.status_code == 422
    assert [p["name"] for p in reasonless.json()["invalid_params"]] == ["updates[1].blocking_reason"]
    assert _journal_size(hub) == before
    assert hub.get("/tasks/CUST-WP-0054-T08").json()["status"] == "todo"


def test_the_cli_is_held_to_the_same_rules(hub: RunningDaemon) -> None:
    refused = hub.cli("task", "set", DONE, "todo")
    assert refused.returncode != 0 and "done reopens only by an explicit rule" in refused.stderr + refused.stdout
    reasonless = hub.cli("task", "set", "CUST-WP-0054-T08", "wait")
    assert reasonless.returncode != 0 and "blocking_reason" in reasonless.stderr + reasonless.stdout
    given = hub.cli("task", "set", "CUST-WP-0054-T08", "wait", "--blocking-reason", "waits for T05")
    assert given.returncode == 0, given.stderr
    assert hub.get("/tasks/CUST-WP-0054-T08").json()["blocking_reason"] == "waits for T05"
