"""The offline orientation brief (`.custodian-brief.md`): the same state always renders the same bytes.

Nothing in it depends on the clock: the "last synced" time is the repo's HEAD commit time (or,
outside git, the newest workplan file's mtime), and every list has a fixed order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from devhub.errors import FileRefused
from devhub.reconcile.repos import repo_paths
from devhub.store import brief as store_brief
from devhub.store.reader import Reader
from devhub.store.repofiles import TOO_LARGE, RepoFiles

BRIEF_FILE = ".custodian-brief.md"
OPEN_TASKS_SHOWN = 7
OPEN_STATUS_ORDER: tuple[str, ...] = ("wait", "progress", "todo")


@dataclass(frozen=True, slots=True)
class BriefTask:
    """An open task as the brief lists it."""

    id: str
    title: str
    status: str
    priority: str | None
    local: bool  # the status is a local change not yet written back into the file
    needs_human: bool = False


@dataclass(frozen=True, slots=True)
class BriefWorkplan:
    """An active workplan with its counts and its first open tasks (already ordered)."""

    id: str
    title: str
    path: str
    done: int
    total: int
    open_total: int
    open_tasks: tuple[BriefTask, ...]


@dataclass(frozen=True, slots=True)
class BriefData:
    """Everything one repo's brief shows."""

    repo: str
    domains: tuple[str, ...]
    synced_at: str | None  # ISO 8601 UTC, e.g. 2026-07-03T10:00:00Z
    synced_from: str  # what that time is, e.g. "commit time of HEAD 1a2b3c4d5e6f"
    workplans: tuple[BriefWorkplan, ...]


def render_brief(data: BriefData) -> str:
    """The brief's markdown for `data` (pure: equal data gives equal text)."""
    lines = [f"# Offline brief: {data.repo}", ""]
    lines.append(f"- Domain: {', '.join(data.domains) if data.domains else '(none stated)'}")
    synced = f"{data.synced_at} ({data.synced_from})" if data.synced_at else f"unknown ({data.synced_from})"
    lines.append(f"- Last synced: {synced}")
    lines.append(f"- Active workplans: {len(data.workplans)}")
    lines += [
        "",
        "Made by `devhub brief` from the workplan files; a status marked *local* is a change made",
        "offline and not yet written back (`devhub writeback --commit`). Open tasks are listed wait,",
        f"progress, todo, then by priority, then file order (at most {OPEN_TASKS_SHOWN} per workplan).",
    ]
    if not data.workplans:
        lines += ["", "No active workplans."]
    for workplan in data.workplans:
        lines += ["", f"## {workplan.id} — {workplan.title}", ""]
        lines.append(f"{workplan.done}/{workplan.total} done, {workplan.open_total} open · `{workplan.path}`")
        lines.append("")
        if not workplan.open_tasks:
            lines.append("- no open tasks")
        for task in workplan.open_tasks:
            marks = "".join(
                (
                    f" ({task.priority})" if task.priority else "",
                    " *local*" if task.local else "",
                    " — needs a person" if task.needs_human else "",
                )
            )
            lines.append(f"- `{task.id}` **{task.status}**{marks}: {task.title}")
        hidden = workplan.open_total - len(workplan.open_tasks)
        if hidden > 0:
            lines.append(f"- … and {hidden} more open task{'s' if hidden != 1 else ''}")
    return "\n".join(lines) + "\n"


def _synced_time(root: Path, newest_mtime_ns: int | None) -> tuple[str | None, str]:
    """HEAD's commit time when `root` is a git repo with commits, else the newest workplan file's mtime."""
    import git

    try:
        with git.Repo(root) as repo:
            commit = repo.head.commit
            stamp = datetime.fromtimestamp(commit.committed_date, UTC)
            return stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), f"commit time of HEAD {commit.hexsha[:12]}"
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        pass  # not a repo, or a repo without commits
    if newest_mtime_ns is None:
        return None, "no workplan files"
    stamp = datetime.fromtimestamp(newest_mtime_ns / 1e9, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ"), "newest workplan file's modification time"


async def brief_data(reader: Reader, repo: str) -> BriefData:
    """Collect one registered repo's brief data from the read model (UnknownRepo when not registered)."""
    root = Path((await repo_paths(reader, repo))[repo])
    domains = await store_brief.repo_domains(reader, repo)
    newest = await store_brief.newest_file_mtime_ns(reader, repo)
    synced_at, synced_from = await asyncio.to_thread(_synced_time, root, newest)
    workplans = []
    for row in await store_brief.active_workplans(reader, repo):
        counts = await store_brief.task_counts(reader, row.key, OPEN_STATUS_ORDER)
        tasks = await store_brief.open_tasks(reader, row.key, OPEN_STATUS_ORDER, OPEN_TASKS_SHOWN)
        workplans.append(
            BriefWorkplan(
                id=row.id,
                title=row.title or row.id,
                path=row.path,
                done=counts.done,
                total=counts.total,
                open_total=counts.open,
                open_tasks=tuple(
                    BriefTask(
                        id=t.id,
                        title=t.title or "",
                        status=t.status,
                        priority=t.priority,
                        local=t.status_source == "local",
                        needs_human=t.needs_human,
                    )
                    for t in tasks
                ),
            )
        )
    return BriefData(repo, domains, synced_at, synced_from, tuple(workplans))


async def brief_for_repo(reader: Reader, repo_slug: str) -> str:
    """The brief's markdown for one registered repo (what `brief://{repo}` serves)."""
    return render_brief(await brief_data(reader, repo_slug))


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` to `path` (a file in a repo's root) only when the bytes differ; True when (re)written.

    FileRefused when `path` is a link out of the repo: the brief is never written through one,
    and neither through a planted temp-file link (the temp file is created exclusively).
    """
    data = text.encode("utf-8")
    files = RepoFiles(path.parent, max_bytes=len(data))  # a longer file differs anyway
    try:
        if files.read(path.name) == data:
            return False
    except FileNotFoundError:
        pass
    except FileRefused as refused:
        if refused.code != TOO_LARGE:
            raise
    files.replace(path.name, data)
    return True
