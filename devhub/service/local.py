"""The no-daemon path for CLI commands: bring the read model up to date, then read it.

When a daemon owns the data directory it keeps the read model fresh and is its only
writer, so the CLI just reads. Otherwise the CLI takes the daemon lock for the length of
one sync (files + journal) and becomes the writer itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from devhub.daemon.lockfile import FileLock, FileLockHeld, is_locked
from devhub.registry import Registry, Repo
from devhub.settings import Settings
from devhub.store.build import ProgressCallback, SyncReport

T = TypeVar("T")


def daemon_holder(config: Settings) -> dict[str, Any] | None:
    """The running daemon's details (pid, url) if one owns this data directory."""
    return is_locked(config.lock_path)


def journal_envelopes(config: Settings, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Every journal envelope after `after_seq`, read without taking the journal's writer lock."""
    if not config.journal_dir.exists():
        return iter(())
    return _read_journal(config.journal_dir, after_seq)


def _read_journal(directory: Path, after_seq: int) -> Iterator[dict[str, Any]]:
    from relay.journal import Journal

    with Journal.open(directory, read_only=True) as journal:
        yield from journal.records(after_seq)


@contextmanager
def delayed_progress(label: str, *, after_seconds: float = 1.0) -> Iterator[ProgressCallback]:
    """A progress callback that shows a rich bar only once the work has taken over a second."""
    started = time.monotonic()
    state: dict[str, Any] = {}

    def callback(done: int, total: int) -> None:
        if "bar" not in state:
            if time.monotonic() - started < after_seconds:
                return
            from rich.progress import Progress

            bar = Progress(transient=True)
            bar.start()
            state["bar"] = bar
            state["task"] = bar.add_task(label, total=total)
        state["bar"].update(state["task"], completed=done, total=total)

    try:
        yield callback
    finally:
        if "bar" in state:
            state["bar"].stop()


def sync_read_model(config: Settings, *, show_progress: bool = True) -> SyncReport | None:
    """Sync files and journal into the read model unless a daemon owns it (then None)."""
    from devhub.store.writer import ReadModelWriter

    lock = FileLock(config.lock_path)
    try:
        lock.acquire({"pid": None, "purpose": "cli sync"})
    except FileLockHeld:
        return None
    try:
        repos = Registry(config.registry_path).repos()
        with (
            ReadModelWriter(config.database_path, max_file_bytes=config.max_workplan_bytes) as writer,
            delayed_progress("Reading workplans") as progress,
        ):
            return writer.catch_up(
                repos,
                lambda after_seq: journal_envelopes(config, after_seq),
                progress=progress if show_progress else None,
            )
    finally:
        lock.release()


def registered_repos(config: Settings) -> list[Repo]:
    return Registry(config.registry_path).repos()


def read(config: Settings, query: Callable[[Any], Awaitable[T]], *, sync: bool = True) -> T:
    """Run one async query against a fresh read model and return its result."""
    from devhub.store.reader import Reader

    if sync or not config.database_path.exists():
        sync_read_model(config)

    async def run() -> T:
        reader = await Reader.open(Path(config.database_path), budget_seconds=config.search_budget_seconds)
        try:
            return await query(reader)
        finally:
            await reader.close()

    return asyncio.run(run())
