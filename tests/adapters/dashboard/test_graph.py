"""The server-side dependency graph: edges from depends_on and sequencing, layered layout, escaped SVG."""

from __future__ import annotations

import re
from typing import Any

from devhub.adapters.dashboard.graph import Edge, dependency_edges, dependency_svg, layout, short_id


def _task(ident: str, *depends_on: str, status: str = "todo", title: str = "") -> dict[str, Any]:
    return {"id": ident, "depends_on": list(depends_on), "status": status, "title": title or ident}


def _href(task: dict[str, Any]) -> str:
    return f"/ui/tasks/{task['id']}"


def test_edges_come_from_depends_on_and_sequencing_within_the_workplan() -> None:
    tasks = [_task("W-T01"), _task("W-T02", "W-T01", "OTHER-T09"), _task("W-T03")]
    refs = [
        {"source_id": "W-T03", "target_id": "W-T01", "kind": "sequencing"},
        {"source_id": "W-T02", "target_id": "W-T01", "kind": "sequencing"},
        {"source_id": "W-T03", "target_id": "W-T02", "kind": "mention"},
        {"source_id": "W-T03", "target_id": "ELSEWHERE-T01", "kind": "sequencing"},
    ]
    assert dependency_edges(tasks, refs) == [
        Edge("W-T01", "W-T02", ("depends_on", "sequencing")),
        Edge("W-T01", "W-T03", ("sequencing",)),
    ]


def test_layers_follow_the_longest_prerequisite_chain() -> None:
    ids = ["A", "B", "C", "D"]
    edges = [Edge("A", "B", ("depends_on",)), Edge("B", "C", ("depends_on",)), Edge("A", "C", ("depends_on",))]
    placed = {p.task_id: (p.layer, p.row) for p in layout(ids, edges)}
    assert placed == {"A": (0, 0), "D": (0, 1), "B": (1, 0), "C": (2, 0)}


def test_a_cycle_is_drawn_without_looping_forever() -> None:
    ids = ["A", "B", "C"]
    edges = [Edge("A", "B", ("depends_on",)), Edge("B", "C", ("depends_on",)), Edge("C", "A", ("depends_on",))]
    placed = layout(ids, edges)
    assert sorted(p.task_id for p in placed) == ids
    svg = dependency_svg("W", [_task(i) for i in ids], [], _href)
    assert svg.count("data-edge=") == 0  # these tasks carry no depends_on: edges only come from the data
    cyclic = [_task("A", "C"), _task("B", "A"), _task("C", "B")]
    svg = dependency_svg("W", cyclic, [], _href)
    assert svg.count("data-task-id=") == 3 and svg.count("data-edge=") == 3


def test_svg_has_one_linked_node_per_task_and_escapes_every_text() -> None:
    tasks = [
        _task("W-T01", status="done", title="<script>alert(1)</script>"),
        _task("W-T02", "W-T01", title='quote " and & amp'),
    ]
    svg = dependency_svg("W", tasks, [], _href)
    assert re.findall(r'data-task-id="([^"]+)"', svg) == ["W-T01", "W-T02"]
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "quote &quot; and &amp; amp" in svg
    assert 'href="/ui/tasks/W-T01"' in svg and "status-done" in svg
    assert 'data-edge="W-T01 W-T02"' in svg


def test_empty_workplan_draws_an_empty_graph() -> None:
    svg = dependency_svg("W", [], [], _href)
    assert svg.startswith("<svg") and "data-task-id" not in svg


def test_short_ids_drop_their_own_workplan_prefix_only() -> None:
    assert short_id("CUST-WP-0054-T01", "CUST-WP-0054") == "T01"
    assert short_id("CUST-WP-0011-T08", "CUST-WP-0054") == "CUST-WP-0011-T08"
