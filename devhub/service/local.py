"""`LocalHub`: the HubPort over an in-process Hub (the daemon's REST, MCP and dashboard; the CLI with no daemon).

Also the no-daemon helpers that work on the data directory without a Hub: the daemon's lock
holder, a read-only walk of the journal, a one-off read-model sync, and a delayed progress bar.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from devhub.daemon.discovery import lock_holder
from devhub.daemon.lockfile import FileLock, FileLockHeld
from devhub.registry import Registry, Repo
from devhub.settings import Settings
from devhub.store.build import ProgressCallback, SyncReport

if TYPE_CHECKING:
    from devhub.service.hub import Hub
    from devhub.service.port import (
        ConsistencyReport,
        DaemonState,
        ErrorsReport,
        Health,
        MessageRecord,
        Orientation,
        ProgressFilters,
        ProgressRecord,
        RegisteredRepo,
        RelayState,
        RepoRecord,
        SearchHit,
        Summary,
        TaskFilters,
        TaskRecord,
        WorkplanFilters,
        WorkplanIndexEntry,
        WorkplanRecord,
        WriteBody,
        WriteResult,
    )
    from devhub.service.records_time import ActivityReport, RelayHistory, WorkplanHistory
    from devhub.service.writes import WriteOutcome

T = TypeVar("T")


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


def rebuild_read_model(config: Settings) -> tuple[list[Repo], SyncReport]:
    """Drop and rebuild the read model from the registered repos plus the journal; refused while a daemon owns it."""
    from devhub.errors import AlreadyRunning
    from devhub.store.writer import rebuild as rebuild_model

    holder = lock_holder(config.data_dir)
    if holder:
        raise AlreadyRunning(
            f"the daemon (pid {holder.get('pid')}) owns {config.data_dir}; stop it with `devhub down` first"
        )
    repos = Registry(config.registry_path).repos()
    with delayed_progress("Rebuilding") as progress:
        report = rebuild_model(
            config.database_path, repos, journal_envelopes(config), progress=progress,
            max_file_bytes=config.max_workplan_bytes,
        )
    return repos, report


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


def _result(outcome: WriteOutcome) -> WriteResult:
    from devhub.service.port import WriteResult

    return WriteResult(body=outcome.body, status_code=outcome.status_code, replayed=outcome.replayed)


class LocalHub:
    """Every HubPort operation served from an in-process Hub, with the very queries REST has always run."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def _with_relay(self, data: dict[str, Any]) -> dict[str, Any]:
        """A summary-like answer plus the relay state: decided here, once, for /orient and /state/summary."""
        data["relay"] = self.hub.relay_status().to_json()
        return data

    # -- reads -------------------------------------------------------------------------------------

    async def health(self) -> Health:
        return self.hub.health()

    async def orient(self, repo: str | None = None, domain: str | None = None) -> Orientation:
        from devhub.store.orient import orient

        return self._with_relay(await self.hub.read(lambda r: orient(r, repo=repo, domain=domain)))

    async def summary(self) -> Summary:
        from devhub.store.orient import summary

        return self._with_relay(await self.hub.read(summary))

    async def workplans(self, filters: WorkplanFilters) -> list[WorkplanRecord]:
        from devhub.store import queries

        args: dict[str, Any] = dict(filters)
        return await self.hub.read(lambda r: queries.list_workplans(r, **args), search=bool(args.get("q")))

    async def workplan_index(self) -> list[WorkplanIndexEntry]:
        from devhub.store import queries

        return await self.hub.read(queries.workplan_index)

    async def workplan(self, ident: str, repo: str | None = None) -> WorkplanRecord:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.get_workplan(r, ident, repo))

    async def tasks(self, filters: TaskFilters) -> list[TaskRecord]:
        from devhub.store import queries

        args: dict[str, Any] = dict(filters)
        return await self.hub.read(lambda r: queries.list_tasks(r, **args))

    async def task(self, ident: str, repo: str | None = None) -> TaskRecord:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.get_task(r, ident, repo))

    async def progress(self, filters: ProgressFilters) -> list[ProgressRecord]:
        from devhub.adapters.api.params import timestamp
        from devhub.store import activity

        args: dict[str, Any] = dict(filters)
        args["since"] = timestamp("since", args.get("since"))
        args["until"] = timestamp("until", args.get("until"))
        return await self.hub.read(lambda r: activity.list_progress(r, **args))

    async def messages(self, to_agent: str | None = None, unread_only: bool = False) -> list[MessageRecord]:
        from devhub.store import activity

        return await self.hub.read(lambda r: activity.list_messages(r, to_agent=to_agent, unread_only=unread_only))

    async def search(self, q: str, limit: int = 50) -> list[SearchHit]:
        from devhub.store import activity

        return await self.hub.read(lambda r: activity.search(r, q, limit=limit), search=True)

    async def repos(self) -> list[RepoRecord]:
        from devhub.store import activity

        return await self.hub.read(activity.list_repos)

    async def errors(self, repo: str | None = None) -> ErrorsReport:
        from devhub.store import activity

        problems = await self.hub.read(lambda r: activity.list_problems(r, repo=repo))
        conflicts = await self.hub.read(activity.list_conflicts)
        return {
            "problems": problems,
            "conflicts": conflicts,
            "counts": {
                "errors": sum(1 for p in problems if p["severity"] == "error"),
                "warnings": sum(1 for p in problems if p["severity"] == "warning"),
                "conflicts": len(conflicts),
            },
        }

    async def relay(self) -> RelayState:
        return self.hub.relay_status().to_json()

    async def daemon_status(self) -> DaemonState:
        import os

        hub = self.hub
        journal = hub.journal
        return {
            "pid": os.getpid(),
            "data_dir": str(hub.config.data_dir),
            "url": hub.config.base_url,
            "role": hub.config.role,
            "profile": hub.profile_name,
            "repos": [r.slug for r in hub.repos],
            "missing_repos": [{"slug": r.slug, "path": r.path} for r in hub.missing_repos()],
            "watcher": hub.watcher_status(),
            "relay": hub.relay_status().to_json(),
            "journal": {"last_seq": journal.last_seq, "bytes": journal.size_bytes} if journal else None,
            "read_model": hub.read_model_status(),
            "uptime_seconds": round(time.time() - hub.started_at, 1),
        }

    # -- writes: validate -> journal -> overlay, in hub.writes ------------------------------------------

    async def patch_task(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.writes.patch_task(ident, repo, body, write_context(body, key, agent)))

    async def bulk_status_sync(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.writes.bulk_status_sync(body, write_context(body, key, agent)))

    async def patch_workplan(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.writes.patch_workplan(ident, repo, body, write_context(body, key, agent)))

    async def add_progress(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.writes.add_progress(body, write_context(body, key, agent)))

    async def send_message(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.writes.send_message(body, write_context(body, key, agent)))

    async def mark_message_read(
        self, message_id: str, body: WriteBody | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        body = body if body is not None else {}
        return _result(await self.hub.writes.mark_message_read(message_id, body, write_context(body, key, agent)))

    async def relay_now(self) -> RelayState:
        if self.hub.relay is not None:
            self.hub.relay.wake(resume=True)
        return self.hub.relay_status().to_json()

    # -- registration, checks, files ---------------------------------------------------------------

    async def register_repo(self, path: str) -> list[RegisteredRepo]:
        from dataclasses import asdict

        outcomes = await self.hub.register_repos([path])  # a str: "" must not mean "."
        return [{"repo": asdict(o.repo), "warnings": list(o.warnings)} for o in outcomes]

    async def check_consistency(self, repo: str | None = None) -> ConsistencyReport:
        from devhub.service.checks import exit_code, run_checks

        findings = await self.hub.read(lambda r: run_checks(r, repo=repo))
        return {"findings": findings, "exit_code": exit_code(findings)}

    async def workplan_markdown(self, ident: str) -> str:
        from devhub.errors import NotFound
        from devhub.store.queries import workplan_markdown
        from devhub.store.repofiles import RepoFiles

        root, relative = await self.hub.read(lambda r: workplan_markdown(r, ident))
        files = RepoFiles(root, max_bytes=self.hub.config.max_workplan_bytes)
        try:  # read afresh, so the file is judged again: it may have become a link out of the repo since the build
            data = await asyncio.to_thread(files.read, relative)
        except FileNotFoundError:
            raise NotFound(f"workplan {ident!r}: its file {relative} is gone (the read model will catch up)") from None
        except OSError as exc:
            raise NotFound(f"workplan {ident!r}: its file {relative} cannot be read ({exc.strerror or exc})") from None
        return data.decode("utf-8", errors="replace")

    async def brief(self, repo: str) -> str:
        from devhub.reconcile.brief import brief_for_repo

        return await self.hub.read(lambda r: brief_for_repo(r, repo))

    # -- time (the dashboard's charts) --

    async def activity(self, days: int = 30, by: str = "workplan") -> ActivityReport:
        from datetime import UTC, datetime

        from devhub.service.time_args import check_activity_args
        from devhub.store.timeline import activity

        check_activity_args(days, by)
        today = datetime.now(UTC).date()
        report = await self.hub.read(lambda r: activity(r, days=days, by=by, today=today))
        return cast("ActivityReport", report)

    async def workplan_history(self, ident: str, repo: str | None = None) -> WorkplanHistory:
        from devhub.store.timeline import workplan_history

        history = await self.hub.read(lambda r: workplan_history(r, ident, repo))
        return cast("WorkplanHistory", history)

    async def relay_history(self, hours: int = 24) -> RelayHistory:
        from devhub.service.time_args import check_relay_hours

        check_relay_hours(hours)
        sampler = self.hub.relay_sampler
        samples = await asyncio.to_thread(sampler.history, hours) if sampler is not None else []
        interval = sampler.interval if sampler is not None else self.hub.config.relay_sample_seconds
        return {"hours": hours, "interval_seconds": interval, "samples": samples}  # type: ignore[typeddict-item]

