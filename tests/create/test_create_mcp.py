"""The create tools through the official MCP SDK client: the REST answer, the real argument names, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon

# (tool, arguments, REST path, the body the REST client sends): the tool writes with an Idempotency-Key,
# REST replays it with the same key; the hub answers the replay only when the bodies hash the same.
CASES: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    (
        "create_task",
        {"workstream_id": "CUST-WP-0011", "title": "Via MCP", "priority": "critical", "assignee": "codex"},
        "/tasks/",
        {"workstream_id": "CUST-WP-0011", "title": "Via MCP", "priority": "critical", "assignee": "codex"},
    ),
    (
        "create_task",
        {"workplan_id": "CUST-WP-0011", "title": "Default priority"},
        "/tasks/",
        {"workplan_id": "CUST-WP-0011", "title": "Default priority", "priority": "medium"},
    ),
    (
        "create_workplan",
        {"repo_id": "ops-bridge", "title": "Via MCP plan", "planning_order": 3, "planning_priority": "high"},
        "/workplans/",
        {"repo_id": "ops-bridge", "title": "Via MCP plan", "planning_order": 3, "planning_priority": "high"},
    ),
    (
        "create_workstream",
        {"topic_id": "ops-bridge", "title": "Via the legacy name", "slug": "legacy-name"},
        "/workstreams/",
        {"topic_id": "ops-bridge", "title": "Via the legacy name", "slug": "legacy-name"},
    ),
]


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_create_tools_answer_what_rest_answers(daemon: RunningDaemon, transport: str) -> None:
    async def scenario() -> list[tuple[Any, str, dict[str, Any], str]]:
        made = []
        async with connect(daemon, transport) as client:
            for index, (tool, arguments, path, body) in enumerate(CASES):
                key = f"create-{transport}-{index}"
                answer = payload(await client.call_tool(tool, {**arguments, "idempotency_key": key}))
                made.append((answer, path, body, key))
        return made

    for answer, path, body, key in run(scenario()):
        replay = daemon.request("POST", path, json=body, headers={"Idempotency-Key": key})
        assert replay.status_code == 201, replay.text
        assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == answer
        assert daemon.get(f"/{'tasks' if path == '/tasks/' else 'workplans'}/{answer['id']}").status_code == 200


def test_create_tool_errors_name_the_field(daemon: RunningDaemon) -> None:
    async def scenario() -> tuple[str, str]:
        async with connect(daemon, "http") as client:
            no_parent = error_text(await client.call_tool("create_task", {"title": "orphan"}))
            ambiguous = error_text(await client.call_tool("create_workplan", {"title": "x", "topic_id": "nowhere"}))
        return no_parent, ambiguous

    no_parent, no_repo = run(scenario())
    assert "workstream_id" in no_parent and "422" in no_parent
    assert "repo_id" in no_repo
