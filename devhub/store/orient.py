"""The two one-call overviews: the state summary and the session-start orientation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devhub.model import TASK_STATUSES, WORKPLAN_STATUSES
from devhub.store import activity
from devhub.store.queries import count_tasks, list_tasks, list_workplans
from devhub.store.reader import Reader

OPEN_WORKPLAN_STATUSES = ("active", "ready", "blocked")


def compact_task(task: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "title",
        "status",
        "priority",
        "workplan_id",
        "repo",
        "state_hub_task_id",
        "assignee",
        "needs_human",
        "intervention_note",
    )
    return {k: task[k] for k in keys}


async def summary(reader: Reader) -> dict[str, Any]:
    """Counts by status, the active workplans, problems and conflicts (the relay is added by callers)."""
    wp_counts = {s: 0 for s in WORKPLAN_STATUSES}
    for row in await reader.all("SELECT status, COUNT(*) AS n FROM workplans GROUP BY status"):
        wp_counts[row["status"] or "unknown"] = row["n"]
    task_counts = {s: 0 for s in TASK_STATUSES}
    for row in await reader.all("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status"):
        task_counts[row["status"] or "unknown"] = row["n"]
    ready = await count_tasks(reader, ready=True)
    problems = await activity.list_problems(reader)
    conflicts = await activity.list_conflicts(reader)
    needs_human = await reader.one("SELECT COUNT(*) AS n FROM tasks WHERE needs_human = 1")
    repos = await reader.one("SELECT COUNT(*) AS n FROM repos")
    active = await list_workplans(reader, status="active")
    return {
        "repos": repos["n"] if repos else 0,
        "workplans": {"total": sum(wp_counts.values()), "by_status": wp_counts},
        "tasks": {
            "total": sum(task_counts.values()),
            "by_status": task_counts,
            "ready": ready,
            "needs_human": needs_human["n"] if needs_human else 0,
        },
        "active_workplans": [
            {
                "id": w["id"],
                "title": w["title"],
                "repo": w["repo"],
                "tasks_done": w["tasks_done"],
                "tasks_total": w["tasks_total"],
            }
            for w in active
        ],
        "problems": {
            "errors": sum(1 for p in problems if p["severity"] == "error"),
            "warnings": sum(1 for p in problems if p["severity"] == "warning"),
        },
        "conflicts": len(conflicts),
    }


ORIENT_LIST_LIMIT = 50  # per list; the totals say how many there are in all


async def orient(reader: Reader, *, repo: str | None = None, domain: str | None = None) -> dict[str, Any]:
    """Everything an agent needs at session start, scoped to a repo and/or domain (lists capped, totals given)."""
    scope = {"repo": repo, "domain": domain}
    workplans = await list_workplans(reader, statuses=OPEN_WORKPLAN_STATUSES, limit=ORIENT_LIST_LIMIT, **scope)
    workplans_total = len(workplans)
    if workplans_total == ORIENT_LIST_LIMIT:
        row = await reader.one(
            "SELECT COUNT(*) AS n FROM workplans w WHERE w.status IN (?, ?, ?)"
            + "".join(f" AND w.{k} = ?" for k, v in scope.items() if v is not None),
            [*OPEN_WORKPLAN_STATUSES, *(v for v in scope.values() if v is not None)],
        )
        workplans_total = int(row["n"]) if row else workplans_total
    lists: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, int] = {}
    task_lists: tuple[tuple[str, dict[str, Any]], ...] = (
        ("in_progress", {"status": "progress"}),
        ("ready", {"ready": True}),
        ("needs_human", {"needs_human": True}),
    )
    for name, filters in task_lists:
        scoped: dict[str, Any] = {"repo": repo, "domain": domain, **filters}
        lists[name] = [compact_task(t) for t in await list_tasks(reader, limit=ORIENT_LIST_LIMIT, **scoped)]
        totals[name] = len(lists[name])
        if totals[name] == ORIENT_LIST_LIMIT:
            totals[name] = await count_tasks(reader, **scoped)
    recent = await activity.list_progress(reader, limit=10)
    problems = await activity.list_problems(reader, repo=repo)
    conflicts = [c for c in await activity.list_conflicts(reader) if repo is None or c["repo"] == repo]
    return {
        "scope": {"repo": repo, "domain": domain},
        "active_workplans": [
            {
                "id": w["id"],
                "title": w["title"],
                "status": w["status"],
                "repo": w["repo"],
                "domain": w["domain"],
                "tasks_done": w["tasks_done"],
                "tasks_total": w["tasks_total"],
                "state_hub_workstream_id": w["state_hub_workstream_id"],
            }
            for w in workplans
        ],
        **lists,
        "totals": {"active_workplans": workplans_total, **totals},
        "recent_progress": recent,
        "conflicts": conflicts,
        "problems": {
            "errors": sum(1 for p in problems if p["severity"] == "error"),
            "warnings": sum(1 for p in problems if p["severity"] == "warning"),
            "items": problems[:20],
        },
    }
