"""The shapes of workplan and task ids: recognising, qualifying, and finding them in text."""

from __future__ import annotations

import re

WORKPLAN_ID = re.compile(r"^(?:[A-Z][A-Z0-9]*-)+WP-\d+$|^ADHOC-\d{4}-\d{2}-\d{2}$")
_FILENAME_ID = re.compile(r"^((?:[A-Z][A-Z0-9]*-)+WP-\d+|ADHOC-\d{4}-\d{2}-\d{2})(?:[-_.].*)?\.md$")
# A task id is qualified when it starts with some workplan id followed by a dash.
_QUALIFIED_TASK = re.compile(r"^((?:[A-Z][A-Z0-9]*-)+WP-\d+|ADHOC-\d{4}-\d{2}-\d{2})-.+$")

SHORT_TASK = r"(?:T\d+[A-Za-z]?|P\d+(?:\.\d+)+)"
_WP_OR_ADHOC = r"(?:(?:[A-Z][A-Z0-9]*-)+WP-\d+|ADHOC-\d{4}-\d{2}-\d{2})"
# An id in running text: a workplan id, optionally a task suffix, optionally `/T09` siblings.
MENTION = re.compile(
    rf"(?<![A-Za-z0-9-])({_WP_OR_ADHOC})(?![0-9])"
    rf"(?:-({SHORT_TASK})(?![A-Za-z0-9])((?:/{SHORT_TASK}(?![A-Za-z0-9]))*))?"
)
# A node of a sequencing tree: a short or qualified task id.
TREE_NODE = re.compile(rf"(?<![A-Za-z0-9-])(?:{_WP_OR_ADHOC}-)?{SHORT_TASK}(?![A-Za-z0-9])")


def filename_workplan_id(path: str) -> str | None:
    """The workplan id a file name announces (`CUST-WP-0054-x.md`, `ADHOC-2026-07-04.md`), if any."""
    match = _FILENAME_ID.match(path.rsplit("/", 1)[-1])
    return match.group(1) if match else None


def task_workplan_part(task_id: str) -> str | None:
    """The workplan id a qualified task id starts with, or None for a short id."""
    match = _QUALIFIED_TASK.match(task_id)
    return match.group(1) if match else None


def qualify(task_id: str, workplan_id: str) -> str:
    """`T01` -> `<WP>-T01`; an id that already names a workplan is returned unchanged."""
    if task_id.startswith(workplan_id + "-") or _QUALIFIED_TASK.match(task_id):
        return task_id
    return f"{workplan_id}-{task_id}"


def mentions_in(line: str) -> list[str]:
    """Every workplan or task id in a line of text, `X-T08/T09` counted as both tasks, in order."""
    if "-WP-" not in line and "ADHOC-" not in line:
        return []
    found: list[str] = []
    for match in MENTION.finditer(line):
        workplan, task, siblings = match.group(1), match.group(2), match.group(3)
        if not task:
            found.append(workplan)
            continue
        found.append(f"{workplan}-{task}")
        if siblings:
            found.extend(f"{workplan}-{sibling}" for sibling in siblings.split("/")[1:])
    return found
