"""The time tools (devhub extensions) answer what their REST routes answer, and refuse what they refuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhub.adapters.mcp.tools_time import TIME_READ_TOOLS
from tests.adapters.mcp.helpers import connect, payload, run, text_of
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

PLAN = "OPS-WP-0012"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    """Its own daemon: the writes below must not shift the shared daemon's lists."""
    root: Path = tmp_path_factory.mktemp("time-tools")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        for method, path, body in (
            ("PATCH", f"/tasks/{PLAN}-T03", {"status": "progress"}),
            ("PATCH", f"/tasks/{PLAN}-T03", {"status": "done"}),
            ("POST", "/progress", {"summary": "tunnel up", "task_id": f"{PLAN}-T03"}),
            ("POST", "/progress", {"summary": "mesh compared", "workplan_id": "OPS-WP-0014"}),
        ):
            answer = running.request(method, path, json=body)
            assert answer.status_code in (200, 201), answer.text
        yield running
    finally:
        running.stop()


# (tool, arguments, REST path, query)
READS: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = [
    ("get_activity", {}, "/state/activity", {}),
    ("get_activity", {"days": 7, "by": "domain"}, "/state/activity", {"days": 7, "by": "domain"}),
    ("get_workplan_history", {"workplan_id": PLAN}, f"/workplans/{PLAN}/history", {}),
    ("get_workplan_history", {"workplan_id": PLAN, "repo": "ops-bridge"}, f"/workplans/{PLAN}/history",
     {"repo": "ops-bridge"}),
    ("get_relay_history", {}, "/relay/history", {}),
    ("get_relay_history", {"hours": 1}, "/relay/history", {"hours": 1}),
]


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_the_time_tools_answer_what_their_routes_answer(daemon: RunningDaemon, transport: str) -> None:
    async def scenario() -> None:
        async with connect(daemon, transport) as client:
            listed = {tool.name: tool for tool in (await client.list_tools()).tools}
            for name in TIME_READ_TOOLS:
                annotations = listed[name].annotations
                assert annotations is not None and annotations.read_only_hint is True, name
            for tool, arguments, path, query in READS:
                # A relay sample may land between the two calls (one a minute): then ask both again.
                for _ in range(3):
                    answered = payload(await client.call_tool(tool, arguments))
                    rest = daemon.get(path, params=query)
                    assert rest.status_code == 200, rest.text
                    if answered == rest.json():
                        break
                else:
                    raise AssertionError(f"{tool} {arguments}: {answered} != {rest.json()}")
            activity = payload(await client.call_tool("get_activity", {"by": "workplan"}))
            assert {PLAN, "OPS-WP-0014"} <= {b["group"] for b in activity["buckets"]}, "the comparisons are not empty"
            history = payload(await client.call_tool("get_workplan_history", {"workplan_id": PLAN}))
            assert [p["status"] for p in history["points"]][-2:] == ["progress", "done"]
            assert payload(await client.call_tool("get_relay_history", {}))["samples"], "the hub sampled at start"

    run(scenario())


@pytest.mark.parametrize(
    ("tool", "arguments", "path", "query", "named"),
    [
        ("get_activity", {"days": 0}, "/state/activity", {"days": 0}, "days"),
        ("get_relay_history", {"hours": 25}, "/relay/history", {"hours": 25}, "hours"),
        ("get_workplan_history", {"workplan_id": "NOPE-WP-0001"}, "/workplans/NOPE-WP-0001/history", {}, "NOPE"),
    ],
)
def test_the_time_tools_refuse_what_their_routes_refuse(
    daemon: RunningDaemon, tool: str, arguments: dict[str, Any], path: str, query: dict[str, Any], named: str
) -> None:
    rest = daemon.get(path, params=query)
    assert rest.status_code in (400, 404), rest.text

    async def scenario() -> None:
        async with connect(daemon, "http") as client:
            refused = await client.call_tool(tool, arguments)
            assert refused.is_error and named in text_of(refused)
            assert str(rest.status_code) in text_of(refused), "the tool error carries the route's status"

    run(scenario())
