"""The read-model queries behind the local consistency checks (`devhub check`); the rules live in the service."""

from __future__ import annotations

from dataclasses import dataclass

from devhub.store.reader import Reader


@dataclass(frozen=True, slots=True)
class RepoPath:
    """A registered repo and its folder."""

    slug: str
    path: str


@dataclass(frozen=True, slots=True)
class Placed:
    """A workplan or task id in a repo, with the file and line it sits at (line 1 for a workplan's header)."""

    id: str
    repo: str
    path: str
    line: int | None


@dataclass(frozen=True, slots=True)
class NonCanonicalStatus:
    """A status written with a word that is not canonical, and the canonical status it means."""

    id: str
    repo: str
    path: str
    line: int | None
    status_raw: str
    file_status: str


def _scope(repo: str | None, column: str = "repo") -> tuple[str, list[str]]:
    return (f" AND {column} = ?", [repo]) if repo else ("", [])


async def repos_without_workplans_dir(reader: Reader, repo: str | None = None) -> list[RepoPath]:
    """Registered repos (or just `repo`) that have no workplans/ folder."""
    scope_sql, scope = _scope(repo, "slug")
    rows = await reader.all("SELECT slug, path FROM repos WHERE has_workplans = 0" + scope_sql, scope)
    return [RepoPath(row["slug"], row["path"]) for row in rows]


async def unlinked_workplans(reader: Reader, repo: str | None = None) -> list[Placed]:
    """Workplans without a State Hub id yet, by repo and id."""
    scope_sql, scope = _scope(repo)
    rows = await reader.all(
        "SELECT id, repo, path FROM workplans WHERE (state_hub_workstream_id IS NULL OR state_hub_workstream_id = '')"
        + scope_sql
        + " ORDER BY repo, id",
        scope,
    )
    return [Placed(row["id"], row["repo"], row["path"], 1) for row in rows]


async def unlinked_tasks(reader: Reader, repo: str | None = None) -> list[Placed]:
    """Tasks without a State Hub id yet, in file order."""
    scope_sql, scope = _scope(repo)
    rows = await reader.all(
        "SELECT id, repo, path, line FROM tasks WHERE (state_hub_task_id IS NULL OR state_hub_task_id = '')"
        + scope_sql
        + " ORDER BY repo, path, line",
        scope,
    )
    return [Placed(row["id"], row["repo"], row["path"], row["line"]) for row in rows]


async def non_canonical_statuses(reader: Reader, table: str, repo: str | None = None) -> list[NonCanonicalStatus]:
    """Rows of `table` ("workplans" or "tasks") whose status word is not the canonical one, in file order."""
    if table not in ("workplans", "tasks"):
        raise ValueError(f"no status column in table {table!r}")
    line = "COALESCE(status_line, line)" if table == "tasks" else "status_line"
    scope_sql, scope = _scope(repo)
    rows = await reader.all(
        f"SELECT id, repo, path, {line} AS line, status_raw, file_status FROM {table}"
        " WHERE status_raw IS NOT NULL AND file_status IS NOT NULL AND lower(trim(status_raw)) != file_status"
        + scope_sql
        + " ORDER BY repo, path, line",
        scope,
    )
    return [
        NonCanonicalStatus(row["id"], row["repo"], row["path"], row["line"], row["status_raw"], row["file_status"])
        for row in rows
    ]


async def write_location(reader: Reader, kind: str, repo: str, ident: str, field: str) -> str | None:
    """`path:line` a local write is about: the `status:` entry, else the task heading (None if in no file)."""
    table = "tasks" if kind == "task" else "workplans"
    fallback = "line" if kind == "task" else "1"
    line = f"COALESCE(status_line, {fallback})" if field == "status" else fallback
    row = await reader.one(
        f"SELECT path, {line} AS line FROM {table} WHERE repo = ? AND id = ? ORDER BY path LIMIT 1",
        (repo, ident),
    )
    return f"{row['path']}:{row['line']}" if row else None
