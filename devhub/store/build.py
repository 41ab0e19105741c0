"""Files -> read model: the fingerprint-cached scan that turns workplan files into rows.

Runs only on the single writer connection (see `store.writer`). A file whose size
and mtime match the cache is not read; one whose bytes hash the same is not parsed.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhub.errors import FileRefused
from devhub.model import ParsedFile, Problem
from devhub.registry import WORKPLANS_DIR, Repo
from devhub.store.parallel import ParseItem, ParsePool
from devhub.store.presence import refresh_missing
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES, TOO_LARGE, RepoFiles
from devhub.store.rows import COLUMNS, ROW_TABLES, FileRows, file_rows, workplan_key

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


def _insert_rows(conn: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert with one prepared statement: the build's hot path (tuples in COLUMNS order, SQL types)."""
    columns = COLUMNS[table]
    placeholders = ", ".join("?" for _ in columns)
    sql = f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"
    conn.executemany(sql, rows)


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


@dataclass(slots=True)
class _FileStep:
    """What the scan found for one file, for the writer to apply in path order."""

    scan: _RepoScan
    rel: str
    stat: os.stat_result | None  # None: gone
    digest: str = ""
    same_bytes: bool = False  # re-hashed to the cached sha256: only the fingerprint is refreshed
    unchanged: bool = False  # the fingerprint cache matched: nothing to do


class _RepoScan:
    """One repo's part of a sync: `scan` looks at its files (no writes), `apply` and `finish` write.

    The scan runs ahead of the writer (it only stats, reads and hashes), so parse workers can
    work on files the writer has not reached yet; `apply` is called for every item in scan
    order, then `finish` once: the same statements, in the same order, as a file-by-file loop.
    """

    def __init__(self, conn: sqlite3.Connection, repo: Repo, paths: Iterable[str] | None, max_file_bytes: int) -> None:
        from devhub.workplans import is_workplan_path

        self.conn = conn
        self.repo = repo
        self.max_file_bytes = max_file_bytes
        self.files = RepoFiles(repo.root, max_bytes=max_file_bytes)
        self.cached = {
            row["path"]: row
            for row in conn.execute("SELECT path, size, mtime_ns, sha256 FROM files WHERE repo = ?", (repo.slug,))
        }
        if paths is None:
            self.wanted = list_workplan_files(repo.root)
            self.vanished = sorted(set(self.cached) - set(self.wanted))
        else:
            self.wanted = sorted({p for p in paths if is_workplan_path(p)})
            self.vanished = []
        self.report = SyncReport()
        self.pending: dict[str, list[tuple[Any, ...]]] = {table: [] for table in ("files", *ROW_TABLES)}

    def scan(self) -> Iterator[ParseItem]:
        """One item per wanted file, in path order; a file to parse carries its bytes as the item's job."""
        for candidate in _candidates(self.files, self.wanted):
            yield self._look(candidate)

    def _look(self, candidate: _Candidate) -> ParseItem:
        rel, st = candidate.rel, candidate.stat
        if st is None:
            return ParseItem(None, payload=_FileStep(self, rel, None))
        old = self.cached.get(rel)
        verdict = candidate.verdict(self.max_file_bytes)
        if (
            old is not None
            and old["size"] == st.st_size
            and old["mtime_ns"] == st.st_mtime_ns
            and _cached_verdict(old["sha256"]) == verdict  # a changed bound or a swapped link re-decides
            and _settled(st)
        ):
            return ParseItem(None, payload=_FileStep(self, rel, st, unchanged=True))
        refusal = candidate.refusal
        if refusal is None and verdict == TOO_LARGE:
            refusal = self.files.too_large(rel, st.st_size)
        if refusal is None:
            assert candidate.real is not None
            try:
                data = self.files.read_located(rel, candidate.real)
            except FileRefused as late:  # swapped for a link, or grew past the bound, after it was located
                refusal = late
            except OSError as exc:
                rows = file_rows(self.repo.slug, _undecodable_placeholder(rel, exc))
                return ParseItem(None, rows, _FileStep(self, rel, st))
            else:
                digest = hashlib.sha256(data).hexdigest()
                if old is not None and old["sha256"] == digest:
                    return ParseItem(None, payload=_FileStep(self, rel, st, digest, same_bytes=True))
                return ParseItem((self.repo.slug, rel, data), payload=_FileStep(self, rel, st, digest))
        rows = file_rows(self.repo.slug, _refused_placeholder(rel, refusal))
        return ParseItem(None, rows, _FileStep(self, rel, st, REFUSED_MARK + refusal.code))

    def apply(self, step: _FileStep, rows: FileRows | None) -> None:
        """Write what one file's step needs (deletes and fingerprint updates now, inserts at `finish`)."""
        rel, st, report = step.rel, step.stat, self.report
        if st is None:
            if rel in self.cached:
                self.vanished.append(rel)
            return
        report.seen += 1
        wp_key = workplan_key(self.repo.slug, rel)
        if step.unchanged:
            report.unchanged += 1
            return
        if step.same_bytes:
            update = "UPDATE files SET size = ?, mtime_ns = ? WHERE key = ?"
            self.conn.execute(update, (st.st_size, st.st_mtime_ns, wp_key))
            report.unchanged += 1
            return
        assert rows is not None
        report.parsed += 1
        report.changed_workplan_keys.add(wp_key)
        if rel in self.cached:
            report.changed_task_ids |= _delete_file_rows(self.conn, self.repo.slug, rel)
        has_workplan = bool(rows.get("workplans"))
        self.pending["files"].append(
            (wp_key, self.repo.slug, rel, st.st_size, st.st_mtime_ns, step.digest, wp_key if has_workplan else None)
        )
        for table, table_rows in rows.items():
            self.pending[table].extend(table_rows)

    def finish(self) -> SyncReport:
        """Drop the rows of vanished files and insert every new row, table by table."""
        report = self.report
        for rel in sorted(set(self.vanished)):
            report.changed_task_ids |= _delete_file_rows(self.conn, self.repo.slug, rel)
            self.conn.execute("DELETE FROM files WHERE key = ?", (workplan_key(self.repo.slug, rel),))
            report.removed += 1
            report.changed_workplan_keys.add(workplan_key(self.repo.slug, rel))
        task_id = COLUMNS["tasks"].index("id")
        report.changed_task_ids |= {row[task_id] for row in self.pending["tasks"]}
        for table, rows in self.pending.items():
            if rows:
                _insert_rows(self.conn, table, rows)
        self.pending = {}
        return report


