"""The read-model queries behind the offline brief (`devhub brief`, `brief://{repo}`); every list has a fixed order."""

from __future__ import annotations

from dataclasses import dataclass

from devhub.model import PRIORITIES
from devhub.store.queries import WORKPLAN_ORDER_SQL
from devhub.store.reader import Reader


@dataclass(frozen=True, slots=True)
class ActiveWorkplan:
    """An active workplan of one repo, as the brief heads it (key is the read model's row key)."""

    key: str
    id: str
    title: str | None
    path: str


@dataclass(frozen=True, slots=True)
class TaskCounts:
    """A workplan's tasks: all, done, and open (in one of the open statuses asked for)."""

    total: int
    done: int
    open: int


@dataclass(frozen=True, slots=True)
class OpenTask:
    """An open task as the read model holds it."""

    id: str
    title: str | None
    status: str
    priority: str | None
    status_source: str | None
    needs_human: bool


async def repo_domains(reader: Reader, repo: str) -> tuple[str, ...]:
    """The distinct non-empty `domain`s of a repo's workplans, sorted."""
    rows = await reader.all(
        "SELECT DISTINCT domain FROM workplans WHERE repo = ? AND domain IS NOT NULL AND domain != '' ORDER BY domain",
        (repo,),
    )
    return tuple(row["domain"] for row in rows)


async def newest_file_mtime_ns(reader: Reader, repo: str) -> int | None:
    """The newest modification time (ns) of a repo's workplan files, None when it has none."""
    row = await reader.one("SELECT MAX(mtime_ns) AS m FROM files WHERE repo = ?", (repo,))
    return row["m"] if row else None


async def active_workplans(reader: Reader, repo: str) -> list[ActiveWorkplan]:
    """A repo's workplans with effective status `active`, in the one workplan order (WORKPLAN_ORDER_SQL)."""
    rows = await reader.all(
        f"SELECT w.key, w.id, w.title, w.path FROM workplans w WHERE w.repo = ? AND w.status = 'active'"
        f" ORDER BY {WORKPLAN_ORDER_SQL}",
        (repo,),
    )
    return [ActiveWorkplan(row["key"], row["id"], row["title"], row["path"]) for row in rows]


async def task_counts(reader: Reader, workplan_key: str, open_statuses: tuple[str, ...]) -> TaskCounts:
    """How many tasks a workplan has, how many are done, and how many are in one of `open_statuses`."""
    placeholders = ", ".join("?" for _ in open_statuses)
    row = await reader.one(
        "SELECT COUNT(*) AS total, SUM(status = 'done') AS done,"
        f" SUM(status IN ({placeholders})) AS open FROM tasks WHERE workplan_key = ?",
        (*open_statuses, workplan_key),
    )
    if row is None:
        return TaskCounts(0, 0, 0)
    return TaskCounts(int(row["total"] or 0), int(row["done"] or 0), int(row["open"] or 0))


async def open_tasks(reader: Reader, workplan_key: str, status_order: tuple[str, ...], limit: int) -> list[OpenTask]:
    """A workplan's first `limit` tasks in `status_order`'s statuses: by that order, priority, file order, id."""
    placeholders = ", ".join("?" for _ in status_order)
    status_rank = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(status_order))
    priority_rank = " ".join(f"WHEN '{p}' THEN {i}" for i, p in enumerate(PRIORITIES))
    order = f"CASE status {status_rank} END, CASE priority {priority_rank} ELSE {len(PRIORITIES)} END, position, id"
    rows = await reader.all(
        "SELECT id, title, status, priority, status_source, needs_human FROM tasks"
        f" WHERE workplan_key = ? AND status IN ({placeholders}) ORDER BY {order} LIMIT ?",
        (workplan_key, *status_order, limit),
    )
    return [
        OpenTask(
            row["id"], row["title"], row["status"], row["priority"], row["status_source"], bool(row["needs_human"])
        )
        for row in rows
    ]
