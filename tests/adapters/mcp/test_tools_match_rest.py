"""Every dev-hub tool returns what its REST endpoint returns, over streamable HTTP and over stdio."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devhub.adapters.mcp.tools_create import CREATE_TOOLS
from tests.adapters.mcp.helpers import SPEC_TOOLS, connect, payload, run
from tests.support.daemon import RunningDaemon


@pytest.fixture
def daemon(shared_daemon: RunningDaemon) -> RunningDaemon:
    """This module's tests share one daemon (tests/adapters/mcp/conftest.py)."""
    return shared_daemon


TRANSPORTS = ["http", "stdio"]

# (tool, arguments, REST method, path, REST body): each write is made through MCP with an
# Idempotency-Key, then replayed through REST with the same key and the body the REST client would
# send. The hub answers the replay only if the body hashes identically, and then with the stored
# answer — so equality proves the tool wrote exactly what the REST call writes and answered the same.
WRITES: list[tuple[str, dict[str, Any], str, str, dict[str, Any]]] = [
    (
        "update_task_status",
        {"task_id": "CUST-WP-0054-T05", "status": "progress", "agent": "mcp-test", "note": "starting the move"},
        "PATCH",
        "/tasks/CUST-WP-0054-T05",
        {"status": "progress", "agent": "mcp-test", "note": "starting the move"},
    ),
    (
        "update_task_status",
        {"task_id": "CUST-WP-0054-T06", "status": "wait", "blocking_reason": "needs T05"},
        "PATCH",
        "/tasks/CUST-WP-0054-T06",
        {"status": "wait", "blocking_reason": "needs T05"},
    ),
    (
        "flag_for_human",
        {"task_id": "CUST-WP-0054-T07", "intervention_note": "approve the beachhead budget"},
        "PATCH",
        "/tasks/CUST-WP-0054-T07",
        {"needs_human": True, "intervention_note": "approve the beachhead budget"},
    ),
    (
        "clear_human_flag",
        {"task_id": "CUST-WP-0054-T08", "note": "resolved on call"},
        "PATCH",
        "/tasks/CUST-WP-0054-T08",
        {"needs_human": False, "note": "resolved on call"},
    ),
    (
        "bulk_update_task_statuses",
        {
            "updates": [
                {"task_id": "CUST-WP-0054-T09", "status": "todo"},
                {"task_id": "CUST-WP-0054-T10", "status": "progress"},
            ],
            "author": "mcp-test",
        },
        "POST",
        "/tasks/bulk-status-sync",
        {
            "updates": [
                {"task_id": "CUST-WP-0054-T09", "status": "todo"},
                {"task_id": "CUST-WP-0054-T10", "status": "progress"},
            ],
            "author": "mcp-test",
        },
    ),
    (
        "add_progress_event",
        {
            "summary": "tunnel moved",
            "event_type": "milestone",
            "author": "mcp-test",
            "task_id": "CUST-WP-0054-T05",
            "detail": {"host": "railiance01"},
        },
        "POST",
        "/progress/",
        {
            "summary": "tunnel moved",
            "event_type": "milestone",
            "author": "mcp-test",
            "task_id": "CUST-WP-0054-T05",
            "detail": {"host": "railiance01"},
        },
    ),
    (
        "send_message",
        {"from_agent": "mcp-test", "to_agent": "reviewer", "subject": "T05", "body": "please review"},
        "POST",
        "/messages/",
        {"from_agent": "mcp-test", "to_agent": "reviewer", "subject": "T05", "body": "please review"},
    ),
]

