"""Files -> read model: the fingerprint-cached scan that turns workplan files into rows.

Runs only on the single writer connection (see `store.writer`). A file whose size
and mtime match the cache is not read; one whose bytes hash the same is not parsed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhub.errors import FileRefused
from devhub.model import PRIORITIES, ParsedFile, Problem
from devhub.registry import WORKPLANS_DIR, Repo
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES, TOO_LARGE, RepoFiles
from devhub.store.schema import TABLES

ProgressCallback = Callable[[int, int], None]  # (done, total)
REFUSED_MARK = "refused:"  # files.sha256 of a file never read, followed by the problem code


@dataclass
class SyncReport:
    """What one sync did: files looked at, (re)parsed, unchanged and removed, and what changed."""

    seen: int = 0
    parsed: int = 0
    unchanged: int = 0
    removed: int = 0
    changed_workplan_keys: set[str] = field(default_factory=set)
    changed_task_ids: set[str] = field(default_factory=set)  # before and after: dependents need a ready refresh

    def merge(self, other: SyncReport) -> None:
        self.seen += other.seen
        self.parsed += other.parsed
        self.unchanged += other.unchanged
        self.removed += other.removed
        self.changed_workplan_keys |= other.changed_workplan_keys
        self.changed_task_ids |= other.changed_task_ids


def workplan_key(repo: str, path: str) -> str:
    return f"{repo}:{path}"


def task_key(wp_key: str, task_id: str) -> str:
    return f"{wp_key}#{task_id}"


def list_workplan_files(root: Path) -> list[str]:
    """Repo-relative posix paths of every workplan file (workplans/*.md and workplans/archived/*.md).

    A workplans folder that resolves outside the repo is listed itself, never its contents,
    so the build reports it as refused; symlinked files are listed for the build to judge.
    """
    from devhub.workplans import is_workplan_path

    files = RepoFiles(root)
    found: list[str] = []
    for sub in (WORKPLANS_DIR, f"{WORKPLANS_DIR}/archived"):
        if files.folder_escapes(sub):
            found.append(sub)
            break  # whatever is under it is outside too
        folder = root / sub
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            rel = f"{sub}/{entry.name}"
            if (entry.is_file() or entry.is_symlink()) and is_workplan_path(rel):
                found.append(rel)
    return sorted(found)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _truthy(value: Any) -> int:
    if isinstance(value, str):
        return int(value.strip().lower() in {"true", "yes", "1", "on"})
    return int(bool(value))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _rows_for(repo: str, parsed: ParsedFile) -> dict[str, list[dict[str, Any]]]:
    """The rows one parsed file contributes to each table."""
    wp_key = workplan_key(repo, parsed.path)
    rows: dict[str, list[dict[str, Any]]] = {"workplans": [], "tasks": [], "task_deps": [], "refs": [], "problems": []}
    seen_problems: set[tuple[int, str, str]] = set()
    for problem in parsed.problems:
        marker = (problem.line, problem.code, problem.message)
        if marker in seen_problems:
            continue
        seen_problems.add(marker)
        rows["problems"].append(
            {
                "repo": repo,
                "path": parsed.path,
                "line": problem.line,
                "severity": problem.severity,
                "code": problem.code,
                "message": problem.message,
            }
        )
    wp = parsed.workplan
    if wp is None:
        return rows
    rows["workplans"].append(
        {
            "key": wp_key,
            "id": wp.id,
            "repo": repo,
            "path": wp.path,
            "archived": int(wp.archived),
            "type": wp.type,
            "title": wp.title,
            "domain": wp.domain,
            "repo_field": wp.repo,
            "owner": wp.owner,
            "topic_slug": wp.topic_slug,
            "file_status": wp.status,
            "status_raw": wp.status_raw,
            "status_line": wp.status_line,
            "status": wp.status,
            "status_source": "file",
            "planning_priority": wp.planning_priority,
            "planning_order": wp.planning_order,
            "created": wp.created,
            "updated": wp.updated,
            "finished": wp.finished,
            "state_hub_workstream_id": wp.state_hub_workstream_id,
            "extra": _json(dict(wp.extra)),
            "body": wp.body,
            "intro": _intro(wp.body, wp.tasks[0].title if wp.tasks else None),
        }
    )
    seen_tasks: set[str] = set()
    for task in wp.tasks:
        if task.id in seen_tasks:
            continue  # the parser reported the duplicate; the first one wins
        seen_tasks.add(task.id)
        key = task_key(wp_key, task.id)
        extra = dict(task.extra)
        needs_human = _truthy(extra.get("needs_human", False))
        note = _text(extra.get("intervention_note"))
        reason = _text(extra.get("blocking_reason"))
        rows["tasks"].append(
            {
                "key": key,
                "id": task.id,
                "repo": repo,
                "path": wp.path,
                "workplan_key": wp_key,
                "workplan_id": wp.id,
                "title": task.title,
                "line": task.line,
                "position": task.position,
                "file_status": task.status,
                "status_raw": task.status_raw,
                "status_line": task.status_line,
                "priority": task.priority,
                "state_hub_task_id": task.state_hub_task_id,
                "assignee": task.assignee,
                "depends_on": _json(list(task.depends_on)),
                "file_needs_human": needs_human,
                "file_intervention_note": note,
                "file_blocking_reason": reason,
                "status": task.status,
                "status_source": "file",
                "needs_human": needs_human,
                "intervention_note": note,
                "blocking_reason": reason,
                "ready": 0,
                "priority_rank": PRIORITIES.index(task.priority) if task.priority in PRIORITIES else len(PRIORITIES),
                "body": task.body,
                "extra": _json(extra),
            }
        )
        rows["task_deps"].extend({"task_key": key, "depends_on": dep} for dep in dict.fromkeys(task.depends_on))
    seen_refs: set[tuple[str, str, str]] = set()
    for ref in wp.references:
        ref_marker = (ref.source_id, ref.target_id, ref.kind)
        if ref_marker in seen_refs:
            continue
        seen_refs.add(ref_marker)
        rows["refs"].append(
            {
                "repo": repo,
                "path": wp.path,
                "source_id": ref.source_id,
                "target_id": ref.target_id,
                "kind": ref.kind,
                "line": ref.line,
            }
        )
    return rows


def _intro(body: str, first_task_title: str | None) -> str:
    """The workplan's text before its first task heading (its tasks are indexed on their own)."""
    if not first_task_title:
        return body
    offset = 0
    for line in body.split("\n"):
        if line.startswith("#") and first_task_title in line:
            return body[:offset]
        offset += len(line) + 1
    return body


def _insert_rows(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    """Bulk insert with one prepared statement: the build's hot path (values are already SQL types)."""
    columns = list(TABLES[table][0])
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    conn.executemany(sql, [tuple(row.get(c) for c in columns) for row in rows])


def _delete_file_rows(conn: sqlite3.Connection, repo: str, path: str) -> set[str]:
    """Drop every row a file contributed; returns the ids of the tasks it held."""
    wp_key = workplan_key(repo, path)
    old_ids = {row[0] for row in conn.execute("SELECT id FROM tasks WHERE workplan_key = ?", (wp_key,))}
    conn.execute("DELETE FROM task_deps WHERE task_key IN (SELECT key FROM tasks WHERE workplan_key = ?)", (wp_key,))
    conn.execute("DELETE FROM tasks WHERE workplan_key = ?", (wp_key,))
    conn.execute("DELETE FROM workplans WHERE key = ?", (wp_key,))
    conn.execute("DELETE FROM refs WHERE repo = ? AND path = ?", (repo, path))
    conn.execute("DELETE FROM problems WHERE repo = ? AND path = ?", (repo, path))
    return old_ids


def _undecodable_placeholder(path: str, exc: OSError) -> ParsedFile:
    problem = Problem(path=path, line=0, severity="error", code="unreadable", message=f"cannot read file: {exc}")
    return ParsedFile(path=path, workplan=None, problems=(problem,))


# File clocks tick coarsely (a few ms): a same-size edit in the tick the file was last read in
# keeps its mtime. A file modified this recently is hashed, never trusted on size and mtime.
RACY_WINDOW_NS = 2_000_000_000


def _settled(st: os.stat_result) -> bool:
    return st.st_mtime_ns < time.time_ns() - RACY_WINDOW_NS


def _refused_placeholder(path: str, refusal: FileRefused) -> ParsedFile:
    problem = Problem(path=path, line=0, severity="error", code=refusal.code, message=refusal.reason)
    return ParsedFile(path=path, workplan=None, problems=(problem,))


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One path to sync: its fingerprint stat (a refused link's own lstat), real path, or why it is refused."""

    rel: str
    stat: os.stat_result | None  # None: gone
    real: str | None = None
    refusal: FileRefused | None = None

    def verdict(self, max_bytes: int) -> str | None:
        """The refusal code this file gets before any byte is read (None: it is read)."""
        if self.refusal is not None:
            return self.refusal.code
        return TOO_LARGE if self.stat is not None and self.stat.st_size > max_bytes else None


def _candidates(files: RepoFiles, paths: Iterable[str]) -> Iterator[_Candidate]:
    for rel in paths:
        try:
            real, st = files.locate(rel)
        except FileRefused as refusal:
            yield _Candidate(rel, files.link_stat(rel), refusal=refusal)
        except OSError:
            yield _Candidate(rel, None)
        else:
            yield _Candidate(rel, st, real)


def _cached_verdict(sha256: str) -> str | None:
    return sha256.removeprefix(REFUSED_MARK) if sha256.startswith(REFUSED_MARK) else None


def sync_repo_files(
    conn: sqlite3.Connection,
    repo: Repo,
    paths: Iterable[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES,
) -> SyncReport:
    """Bring one repo's rows in line with its files; `paths` limits the work to those files.

    Files that resolve outside the repo or are over `max_file_bytes` are never read: each is
    recorded with a `symlink-outside-repo` / `file-too-large` problem instead.
    """
    import sqlite_utils

    from devhub.workplans import is_workplan_path, parse_workplan

    db = sqlite_utils.Database(conn)
    report = SyncReport()
    cached = {
        row["path"]: row
        for row in conn.execute("SELECT path, size, mtime_ns, sha256 FROM files WHERE repo = ?", (repo.slug,))
    }
    if paths is None:
        wanted = list_workplan_files(repo.root)
        vanished = sorted(set(cached) - set(wanted))
    else:
        wanted = sorted({p for p in paths if is_workplan_path(p)})
        vanished = []
    pending: dict[str, list[dict[str, Any]]] = {
        "files": [],
        "workplans": [],
        "tasks": [],
        "task_deps": [],
        "refs": [],
        "problems": [],
    }
    total = len(wanted)
    files = RepoFiles(repo.root, max_bytes=max_file_bytes)
    with db.atomic():
        for done, candidate in enumerate(_candidates(files, wanted), start=1):
            rel, st = candidate.rel, candidate.stat
            if progress is not None:
                progress(done, total)
            if st is None:
                if rel in cached:
                    vanished.append(rel)
                continue
            report.seen += 1
            old = cached.get(rel)
            verdict = candidate.verdict(max_file_bytes)
            if (
                old is not None
                and old["size"] == st.st_size
                and old["mtime_ns"] == st.st_mtime_ns
                and _cached_verdict(old["sha256"]) == verdict  # a changed bound or a swapped link re-decides
                and _settled(st)
            ):
                report.unchanged += 1
                continue
            refusal = candidate.refusal
            if refusal is None and verdict == TOO_LARGE:
                refusal = files.too_large(rel, st.st_size)
            data: bytes | None = None
            if refusal is None:
                assert candidate.real is not None
                try:
                    data = files.read_located(rel, candidate.real)
                except FileRefused as late:  # swapped for a link, or grew past the bound, after it was located
                    refusal = late
                except OSError as exc:
                    parsed = _undecodable_placeholder(rel, exc)
                    digest = ""
            if refusal is not None:
                parsed = _refused_placeholder(rel, refusal)
                digest = REFUSED_MARK + refusal.code
            elif data is not None:
                digest = hashlib.sha256(data).hexdigest()
                if old is not None and old["sha256"] == digest:
                    conn.execute(
                        "UPDATE files SET size = ?, mtime_ns = ? WHERE key = ?",
                        (st.st_size, st.st_mtime_ns, workplan_key(repo.slug, rel)),
                    )
                    report.unchanged += 1
                    continue
                parsed = parse_workplan(data, rel)
            report.parsed += 1
            wp_key = workplan_key(repo.slug, rel)
            report.changed_workplan_keys.add(wp_key)
            if old is not None:
                report.changed_task_ids |= _delete_file_rows(conn, repo.slug, rel)
            pending["files"].append(
                {
                    "key": wp_key,
                    "repo": repo.slug,
                    "path": rel,
                    "size": st.st_size,
                    "mtime_ns": st.st_mtime_ns,
                    "sha256": digest,
                    "workplan_key": wp_key if parsed.workplan else None,
                }
            )
            for table, rows in _rows_for(repo.slug, parsed).items():
                pending[table].extend(rows)
        for rel in sorted(set(vanished)):
            report.changed_task_ids |= _delete_file_rows(conn, repo.slug, rel)
            conn.execute("DELETE FROM files WHERE key = ?", (workplan_key(repo.slug, rel),))
            report.removed += 1
            report.changed_workplan_keys.add(workplan_key(repo.slug, rel))
        report.changed_task_ids |= {row["id"] for row in pending["tasks"]}
        for table, rows in pending.items():
            if rows:
                _insert_rows(conn, table, rows)
    return report


def sync_repo_rows(conn: sqlite3.Connection, repos: list[Repo]) -> set[str]:
    """Make the repos table equal the registry; drop every row of repos no longer registered."""
    registered = {repo.slug for repo in repos}
    stale = [row[0] for row in conn.execute("SELECT slug FROM repos") if row[0] not in registered]
    stale += [row[0] for row in conn.execute("SELECT DISTINCT repo FROM files") if row[0] not in registered]
    for slug in sorted(set(stale)):
        conn.execute("DELETE FROM task_deps WHERE task_key IN (SELECT key FROM tasks WHERE repo = ?)", (slug,))
        for table in ("tasks", "workplans", "refs", "problems", "files"):
            conn.execute(f"DELETE FROM {table} WHERE repo = ?", (slug,))
        conn.execute("DELETE FROM repos WHERE slug = ?", (slug,))
    for repo in repos:
        conn.execute(
            "INSERT OR REPLACE INTO repos(slug, path, remote, branch, head, dirty, is_git, has_workplans)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                repo.slug,
                repo.path,
                repo.remote,
                repo.branch,
                repo.head,
                int(repo.dirty),
                int(repo.is_git),
                int(repo.has_workplans),
            ),
        )
    return set(stale)
