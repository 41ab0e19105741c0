"""MCP writes are journaled like REST writes, replay once per idempotency key, and refusals name the problem."""

from __future__ import annotations

import json

import pytest
from mcp.shared.exceptions import MCPError

from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon


@pytest.fixture
def daemon(shared_daemon: RunningDaemon) -> RunningDaemon:
    """This module's tests share one daemon (tests/adapters/mcp/conftest.py)."""
    return shared_daemon


def _journal(daemon: RunningDaemon) -> list[dict[str, object]]:
    shown = daemon.cli("journal", "show", "--json", "--limit", "0", check=True)
    records: list[dict[str, object]] = json.loads(shown.stdout)["records"]
    return records


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_a_write_is_journaled_visible_through_rest_and_applied_once_per_key(
    daemon: RunningDaemon, transport: str
) -> None:
    before = len(_journal(daemon))

    async def scenario() -> tuple[object, object]:
        async with connect(daemon, transport) as client:
            arguments = {
                "task_id": "CUST-WP-0054-T05",
                "status": "done",
                "agent": "mcp",
                "idempotency_key": f"k-{transport}",
            }
            first = payload(await client.call_tool("update_task_status", arguments))
            second = payload(await client.call_tool("update_task_status", arguments))
            return first, second

    first, second = run(scenario())
    assert first == second
    task = daemon.get("/tasks/CUST-WP-0054-T05").json()
    assert (task["status"], task["status_source"], task["file_status"]) == ("done", "local", "todo")
    assert task["sources"]["status"] == "local"
    entries = _journal(daemon)
    assert len(entries) == before + 1, "the same key twice is one journal entry"
    assert entries[-1]["idempotency_key"] == f"k-{transport}" and entries[-1]["kind"] == "task.patch"
    assert entries[-1]["body"] == {"status": "done", "agent": "mcp"}
    assert entries[-1]["origin"]["agent"] == "mcp"  # type: ignore[index]


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_refusals_are_tool_errors_that_name_the_problem(daemon: RunningDaemon, transport: str) -> None:
    before = len(_journal(daemon))

    async def scenario() -> dict[str, str]:
        texts: dict[str, str] = {}
        async with connect(daemon, transport) as client:
            texts["unknown task"] = error_text(await client.call_tool("get_task", {"task_id": "CUST-WP-0054-T99"}))
            texts["unknown task write"] = error_text(
                await client.call_tool("update_task_status", {"task_id": "NOPE-WP-0001-T01", "status": "done"})
            )
            texts["empty note"] = error_text(
                await client.call_tool("flag_for_human", {"task_id": "CUST-WP-0054-T05", "intervention_note": " "})
            )
            texts["no note"] = error_text(await client.call_tool("flag_for_human", {"task_id": "CUST-WP-0054-T05"}))
            texts["bad status"] = error_text(
                await client.call_tool("update_task_status", {"task_id": "CUST-WP-0054-T05", "status": "finito"})
            )
            texts["bad filter"] = error_text(await client.call_tool("list_tasks", {"status": "finito"}))
            key = f"reused-{transport}"
            payload(await client.call_tool("add_progress_event", {"summary": "a", "idempotency_key": key}))
            texts["key reuse"] = error_text(
                await client.call_tool("add_progress_event", {"summary": "b", "idempotency_key": key})
            )
            texts["bulk"] = error_text(
                await client.call_tool(
                    "bulk_update_task_statuses",
                    {
                        "updates": [
                            {"task_id": "CUST-WP-0054-T05", "status": "done"},
                            {"task_id": "CUST-WP-0054-T77", "status": "done"},
                        ]
                    },
                )
            )
            with pytest.raises(MCPError) as missing:
                await client.read_resource("workplan://NOPE-WP-0404")
            texts["missing resource"] = str(missing.value)
        return texts

    texts = run(scenario())
    assert "no task with id 'CUST-WP-0054-T99'" in texts["unknown task"] and "404" in texts["unknown task"]
    assert "no task with id 'NOPE-WP-0001-T01'" in texts["unknown task write"]
    assert "intervention_note: required when needs_human is true" in texts["empty note"]
    assert "intervention_note" in texts["no note"] and "required" in texts["no note"].lower()
    assert "unknown status 'finito'" in texts["bad status"]
    assert "status" in texts["bad filter"] and "finito" in texts["bad filter"]
    assert f"'reused-{transport}' was already used with a different body" in texts["key reuse"]
    assert "CUST-WP-0054-T77" in texts["bulk"] and "nothing was written" in texts["bulk"]
    assert "NOPE-WP-0404" in texts["missing resource"]
    for name, text in texts.items():
        assert text.strip() != "Error executing tool" and not text.rstrip().endswith(("tool", ":")), name
    # Only the one accepted progress event reached the journal; every refusal wrote nothing.
    assert len(_journal(daemon)) == before + 1
