"""The single writer of the read model: file syncs and journal envelopes go through here.

Only one ReadModelWriter exists per database (the daemon's, or a CLI command's when no
daemon runs); every reader opens its own read-only connection.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from devhub.registry import Repo
from devhub.store import created, overlay, ready
from devhub.store.build import ProgressCallback, SyncReport, sync_files, sync_repo_rows
from devhub.store.collisions import refresh_collisions
from devhub.store.dependencies import refresh_unknown_dependencies
from devhub.store.parallel import ParsePool, default_workers
from devhub.store.position import AppliedPosition, journal_divergence
from devhub.store.repofiles import DEFAULT_MAX_WORKPLAN_BYTES
from devhub.store.schema import disable_fts, enable_fts, open_database

log = logging.getLogger("devhub.store")

# The journal's records after a seq, in seq order (Journal.records, or a read-only snapshot of it).
JournalRecords = Callable[[int], Iterable[Mapping[str, Any]]]


class ReadModelWriter:
    """Owns the one write connection; every method is a short transaction."""

    def __init__(
        self, path: Path, *, max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES, parse_workers: int | None = None
    ) -> None:
        self.path = path
        self.max_file_bytes = max_file_bytes  # workplan files over it are reported, never read
        # Worker processes a big sync parses on (started per sync, stopped after it); 0: parse in-process.
        self.parse_workers = default_workers() if parse_workers is None else parse_workers
        self.parse_workers_started = 0  # by the last sync: 0 when it parsed in-process
        self.conn: sqlite3.Connection = open_database(path)
        self.rebuilt_because: str | None = None  # set by catch_up when the journal no longer held its place

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ReadModelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def applied_seq(self) -> int:
        return overlay.applied_seq(self.conn)

    @property
    def applied_position(self) -> AppliedPosition:
        return overlay.applied_position(self.conn)

    def catch_up(
        self, repos: list[Repo], records: JournalRecords, *, progress: ProgressCallback | None = None
    ) -> SyncReport:
        """Sync files, then apply the journal after the applied position (rebuilding first if it must).

        When the journal no longer holds the envelope this model last applied (a cut tail, a
        deleted or an older journal), the model holds writes the journal lost and would skip the
        new writes that reuse their seqs: it is rebuilt from files + journal instead, and
        `rebuilt_because` says why.
        """
        self.rebuilt_because = journal_divergence(self.applied_position, records)
        if self.rebuilt_because is not None:
            log.warning("read model: %s; rebuilding it from files + journal", self.rebuilt_because)
            self.start_afresh()
        report = self.sync(repos, progress=progress)
        self.apply(records(self.applied_seq))
        return report

    def start_afresh(self) -> None:
        """Discard the database file and open an empty one (the caller then syncs and applies)."""
        self.conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.conn = open_database(self.path)

    def sync(self, repos: list[Repo], *, progress: ProgressCallback | None = None) -> SyncReport:
        """Scan every registered repo (fingerprint cached) and forget unregistered ones, in one transaction.

        One transaction, so a crash mid-sync leaves the model as it was: a file whose rows were
        committed without the overlay and ready refresh that follows would be trusted by the
        fingerprint cache at the next start and never refreshed.
        """
        report = SyncReport()
        cold = self.conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 0
        self.conn.execute("BEGIN")
        try:
            self._sync_in_transaction(repos, cold, report, progress)
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        if cold:
            self.conn.execute("ANALYZE")  # planner statistics for the query shapes the API uses
        return report

    def _rollback(self) -> None:
        # SQLite has already rolled back after some errors (SQLITE_FULL, SQLITE_IOERR): a second
        # ROLLBACK would raise "no transaction is active" and hide the error that matters.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def _sync_in_transaction(
        self, repos: list[Repo], cold: bool, report: SyncReport, progress: ProgressCallback | None
    ) -> None:
        forgotten = sync_repo_rows(self.conn, repos)
        if cold:
            disable_fts(self.conn)  # index once at the end instead of row by row
        with ParsePool(self.parse_workers) as pool:
            report.merge(sync_files(self.conn, repos, progress=progress, max_file_bytes=self.max_file_bytes, pool=pool))
        self.parse_workers_started = pool.started
        if cold:
            enable_fts(self.conn)
        if cold or forgotten:
            self._refresh_everything()
        else:
            self._refresh_after(report)

    def _transaction(self, work: Callable[[], object]) -> None:
        self.conn.execute("BEGIN")
        try:
            work()
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def sync_paths(self, repo: Repo, paths: Iterable[str]) -> SyncReport:
        """Re-read just these repo-relative files (the watcher's path), rows and refresh in one transaction."""
        report = SyncReport()

        def work() -> None:
            with ParsePool(self.parse_workers) as pool:  # a checkout can change hundreds of files at once
                report.merge(sync_files(self.conn, [repo], paths, max_file_bytes=self.max_file_bytes, pool=pool))
            self.parse_workers_started = pool.started
            self._refresh_after(report)

        self._transaction(work)
        return report

    def update_repo(self, repo: Repo) -> None:
        """Record fresh git state (branch, HEAD, dirty) for one repo."""
        sync_repo_rows(self.conn, [repo, *self._other_repos(repo)])

    def _other_repos(self, repo: Repo) -> list[Repo]:
        rows = self.conn.execute("SELECT * FROM repos WHERE slug != ?", (repo.slug,)).fetchall()
        return [
            Repo(
                slug=r["slug"],
                path=r["path"],
                remote=r["remote"],
                branch=r["branch"],
                head=r["head"],
                dirty=bool(r["dirty"]),
                is_git=bool(r["is_git"]),
            )
            for r in rows
        ]

    def _refresh_after(self, report: SyncReport) -> None:
        """Collisions, overlay and ready flags for what a file sync changed (inside the caller's transaction)."""
        if not report.changed_workplan_keys:
            return
        # A re-read file dropped the created tasks it does not hold yet; ready below covers its workplan.
        created.materialise(self.conn)
        refresh_collisions(self.conn)
        refresh_unknown_dependencies(self.conn)
        targets = overlay.targets_for_workplans(self.conn, report.changed_workplan_keys, report.changed_task_ids)
        overlay.refresh_targets(self.conn, targets)
        ready.refresh(self.conn, workplan_keys=report.changed_workplan_keys, task_ids=report.changed_task_ids)

    def apply(self, envelopes: Iterable[Mapping[str, Any]]) -> set[str]:
        """Apply journal envelopes not yet applied, in one transaction; returns touched targets."""
        touched: set[str] = set()
        creates = False
        last = self.applied_seq
        self.conn.execute("BEGIN")
        try:
            for envelope in envelopes:
                if envelope["seq"] <= last:
                    continue
                touched |= overlay.apply_envelope(self.conn, envelope)
                creates = creates or envelope.get("kind") in created.CREATE_KINDS
                last = envelope["seq"]
            if creates:
                workplan_keys, task_ids = created.materialise(self.conn)
                ready.refresh(self.conn, workplan_keys=workplan_keys, task_ids=task_ids)
            overlay.refresh_targets(self.conn, touched)
            self._refresh_ready_for(touched)
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return touched

    def _refresh_ready_for(self, targets: set[str]) -> None:
        task_ids, workplan_keys = set(), set()
        for target in targets:
            kind, repo, ident = target.split(":", 2)
            if kind == "task":
                task_ids.add(ident)
            else:
                rows = self.conn.execute("SELECT key FROM workplans WHERE repo = ? AND id = ?", (repo, ident))
                workplan_keys |= {row[0] for row in rows}
        ready.refresh(self.conn, workplan_keys=workplan_keys, task_ids=task_ids)

    def refresh_overlay(self) -> None:
        """Recompute every overlay target and ready flag (after a writeback or a bulk file change)."""
        self._transaction(self._refresh_everything)

    def _refresh_everything(self) -> None:
        created.materialise(self.conn)
        refresh_collisions(self.conn)
        refresh_unknown_dependencies(self.conn)
        overlay.refresh_targets(self.conn, overlay.all_targets(self.conn))
        ready.refresh_all(self.conn)


def rebuild(
    path: Path,
    repos: list[Repo],
    envelopes: Iterable[Mapping[str, Any]],
    *,
    progress: ProgressCallback | None = None,
    max_file_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES,
    parse_workers: int | None = None,
) -> SyncReport:
    """Build a fresh read model at `path` from files and the journal (the old file is discarded)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with ReadModelWriter(path, max_file_bytes=max_file_bytes, parse_workers=parse_workers) as writer:
        report = writer.sync(repos, progress=progress)
        writer.apply(envelopes)
    return report
