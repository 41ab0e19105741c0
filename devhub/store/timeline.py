"""Time, from what the read model holds: activity per day, and a workplan's done/total after each status write.

The read model keeps two dated streams: progress events (`progress.created_at`) and every
local status write (`local_writes.ts`, the journal envelope's time). Status changes made by
editing a file and committing it are not dated anywhere the hub reads, so they are not counted
here (reading `git log` for them was left out on purpose: it is slow on big repos and says when a
commit was made, not when the work happened). Days are UTC calendar days.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from devhub.store.queries import resolve_workplan_row
from devhub.store.reader import Reader

ACTIVITY_GROUPINGS = ("workplan", "domain")
NO_GROUP = "(none)"


def day_range(days: int, today: date) -> list[str]:
    """The last `days` UTC days, oldest first, ending with `today`."""
    return [(today - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


async def _domains(reader: Reader, workplan_ids: Iterable[str]) -> dict[str, str]:
    """Each workplan id's domain (the first repo's, when an id lives in several)."""
    ids = sorted(set(workplan_ids))
    if not ids:
        return {}
    marks = ",".join("?" for _ in ids)
    rows = await reader.all(
        f"SELECT id, domain FROM workplans WHERE id IN ({marks}) ORDER BY repo", ids
    )
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(row["id"], row["domain"] or NO_GROUP)
    return found


async def _task_workplans(reader: Reader, targets: Iterable[str]) -> dict[str, str]:
    """`task:<repo>:<id>` overlay keys -> the workplan id of that task (tasks no longer in a file are left out)."""
    wanted: dict[str, tuple[str, str]] = {}
    for target in set(targets):
        kind, _, rest = target.partition(":")
        repo, _, task_id = rest.rpartition(":")
        if kind == "task" and repo and task_id:
            wanted[target] = (repo, task_id)
    if not wanted:
        return {}
    ids = sorted({task_id for _, task_id in wanted.values()})
    marks = ",".join("?" for _ in ids)
    rows = await reader.all(f"SELECT id, repo, workplan_id FROM tasks WHERE id IN ({marks})", ids)
    by_pair = {(row["repo"], row["id"]): row["workplan_id"] for row in rows}
    return {target: by_pair[pair] for target, pair in wanted.items() if pair in by_pair}


async def activity(reader: Reader, *, days: int, by: str, today: date) -> dict[str, Any]:
    """Progress events and status writes per UTC day and per workplan (or domain), over the last `days` days.

    `buckets` holds one entry per (day, group) that saw anything, so a chart draws one mark per entry.
    """
    dates = day_range(days, today)
    first, last = dates[0], dates[-1]
    # Both timestamps are stamped by this hub, in UTC (`2026-12-01T10:00:00.000Z`: progress `created_at` by
    # the write path, `ts` by the journal), so their first ten characters are the UTC day SQLite counts by.
    since, until = first, (date.fromisoformat(last) + timedelta(days=1)).isoformat()
    progress_rows = await reader.all(
        "SELECT substr(created_at, 1, 10) AS day, workplan_id, COUNT(*) AS n FROM progress"
        " WHERE created_at >= ? AND created_at < ? GROUP BY day, workplan_id",
        (since, until),
    )
    status_rows = await reader.all(
        "SELECT substr(ts, 1, 10) AS day, target, target_key, COUNT(*) AS n FROM local_writes"
        " WHERE field = 'status' AND ts >= ? AND ts < ? GROUP BY day, target_key",
        (since, until),
    )
    task_plans = await _task_workplans(reader, (row["target_key"] for row in status_rows if row["target"] == "task"))
    events: Counter[tuple[str, str | None, str]] = Counter()  # (day, workplan id, kind) -> count
    for row in progress_rows:
        events[(row["day"], row["workplan_id"], "progress_events")] += row["n"]
    for row in status_rows:
        # A task's write counts for its workplan; a workplan's own status write is `workplan:<repo>:<id>`.
        is_task = row["target"] == "task"
        plan = task_plans.get(row["target_key"]) if is_task else row["target_key"].rpartition(":")[2]
        events[(row["day"], plan, "status_changes")] += row["n"]
    domains = await _domains(reader, (plan for _, plan, _ in events if plan)) if by == "domain" else {}

    def group_of(plan: str | None) -> str:
        if not plan:
            return NO_GROUP
        return domains.get(plan, NO_GROUP) if by == "domain" else plan

    counts: Counter[tuple[str, str, str]] = Counter()
    for (day, plan, kind), n in events.items():
        counts[(day, group_of(plan), kind)] += n
    cells = sorted({(day, group) for day, group, _ in counts})
    buckets: list[dict[str, Any]] = [
        {
            "day": day,
            "group": group,
            "progress_events": counts[(day, group, "progress_events")],
            "status_changes": counts[(day, group, "status_changes")],
        }
        for day, group in cells
    ]
    totals = {
        "progress_events": sum(b["progress_events"] for b in buckets),
        "status_changes": sum(b["status_changes"] for b in buckets),
    }
    groups = sorted({b["group"] for b in buckets}, key=lambda g: (-sum(
        b["progress_events"] + b["status_changes"] for b in buckets if b["group"] == g), g))
    return {"days": days, "by": by, "from": first, "to": last, "dates": dates, "groups": groups,
            "buckets": buckets, "totals": totals}


async def workplan_history(reader: Reader, ident: str, repo: str | None = None) -> dict[str, Any]:
    """A workplan's done/total after each local status write to its tasks, ending with now.

    Rebuilt backwards from the current effective statuses, undoing one write at a time (each
    write recorded the status it replaced), so the last point always equals today's
    `tasks_done`/`tasks_total`. `total` is today's task count throughout: the journal does not
    record when a task was added to a file.
    """
    plan = await resolve_workplan_row(reader, ident, repo)
    tasks = await reader.all(
        "SELECT id, status FROM tasks WHERE workplan_key = ? ORDER BY position", (plan["key"],)
    )
    status = {row["id"]: row["status"] for row in tasks}
    total = len(status)
    targets = {f"task:{plan['repo']}:{task_id}": task_id for task_id in status}
    writes: list[Any] = []
    if targets:
        marks = ",".join("?" for _ in targets)
        writes = await reader.all(
            "SELECT seq, target_key, value, observed, agent, ts FROM local_writes"
            f" WHERE field = 'status' AND target_key IN ({marks}) ORDER BY seq",
            list(targets),
        )
    done_now = sum(1 for value in status.values() if value == "done")
    points: list[dict[str, Any]] = []
    done = done_now
    for write in reversed(writes):
        task_id = targets[write["target_key"]]
        points.append({"ts": write["ts"], "done": done, "total": total, "task_id": task_id,
                       "status": json.loads(write["value"]), "seq": write["seq"], "agent": write["agent"]})
        before = json.loads(write["observed"]) if write["observed"] else None
        if status.get(task_id) == "done" and before != "done":
            done -= 1
        elif status.get(task_id) != "done" and before == "done":
            done += 1
        status[task_id] = before
    points.reverse()
    return {"id": plan["id"], "repo": plan["repo"], "tasks_done": done_now, "tasks_total": total,
            "done_before_first_write": done, "points": points}