def sync_files(
    conn: sqlite3.Connection,
    repos: list[Repo],
    paths: Iterable[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES,
    pool: ParsePool | None = None,
) -> SyncReport:
    """Bring the repos' rows in line with their files (`paths`: only those files, of a single repo).

    Files that resolve outside the repo or are over `max_file_bytes` are never read: each is
    recorded with a `symlink-outside-repo` / `file-too-large` problem instead. With a `pool`,
    files are parsed on its workers when there are enough of them; the rows, and the order
    they are written in, are the same either way. Runs inside the caller's transaction.
    """
    if paths is not None and len(repos) != 1:
        raise ValueError("paths name the files of one repo")
    scans = [_RepoScan(conn, repo, paths, max_file_bytes) for repo in repos]
    total = sum(len(scan.wanted) for scan in scans)
    items = itertools.chain.from_iterable(scan.scan() for scan in scans)
    ordered = (pool or ParsePool(0)).in_order(items)
    report = SyncReport()
    unfinished = iter(scans)
    current = next(unfinished, None)
    try:
        for done, item in enumerate(ordered, start=1):
            if progress is not None:
                progress(done, total)
            step: _FileStep = item.payload
            while step.scan is not current:  # repos are written one after the other, in registry order
                assert current is not None
                report.merge(current.finish())
                current = next(unfinished, None)
            step.scan.apply(step, item.rows)
    finally:
        ordered.close()  # a failed write stops the look-ahead (and its reads) at once
    while current is not None:
        report.merge(current.finish())
        current = next(unfinished, None)
    return report


def sync_repo_files(
    conn: sqlite3.Connection,
    repo: Repo,
    paths: Iterable[str] | None = None,
    *,
    progress: ProgressCallback | None = None,
    max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES,
    pool: ParsePool | None = None,
) -> SyncReport:
    """Bring one repo's rows in line with its files, atomically; `paths` limits the work to those files."""
    import sqlite_utils

    with sqlite_utils.Database(conn).atomic():
        return sync_files(conn, [repo], paths, progress=progress, max_file_bytes=max_file_bytes, pool=pool)


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
    refresh_missing(conn, repos)
    return set(stale)
