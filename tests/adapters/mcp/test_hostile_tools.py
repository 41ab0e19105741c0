"""The exact hostile literals of issue #13 through MCP tools: each refusal carries its reason (never the SDK's
bare "Error executing tool X"), and a refused write leaves the journal as it was.

The SDK client turns NaN and Infinity into null before sending, so those literals go as raw JSON-RPC over
HTTP, the way any other client may send them.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.adapters.api.test_fuzz_http import journal_bytes
from tests.adapters.mcp.helpers import connect, error_text, run
from tests.support.daemon import RunningDaemon
from tests.support.hostile import deep

RAW_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


@pytest.fixture
def daemon(shared_daemon: RunningDaemon) -> RunningDaemon:
    return shared_daemon


def _raw_call(daemon: RunningDaemon, name: str, arguments_json: str) -> dict[str, Any]:
    """tools/call with the arguments as JSON *text*, so it may hold what a Python encoder would not write."""
    body = (
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"'
        + name
        + '","arguments":'
        + arguments_json
        + "}}"
    )
    response = httpx.post(daemon.url + "/mcp", content=body.encode(), headers=RAW_HEADERS, timeout=10)
    document: dict[str, Any] = response.json()
    return document


@pytest.mark.parametrize(
    ("literal", "reason"),
    [
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-Infinity", "finite"),
        ("1e999", "finite"),
        ("99999999999999999999", "64-bit"),
        ('"a\\u0000b"', "NUL"),
        (deep(40, "{"), "nested"),
    ],
)
@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("add_progress_event", '{"summary":"s","detail":{"value":%s}}'),
        ("bulk_update_task_statuses", '{"updates":[{"task_id":"CUST-WP-0054-T09","status":"todo","x":%s}]}'),
    ],
)
def test_hostile_json_in_tool_arguments_is_refused_with_the_field(
    daemon: RunningDaemon, tool: str, arguments: str, literal: str, reason: str
) -> None:
    before = journal_bytes(daemon)
    answer = _raw_call(daemon, tool, arguments % literal)
    result = answer["result"]
    text = "".join(block.get("text", "") for block in result["content"])
    assert result["isError"] is True, text
    assert reason in text and ("detail.value" in text or "updates[0].x" in text), text
    assert journal_bytes(daemon) == before


def test_a_lone_surrogate_is_refused_by_the_json_rpc_parser(daemon: RunningDaemon) -> None:
    before = journal_bytes(daemon)
    answer = _raw_call(daemon, "add_progress_event", '{"summary":"\\ud800"}')
    assert "error" in answer and answer["error"]["message"], answer
    assert journal_bytes(daemon) == before


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_tool_refusals_say_why(daemon: RunningDaemon, transport: str) -> None:
    calls: list[tuple[str, dict[str, Any], str]] = [
        ("get_recent_progress", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
        ("get_recent_progress", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
        ("get_recent_progress", {"limit": 10**20}, "limit"),
        ("list_tasks", {"limit": 10**20}, "limit"),
        ("add_progress_event", {"summary": "s", "detail": {"n": 10**20}}, "detail.n"),
        ("add_progress_event", {"summary": "s\x00"}, "summary"),
        ("add_progress_event", {"summary": "s", "detail": {"x": "y" * 70_000}}, "64 KiB"),
        ("send_message", {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "y" * 70_000}, "64 KiB"),
        ("update_task_status", {"task_id": "CUST-WP-0054-T09", "status": "todo", "note": "a\x00"}, "note"),
        (
            "bulk_update_task_statuses",
            {"updates": [{"task_id": "CUST-WP-0054-T09", "status": "todo", "repo": 1}]},
            "updates[0].repo",
        ),
        ("get_task", {"task_id": "y" * 70_000}, "y"),  # over stdio: too long for a URL, refused not crashed
        ("mark_message_read", {"message_id": "y" * 70_000}, "y"),
        ("register_repo", {"path": "/nonexistent\x00"}, "not a usable path"),
        ("register_repo", {"path": "~nosuchuser-devhub-test/x"}, "not a usable path"),
        ("register_repo", {"path": "/tmp/" + "x" * 300}, "not a usable path"),
    ]
    before = journal_bytes(daemon)

    async def scenario() -> list[tuple[str, str, str]]:
        async with connect(daemon, transport) as client:
            return [(name, needle, error_text(await client.call_tool(name, args))) for name, args, needle in calls]

    for name, needle, text in run(scenario()):
        assert text.strip() != f"Error executing tool {name}", f"{name} crashed (see the daemon log)"
        assert needle in text, f"{name}: {text[:300]}"
    assert journal_bytes(daemon) == before
