"""Small id and location lookups the relay, the writes and writeback make in the read model."""

from __future__ import annotations

from dataclasses import dataclass

from devhub.store.reader import Reader


@dataclass(frozen=True, slots=True)
class StatusLocation:
    """One file a task or workplan id lives in, with the line of its `status:` entry (None when it has none)."""

    path: str
    status_line: int | None


def _table(kind: str) -> str:
    return "tasks" if kind == "task" else "workplans"


async def task_state_hub_id(reader: Reader, repo: str | None, task_id: str | None) -> str | None:
    """The State Hub UUID of the task `task_id` in `repo`, or None when unknown or not assigned yet."""
    row = await reader.one("SELECT state_hub_task_id FROM tasks WHERE repo = ? AND id = ?", (repo, task_id))
    return row["state_hub_task_id"] if row is not None and row["state_hub_task_id"] else None


async def workplan_state_hub_id(reader: Reader, repo: str | None, workplan_id: str | None) -> str | None:
    """The State Hub UUID of the workplan `workplan_id` in `repo`, or None when unknown or not assigned yet."""
    row = await reader.one(
        "SELECT state_hub_workstream_id FROM workplans WHERE repo = ? AND id = ?", (repo, workplan_id)
    )
    return row["state_hub_workstream_id"] if row is not None and row["state_hub_workstream_id"] else None


async def registered_repo_paths(reader: Reader) -> dict[str, str]:
    """slug -> absolute path of every registered repo, by slug."""
    return {row["slug"]: row["path"] for row in await reader.all("SELECT slug, path FROM repos ORDER BY slug")}


async def status_locations(reader: Reader, kind: str, repo: str, ident: str) -> list[StatusLocation]:
    """Every file (by path) holding the task or workplan `ident` of `repo` (`kind` is "task" or "workplan")."""
    rows = await reader.all(
        f"SELECT DISTINCT path, status_line FROM {_table(kind)} WHERE repo = ? AND id = ? ORDER BY path",
        (repo, ident),
    )
    return [StatusLocation(row["path"], row["status_line"]) for row in rows]
