"""A workplan's task dependency graph as inline SVG, laid out in layers in pure Python (no Graphviz).

Layer n holds the tasks whose longest chain of prerequisites has n links; edges run
from a prerequisite (left) to the task that waits on it (right).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

NODE_WIDTH = 176
NODE_HEIGHT = 46
GAP_X = 56
GAP_Y = 18
PAD = 12
TITLE_CHARS = 22


@dataclass(frozen=True)
class Edge:
    """`before` has to settle before `after` can start; `kinds` says which lines in the file said so."""

    before: str
    after: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Placed:
    task_id: str
    layer: int
    row: int


def dependency_edges(tasks: Sequence[Mapping[str, Any]], references: Iterable[Mapping[str, Any]]) -> list[Edge]:
    """Edges between tasks of this workplan from `depends_on` fields and `## Sequencing` references."""
    ids = {task["id"] for task in tasks}
    kinds: dict[tuple[str, str], set[str]] = {}
    for task in tasks:
        for dependency in task.get("depends_on") or []:
            if dependency in ids and dependency != task["id"]:
                kinds.setdefault((dependency, task["id"]), set()).add("depends_on")
    for ref in references:
        # A sequencing reference reads "source comes after target".
        before, after = ref["target_id"], ref["source_id"]
        if ref.get("kind") == "sequencing" and before in ids and after in ids and before != after:
            kinds.setdefault((before, after), set()).add("sequencing")
    order = {task["id"]: index for index, task in enumerate(tasks)}
    return [
        Edge(before, after, tuple(sorted(found)))
        for (before, after), found in sorted(kinds.items(), key=lambda item: (order[item[0][1]], order[item[0][0]]))
    ]


def layout(task_ids: Sequence[str], edges: Sequence[Edge]) -> list[Placed]:
    """Each task's layer (longest prerequisite chain; cycles broken) and row (barycentre of its prerequisites)."""
    before_of: dict[str, list[str]] = {task_id: [] for task_id in task_ids}
    for edge in edges:
        before_of[edge.after].append(edge.before)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(task_id: str) -> int:
        if task_id in layer:
            return layer[task_id]
        visiting.add(task_id)
        deepest = -1
        for before in before_of[task_id]:
            if before not in visiting:  # an edge closing a cycle does not push the task right
                deepest = max(deepest, depth(before))
        visiting.discard(task_id)
        layer[task_id] = deepest + 1
        return layer[task_id]

    for task_id in task_ids:
        depth(task_id)
    file_order = {task_id: index for index, task_id in enumerate(task_ids)}
    row_of: dict[str, float] = {}
    placed: list[Placed] = []
    for current in range(max(layer.values(), default=-1) + 1):
        members = [task_id for task_id in task_ids if layer[task_id] == current]

        def barycentre(task_id: str) -> tuple[float, int]:
            rows = [row_of[b] for b in before_of[task_id] if b in row_of]
            return (sum(rows) / len(rows) if rows else float(file_order[task_id]), file_order[task_id])

        for row, task_id in enumerate(sorted(members, key=barycentre)):
            row_of[task_id] = row
            placed.append(Placed(task_id, current, row))
    return placed


def short_id(task_id: str, workplan_id: str) -> str:
    """`CUST-WP-0054-T01` inside CUST-WP-0054 reads as `T01`."""
    prefix = workplan_id + "-"
    return task_id[len(prefix) :] if task_id.startswith(prefix) else task_id


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _position(place: Placed) -> tuple[int, int]:
    return PAD + place.layer * (NODE_WIDTH + GAP_X), PAD + place.row * (NODE_HEIGHT + GAP_Y)


def dependency_svg(
    workplan_id: str,
    tasks: Sequence[Mapping[str, Any]],
    references: Iterable[Mapping[str, Any]],
    task_href: Any,
) -> str:
    """The graph as an `<svg>` string: one `data-task-id` link per task, one `data-edge` path per edge.

    `task_href(task)` gives each node's link. Every text is escaped here.
    """
    edges = dependency_edges(tasks, references)
    places = layout([task["id"] for task in tasks], edges)
    by_id = {task["id"]: task for task in tasks}
    where = {place.task_id: _position(place) for place in places}
    width = max((x + NODE_WIDTH for x, _ in where.values()), default=0) + PAD
    height = max((y + NODE_HEIGHT for _, y in where.values()), default=0) + PAD
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" role="group" aria-label="Dependency graph of {escape(workplan_id)}:'
        f' {len(tasks)} tasks, {len(edges)} dependencies">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7"'
        ' orient="auto-start-reverse"><path class="arrow-head" d="M0,0 L10,5 L0,10 z"/></marker></defs>',
    ]
    for edge in edges:
        x1, y1 = where[edge.before]
        x2, y2 = where[edge.after]
        start_x, start_y = x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2
        end_x, end_y = x2, y2 + NODE_HEIGHT // 2
        bend = max(24, (end_x - start_x) // 2)
        parts.append(
            f'<path class="edge {" ".join(edge.kinds)}" data-edge="{escape(edge.before)} {escape(edge.after)}"'
            f' d="M{start_x},{start_y} C{start_x + bend},{start_y} {end_x - bend},{end_y} {end_x},{end_y}"'
            ' marker-end="url(#arrow)"/>'
        )
    for place in places:
        task = by_id[place.task_id]
        x, y = where[place.task_id]
        label = short_id(task["id"], workplan_id)
        status = str(task.get("status") or "unknown")
        title = str(task.get("title") or "")
        parts.append(
            f'<a class="node status-{escape(status)}" href="{escape(task_href(task))}"'
            f' data-task-id="{escape(task["id"])}" aria-label="{escape(label)} {escape(title)} ({escape(status)})">'
            f"<title>{escape(task['id'])}: {escape(title)} — {escape(status)}</title>"
            f'<rect x="{x}" y="{y}" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6"/>'
            f'<text x="{x + 8}" y="{y + 18}" class="node-id">{escape(label)} · {escape(status)}</text>'
            f'<text x="{x + 8}" y="{y + 36}" class="node-title">{escape(_clip(title, TITLE_CHARS))}</text></a>'
        )
    parts.append("</svg>")
    return "".join(parts)
