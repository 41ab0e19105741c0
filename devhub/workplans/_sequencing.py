"""Best-effort reading of a `## Sequencing` box-drawing tree into (later task, earlier task) edges.

A node is a task id at the start of a line or right after a connector. Its parent is found by
following the connector: `┬` hangs it under the node to its left, `├`/`└` climb their column
to the node (or `┬`) above, and a `┐ … ┘` bracket joins every node that feeds into it.
"""

from __future__ import annotations

from dataclasses import dataclass

from devhub.workplans._ids import TREE_NODE

_HORIZONTAL = frozenset("─━═-→>⇒⟶")
_VERTICAL = frozenset("│┃║|")
_BRANCH = frozenset("├└┣┗╠╚╰+`\\")
_SPLIT = frozenset("┬┳╦┌┏╔╭")
_JOIN_TOP = frozenset("┐┓╗╮")
_JOIN_END = frozenset("┘┛╝╯")
_JOIN_FROM_LEFT = _JOIN_END | frozenset("┤┫╣┼")
_BOX = _HORIZONTAL | _VERTICAL | _BRANCH | _SPLIT | _JOIN_TOP | _JOIN_FROM_LEFT


@dataclass(frozen=True, slots=True)
class _Node:
    name: str
    start: int
    end: int
    connector: int  # column of the last connector character before the name, -1 for a line start


class _Grid:
    def __init__(self, rows: list[str]) -> None:
        self.rows = rows
        self.nodes: list[list[_Node]] = [_nodes_of(row) for row in rows]
        self.climbed: dict[tuple[int, int], list[str]] = {}

    def char(self, row: int, col: int) -> str:
        line = self.rows[row]
        return line[col] if 0 <= col < len(line) else " "

    def nearest_left(self, row: int, col: int) -> _Node | None:
        left = [node for node in self.nodes[row] if node.end <= col]
        return left[-1] if left else None


def _nodes_of(row: str) -> list[_Node]:
    nodes = []
    for match in TREE_NODE.finditer(row):
        prefix = row[: match.start()].rstrip()
        if not prefix:
            nodes.append(_Node(match.group(0), match.start(), match.end(), -1))
        elif prefix[-1] in _BOX:
            nodes.append(_Node(match.group(0), match.start(), match.end(), len(prefix) - 1))
    return nodes


def sequencing_edges(rows: list[tuple[int, str]]) -> list[tuple[str, str, int]]:
    """(child id, parent id, file line) edges of a tree given as (file line, text) rows, in order."""
    grid = _Grid([text.expandtabs(4) for _, text in rows])
    edges: dict[tuple[str, str], int] = {}
    for row_index, nodes in enumerate(grid.nodes):
        for node in nodes:
            if node.connector < 0:
                continue
            for parent in _parents(grid, row_index, node):
                if parent != node.name:
                    edges.setdefault((node.name, parent), rows[row_index][0])
    return [(child, parent, line) for (child, parent), line in edges.items()]


def _parents(grid: _Grid, row: int, node: _Node) -> list[str]:
    col = node.connector
    while col >= 0 and grid.char(row, col) in _HORIZONTAL:
        col -= 1
    head = grid.char(row, col) if col >= 0 else " "
    if head in _SPLIT:
        left = grid.nearest_left(row, col)
        if left is not None:
            return [left.name]
    if head in _BRANCH or head in _VERTICAL or head in _JOIN_FROM_LEFT or head in _SPLIT:
        return _climb(grid, row - 1, col)
    left = grid.nearest_left(row, node.start)
    return [left.name] if left is not None else []


def _climb(grid: _Grid, row: int, col: int) -> list[str]:
    """Follow a vertical line up from (row, col) to whatever it hangs from."""
    passed: list[int] = []  # rows climbed through share the answer (keeps tall trees linear)
    result: list[str] = []
    while row >= 0:
        cached = grid.climbed.get((row, col))
        if cached is not None:
            result = cached
            break
        ch = grid.char(row, col)
        if ch in _VERTICAL or ch in _BRANCH or ch in _JOIN_FROM_LEFT - _JOIN_END:
            passed.append(row)
            row -= 1
            continue
        if ch in _SPLIT:
            left = grid.nearest_left(row, col)
            result = [left.name] if left is not None else []
        elif ch in _JOIN_TOP:
            result = _feeders(grid, row, col)
        elif grid.nodes[row]:
            under = [node for node in grid.nodes[row] if node.start <= col + 2]
            result = [(under[-1] if under else grid.nodes[row][0]).name]
        elif ch == " ":
            passed.append(row)
            row -= 1
            continue
        break
    for climbed in passed:
        grid.climbed[(climbed, col)] = result
    return result


def _feeders(grid: _Grid, top: int, col: int) -> list[str]:
    """Every node that runs into the bracket opened by the corner at (top, col)."""
    found = []
    first = grid.nearest_left(top, col)
    if first is not None:
        found.append(first.name)
    row = top + 1
    while row < len(grid.rows):
        ch = grid.char(row, col)
        if ch in _JOIN_FROM_LEFT and grid.char(row, col - 1) in _HORIZONTAL:
            feeder = grid.nearest_left(row, col)
            if feeder is not None:
                found.append(feeder.name)
        if ch in _JOIN_END or not (ch in _VERTICAL or ch in _BRANCH or ch in _JOIN_FROM_LEFT):
            break
        row += 1
    return found
