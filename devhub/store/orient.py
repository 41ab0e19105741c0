"""The two one-call overviews: the state summary and the session-start orientation."""

from __future__ import annotations

from typing import Any

from devhub.model import TASK_STATUSES, WORKPLAN_STATUSES
from devhub.store import activity
from devhub.store.queries import list_tasks, list_workplans
from devhub.store.reader import Reader

OPEN_WORKPLAN_STATUSES = ("active", "ready", "blocked")


def compact_task(task: dict[str, Any]) -> dict[str, Any]:
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
    ready = await list_tasks(reader, ready=True)
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
            "ready": len(ready),
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


async def orient(reader: Reader, *, repo: str | None = None, domain: str | None = None) -> dict[str, Any]:
    """Everything an agent needs at session start, scoped to a repo and/or domain."""
    workplans = [
        w
        for status in OPEN_WORKPLAN_STATUSES
        for w in await list_workplans(reader, status=status, repo=repo, domain=domain)
    ]
    in_scope = {w["id"] for w in await list_workplans(reader, repo=repo, domain=domain)}

    def scoped(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [compact_task(t) for t in tasks if t["workplan_id"] in in_scope]

    in_progress = scoped(await list_tasks(reader, status="progress", repo=repo))
    ready = scoped(await list_tasks(reader, ready=True, repo=repo))
    needs_human = scoped(await list_tasks(reader, needs_human=True, repo=repo))
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
        "in_progress": in_progress,
        "ready": ready,
        "needs_human": needs_human,
        "recent_progress": recent,
        "conflicts": conflicts,
        "problems": {
            "errors": sum(1 for p in problems if p["severity"] == "error"),
            "warnings": sum(1 for p in problems if p["severity"] == "warning"),
            "items": problems[:20],
        },
    }
