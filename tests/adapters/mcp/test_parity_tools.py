"""The State Hub's tool signatures and side effects through the official MCP SDK client: the argument names
and defaults of get_messages / send_message / reply_to_message / add_progress_event / flag_for_human,
flag_for_human's `task_flagged_human` progress event, and the status canon refused at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("mcp-parity")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


def _schemas(daemon: RunningDaemon) -> dict[str, dict[str, Any]]:
    async def listed() -> dict[str, dict[str, Any]]:
        async with connect(daemon, "http") as client:
            return {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}

    return run(listed())


def test_the_inbox_and_progress_tools_take_the_state_hubs_arguments(daemon: RunningDaemon) -> None:
    schemas = _schemas(daemon)
    messages = schemas["get_messages"]["properties"]
    assert {"to_agent", "from_agent", "unread_only", "limit"} <= set(messages)
    assert (messages["unread_only"]["default"], messages["limit"]["default"]) == (False, 20)
    assert set(schemas["send_message"]["required"]) == {"from_agent", "to_agent", "subject", "body"}
    assert set(schemas["reply_to_message"]["required"]) == {"message_id", "from_agent", "body"}
    progress = schemas["add_progress_event"]
    assert progress["required"] == ["summary"] and progress["properties"]["event_type"]["default"] == "note"
    assert {"topic_id", "workplan_id", "workstream_id", "task_id", "detail"} <= set(progress["properties"])
    flag = schemas["flag_for_human"]
    assert flag["required"] == ["task_id"] and {"note", "intervention_note"} <= set(flag["properties"])


def test_flag_for_human_flags_the_task_and_records_the_state_hubs_progress_event(daemon: RunningDaemon) -> None:
    task_id = "CUST-WP-0054-T06"

    async def scenario() -> tuple[Any, Any, str]:
        async with connect(daemon, "http") as client:
            flagged = payload(await client.call_tool("flag_for_human", {"task_id": task_id, "note": "approve budget"}))
            alias = payload(
                await client.call_tool("flag_for_human", {"task_id": "CUST-WP-0054-T07", "intervention_note": "sign"})
            )
            missing = error_text(await client.call_tool("flag_for_human", {"task_id": "CUST-WP-0054-T08"}))
            return flagged, alias, missing

    flagged, alias, missing = run(scenario())
    assert flagged["id"] == task_id and daemon.get(f"/tasks/{task_id}").json()["needs_human"] is True
    assert (flagged["needs_human"], flagged["intervention_note"]) == (True, "approve budget")
    assert alias["intervention_note"] == "sign"
    assert "intervention_note" in missing and "422" in missing
    events = daemon.get("/progress/", params={"event_type": "task_flagged_human", "task_id": task_id}).json()
    assert len(events) == 1
    event = events[0]
    assert event["summary"] == f"Task flagged for human intervention: {flagged['title']}"
    assert (event["author"], event["workplan_id"], event["detail"]) == (
        "custodian",
        "CUST-WP-0054",
        {"intervention_note": "approve budget"},
    )
    assert not daemon.get("/progress/", params={"task_id": "CUST-WP-0054-T08"}).json(), "a refused flag records nothing"


def test_add_progress_event_keeps_topic_and_takes_detail_as_text(daemon: RunningDaemon) -> None:
    async def scenario() -> tuple[Any, Any, str]:
        async with connect(daemon, "http") as client:
            as_json = payload(
                await client.call_tool(
                    "add_progress_event",
                    {
                        "summary": "closed",
                        "topic_id": "custodian",
                        "workstream_id": "CUST-WP-0054",
                        "detail": '{"commits": 2}',
                    },
                )
            )
            as_text = payload(await client.call_tool("add_progress_event", {"summary": "s", "detail": "free text"}))
            empty = error_text(await client.call_tool("add_progress_event", {"summary": "s", "workstream_id": ""}))
            return as_json, as_text, empty

    as_json, as_text, empty = run(scenario())
    assert (as_json["topic_id"], as_json["workplan_id"], as_json["detail"]) == (
        "custodian",
        "CUST-WP-0054",
        {"commits": 2},
    )
    assert as_text["detail"] == {"text": "free text"}
    assert "workstream_id" in empty and "422" in empty
    assert [e["id"] for e in daemon.get("/progress/", params={"topic_id": "custodian"}).json()] == [as_json["id"]]


def test_messages_reply_and_subject_through_mcp(daemon: RunningDaemon) -> None:
    async def scenario() -> tuple[Any, Any, str, str]:
        async with connect(daemon, "http") as client:
            sent = payload(
                await client.call_tool(
                    "send_message", {"from_agent": "w", "to_agent": "mcp-hub", "subject": "ready", "body": "T03"}
                )
            )
            reply = payload(
                await client.call_tool(
                    "reply_to_message", {"message_id": sent["id"], "from_agent": "mcp-hub", "body": "go"}
                )
            )
            no_subject = text_of_error(
                await client.call_tool("send_message", {"from_agent": "w", "to_agent": "x", "body": "b"})
            )
            bad_thread = error_text(
                await client.call_tool(
                    "send_message",
                    {"from_agent": "w", "to_agent": "x", "subject": "s", "body": "b", "thread_id": "nope"},
                )
            )
            return sent, reply, no_subject, bad_thread

    sent, reply, no_subject, bad_thread = run(scenario())
    assert (reply["to_agent"], reply["thread_id"]) == ("w", sent["id"])
    assert "subject" in no_subject
    assert "Thread root nope not found" in bad_thread
    inbox = daemon.get("/messages/", params={"to_agent": "mcp-hub"}).json()
    assert inbox[0]["id"] == sent["id"] and inbox[0]["read"] is True


def text_of_error(result: Any) -> str:
    """A refused call's text, whether the SDK's argument validation or the tool refused it."""
    assert result.is_error
    return "".join(getattr(block, "text", "") for block in result.content)


def test_the_status_canon_holds_for_the_mcp_writes(daemon: RunningDaemon) -> None:
    async def scenario() -> tuple[str, str, str]:
        async with connect(daemon, "http") as client:
            reopened = error_text(
                await client.call_tool("update_task_status", {"task_id": "CUST-WP-0054-T01", "status": "progress"})
            )
            reasonless = error_text(
                await client.call_tool("update_task_status", {"task_id": "CUST-WP-0054-T08", "status": "blocked"})
            )
            duplicate = error_text(
                await client.call_tool(
                    "bulk_update_task_statuses",
                    {
                        "updates": [
                            {"task_id": "CUST-WP-0054-T08", "status": "progress"},
                            {"task_id": "CUST-WP-0054-T08", "status": "done"},
                        ]
                    },
                )
            )
            return reopened, reasonless, duplicate

    reopened, reasonless, duplicate = run(scenario())
    assert "409" in reopened and "done reopens only by an explicit rule" in reopened
    assert "422" in reasonless and "blocking_reason" in reasonless
    assert "400" in duplicate and "duplicate task_id values are not allowed" in duplicate
    assert daemon.get("/tasks/CUST-WP-0054-T08").json()["status"] == "todo"
