"""The single writer of the read model: file syncs and journal envelopes go through here.

Only one ReadModelWriter exists per database (the daemon's, or a CLI command's when no
daemon runs); every reader opens its own read-only connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from devhub.registry import Repo
from devhub.store import overlay
from devhub.store.build import ProgressCallback, SyncReport, sync_repo_files, sync_repo_rows
from devhub.store.schema import open_database


class ReadModelWriter:
    """Owns the one write connection; every method is a short transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn: sqlite3.Connection = open_database(path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> ReadModelWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def applied_seq(self) -> int:
        return overlay.applied_seq(self.conn)

    def sync(self, repos: list[Repo], *, progress: ProgressCallback | None = None) -> SyncReport:
        """Scan every registered repo (fingerprint cached) and forget unregistered ones."""
        report = SyncReport()
        self.conn.execute("BEGIN")
        try:
            sync_repo_rows(self.conn, repos)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        total_files = 0
        if progress is not None:
            from devhub.store.build import list_workplan_files

            counts = [len(list_workplan_files(repo.root)) for repo in repos]
            total_files = sum(counts)
            done_before = 0
            for repo, count in zip(repos, counts, strict=True):
                report.merge(sync_repo_files(self.conn, repo, progress=_offset(progress, done_before, total_files)))
                done_before += count
        else:
            for repo in repos:
                report.merge(sync_repo_files(self.conn, repo))
        self._refresh_after(report)
        return report

    def sync_paths(self, repo: Repo, paths: Iterable[str]) -> SyncReport:
        """Re-read just these repo-relative files (the watcher's path)."""
        report = sync_repo_files(self.conn, repo, paths)
        self._refresh_after(report)
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
        if not report.changed_workplan_keys:
            return
        self.conn.execute("BEGIN")
        try:
            overlay.refresh_targets(self.conn, overlay.targets_for_workplans(self.conn, report.changed_workplan_keys))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def apply(self, envelopes: Iterable[Mapping[str, Any]]) -> set[str]:
        """Apply journal envelopes not yet applied, in one transaction; returns touched targets."""
        touched: set[str] = set()
        last = self.applied_seq
        self.conn.execute("BEGIN")
        try:
            for envelope in envelopes:
                if envelope["seq"] <= last:
                    continue
                touched |= overlay.apply_envelope(self.conn, envelope)
                last = envelope["seq"]
            overlay.refresh_targets(self.conn, touched)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return touched

    def refresh_overlay(self) -> None:
        """Recompute every overlay target (after a writeback or a bulk file change)."""
        self.conn.execute("BEGIN")
        try:
            overlay.refresh_targets(self.conn, overlay.all_targets(self.conn))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise


def _offset(progress: ProgressCallback, offset: int, total: int) -> ProgressCallback:
    """A per-repo progress callback that reports into one bar across all repos."""

    def report(done: int, _repo_total: int) -> None:
        progress(offset + done, total)

    return report


def rebuild(
    path: Path,
    repos: list[Repo],
    envelopes: Iterable[Mapping[str, Any]],
    *,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Build a fresh read model at `path` from files and the journal (the old file is discarded)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with ReadModelWriter(path) as writer:
        report = writer.sync(repos, progress=progress)
        writer.apply(envelopes)
    return report