# (tool, arguments, REST path, query): read after the writes above, so the lists are not empty.
READS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("orient", {}, "/orient", {}),
    ("orient", {"repo": "the-custodian"}, "/orient", {"repo": "the-custodian"}),
    ("get_state_summary", {}, "/state/summary", {}),
    ("list_workplans", {}, "/workplans/", {}),
    (
        "list_workplans",
        {"status": "active", "repo": "the-custodian"},
        "/workplans/",
        {"status": "active", "repo": "the-custodian"},
    ),
    ("get_workplan", {"workplan_id": "CUST-WP-0054"}, "/workplans/CUST-WP-0054", {}),
    (
        "list_tasks",
        {"workplan_id": "CUST-WP-0054", "status": "todo"},
        "/tasks/",
        {"workplan_id": "CUST-WP-0054", "status": "todo"},
    ),
    (
        "list_tasks",
        {"ready": True, "priority": "high", "limit": 3},
        "/tasks/",
        {"ready": "true", "priority": "high", "limit": 3},
    ),
    ("get_task", {"task_id": "CUST-WP-0054-T05"}, "/tasks/CUST-WP-0054-T05", {}),
    ("list_blocked_tasks", {}, "/tasks/", {"status": "wait"}),
    ("get_next_steps", {}, "/tasks/", {"ready": "true"}),
    (
        "get_next_steps",
        {"repo": "the-custodian", "limit": 2},
        "/tasks/",
        {"ready": "true", "repo": "the-custodian", "limit": 2},
    ),
    ("get_recent_progress", {"limit": 5}, "/progress/", {"limit": 5}),
    (
        "get_recent_progress",
        {"task_id": "CUST-WP-0054-T05"},
        "/progress/",
        {"task_id": "CUST-WP-0054-T05", "limit": 20},
    ),
    ("search", {"q": "tunnel"}, "/search", {"q": "tunnel"}),
    ("list_human_interventions", {}, "/tasks/", {"needs_human": "true"}),
    ("get_messages", {"to_agent": "reviewer"}, "/messages/", {"to_agent": "reviewer"}),
    ("relay_status", {}, "/relay", {}),
]


def _rest(daemon: RunningDaemon, method: str, path: str, **kwargs: Any) -> Any:
    response = daemon.request(method, path, **kwargs)
    assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
    return response


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_every_tool_returns_the_rest_json(daemon: RunningDaemon, transport: str) -> None:
    covered: set[str] = set()

    async def scenario() -> None:
        async with connect(daemon, transport) as client:
            listed = await client.list_tools()
            assert {tool.name for tool in listed.tools} == SPEC_TOOLS
            assert "orient" in (client.instructions or "") and "first" in (client.instructions or "")

            for index, (tool, arguments, method, path, body) in enumerate(WRITES):
                key = f"{transport}-write-{index}"
                written = payload(await client.call_tool(tool, {**arguments, "idempotency_key": key}))
                replay = _rest(daemon, method, path, json=body, headers={"Idempotency-Key": key})
                assert replay.headers.get("idempotent-replayed") == "true", f"{tool}: REST body differs from MCP's"
                assert replay.json() == written, tool
                covered.add(tool)

            message_id = daemon.get("/messages/", params={"to_agent": "reviewer"}).json()[0]["id"]
            key = f"{transport}-read-mark"
            marked = payload(
                await client.call_tool("mark_message_read", {"message_id": message_id, "idempotency_key": key})
            )
            replay = _rest(daemon, "PATCH", f"/messages/{message_id}/read", json={}, headers={"Idempotency-Key": key})
            assert replay.json() == marked and marked["read"] is True
            covered.add("mark_message_read")

            for tool, arguments, path, query in READS:
                answered = payload(await client.call_tool(tool, arguments))
                assert answered == _rest(daemon, "GET", path, params=query).json(), f"{tool} {arguments}"
                covered.add(tool)

            # The lists the writes fed are really exercised, not compared empty.
            blocked = payload(await client.call_tool("list_blocked_tasks", {}))
            assert {"CUST-WP-0054-T06": "needs T05"}.items() <= {t["id"]: t["blocking_reason"] for t in blocked}.items()
            flagged = payload(await client.call_tool("list_human_interventions", {}))
            assert "CUST-WP-0054-T07" in [t["id"] for t in flagged]
            assert "CUST-WP-0054-T08" not in [t["id"] for t in flagged]

            for repo in (None, "ops-bridge"):
                checked = payload(await client.call_tool("check_repo_consistency", {"repo": repo} if repo else {}))
                cli = daemon.cli("check", "--json", *(["--repo", repo] if repo else []))
                assert checked == json.loads(cli.stdout) and checked["exit_code"] == cli.returncode
                assert checked["findings"], "the fixture workspace has unlinked tasks and non-canonical words"
            covered.add("check_repo_consistency")

    run(scenario())
    # register_repo: test_register_repo.py; the create tools: tests/create/test_create_mcp.py (their own daemon,
    # so the ids they add do not shift this module's shared fixture).
    assert covered == SPEC_TOOLS - {"register_repo", *CREATE_TOOLS}
