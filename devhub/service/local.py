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
    from devhub.reconcile.writeback import PendingJson
    from devhub.service.hub import Hub
    from devhub.service.port import (
        ConsistencyReport,
        DaemonState,
        ErrorsReport,
        HealthView,
        MessageFilters,
        MessageView,
        Orientation,
        ProgressFilters,
        ProgressView,
        RegisteredRepo,
        RelayState,
        RepoView,
        SearchHit,
        Summary,
        TaskFilters,
        TaskView,
        WorkplanFilters,
        WorkplanIndexEntry,
        WorkplanView,
        WriteBody,
        WriteResult,
    )
    from devhub.service.records_create import DependencyRecord
    from devhub.service.records_decisions import (
        DecisionFilters,
        DecisionRecord,
        TokenEventFilters,
        TokenEventRecord,
        TokenSummary,
    )
    from devhub.service.records_statehub import (
        AdrValidation,
        CatalogRepo,
        DomainRecord,
        DomainSummary,
        NextStep,
        RepoDispatch,
        RepoFilters,
        TopicDetail,
        TopicRecord,
        WritebackReport,
    )
    from devhub.service.records_time import ActivityReport, RelayHistory, WorkplanHistory
    from devhub.service.writes import WriteOutcome

T = TypeVar("T")


def journal_envelopes(config: Settings, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Every journal envelope after `after_seq`, read without taking the journal's writer lock (a fleet hub on
    PostgreSQL: its committed writes there)."""
    if config.fleet_database_url is not None:  # -- fleet database --
        from devhub.store.pg.journal import read_writes

        return read_writes(config.fleet_database_url, after_seq)
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
            config.database_path,
            repos,
            journal_envelopes(config),
            progress=progress,
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
        from devhub.service.snapshot_reads import SnapshotReads
        from devhub.service.statehub_reads import StateHubReads

        self.hub = hub
        self.statehub = StateHubReads(hub)
        self.fleet = SnapshotReads(hub)  # -- fleet snapshot --: the fleet's copy merged into reads

    def _with_relay(self, data: dict[str, Any]) -> dict[str, Any]:
        """A summary-like answer plus the relay state: decided here, once, for /orient and /state/summary."""
        data["relay"] = self.hub.relay_status().to_json()
        return data

    # -- reads -------------------------------------------------------------------------------------

    async def health(self) -> HealthView:
        return self.hub.health()

    async def orient(self, repo: str | None = None, domain: str | None = None) -> Orientation:
        from devhub.store.orient import orient

        return self._with_relay(await self.hub.read(lambda r: orient(r, repo=repo, domain=domain)))

    async def summary(self) -> Summary:
        from devhub.store.orient import summary

        # devhub's own keys (repos, workplans, tasks, problems, relay …) plus the real hub's (totals, …).
        overview = await self.statehub.state_overview()
        overview["blocking_decisions"] = await self.fleet.decisions(overview["blocking_decisions"], {"blocking": True})
        return self._with_relay({**await self.hub.read(summary), **overview})

    async def workplans(self, filters: WorkplanFilters) -> list[WorkplanView]:
        from devhub.service.filters import workplan_status_filter
        from devhub.store import queries

        args: dict[str, Any] = dict(filters)
        args["status"] = workplan_status_filter(args.get("status"))
        topic_id = args.pop("topic_id", None)
        if topic_id is not None:
            slug = await self.statehub.topic_slug(topic_id)
            if slug is None or args.get("topic_slug") not in (None, slug):
                return []  # no topic has this slug or fleet UUID: the filter matches nothing
            args["topic_slug"] = slug
        return await self.hub.read(lambda r: queries.list_workplans(r, **args), search=bool(args.get("q")))

    async def workplan_index(self) -> list[WorkplanIndexEntry]:
        from devhub.store import queries

        return await self.hub.read(queries.workplan_index)

    async def workplan(self, ident: str, repo: str | None = None) -> WorkplanView:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.get_workplan(r, ident, repo))

    async def tasks(self, filters: TaskFilters) -> list[TaskView]:
        from devhub.service.filters import task_status_filter
        from devhub.store import queries

        args: dict[str, Any] = dict(filters)
        args["status"] = task_status_filter(args.get("status"))
        return await self.hub.read(lambda r: queries.list_tasks(r, **args))

    async def task(self, ident: str, repo: str | None = None) -> TaskView:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.get_task(r, ident, repo))

    async def progress(self, filters: ProgressFilters) -> list[ProgressView]:
        from devhub.adapters.api.params import timestamp
        from devhub.store import activity

        args: dict[str, Any] = dict(filters)
        args["since"] = timestamp("since", args.get("since"))
        args["until"] = timestamp("until", args.get("until"))
        return await self.hub.read(lambda r: activity.list_progress(r, **args))

    async def messages(self, filters: MessageFilters) -> list[MessageView]:
        from devhub.store import activity

        args: dict[str, Any] = {k: v for k, v in filters.items() if v is not None}
        return await self.fleet.messages(await self.hub.read(lambda r: activity.list_messages(r, **args)), args)

    async def search(self, q: str, limit: int = 50) -> list[SearchHit]:
        from devhub.store import activity

        return await self.hub.read(lambda r: activity.search(r, q, limit=limit), search=True)

    async def repos(self) -> list[RepoView]:
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

    async def pending_writeback(self, repo: str | None = None) -> PendingJson:
        from devhub.reconcile.writeback_create import collect_all
        from devhub.service.relay_link import created_uuids

        found = await self.hub.read(lambda r: collect_all(r, repo))
        uuid_of = created_uuids(self.hub.config.relay_dir)
        for item in found["created"]:
            key = f"{item['kind']}:{item['repo']}:{item['id']}"
            uuid = uuid_of(key)
            if uuid:
                found["created_uuids"][key] = uuid
        return found

    # -- decisions and token events ---------------------------------------------------------------

    async def decisions(self, filters: DecisionFilters) -> list[DecisionRecord]:
        from devhub.store.decisions import DECISION_LIMIT_DEFAULT, list_decisions

        args: dict[str, Any] = dict(filters)
        found = await self.hub.read(
            lambda r: list_decisions(
                r,
                decision_type=args.get("decision_type"),
                topic=args.get("topic_id"),
                status=args.get("status"),
                domain=args.get("domain"),
                blocking=bool(args.get("blocking")),
                limit=args.get("limit") or DECISION_LIMIT_DEFAULT,
            )
        )
        args["limit"] = args.get("limit") or DECISION_LIMIT_DEFAULT
        return await self.fleet.decisions(cast("list[DecisionRecord]", found), args)

    async def decision(self, decision_id: str) -> DecisionRecord:
        from devhub.errors import NotFound
        from devhub.service.record_fields import is_uuid
        from devhub.store.decisions import get_decision

        if not is_uuid(decision_id):
            from devhub.errors import ValidationFailed

            raise ValidationFailed(f"decision_id {decision_id!r} is not a UUID", {"decision_id": "must be a UUID"})
        found = await self.hub.read(lambda r: get_decision(r, decision_id))
        if found is None:
            found = await self.fleet.decision(decision_id)  # -- fleet snapshot --: one only the fleet holds
        if found is None:
            raise NotFound(f"Decision {decision_id} not found")
        return cast("DecisionRecord", found)

    async def pending_decisions(self, topic: str | None = None, domain: str | None = None) -> list[DecisionRecord]:
        from devhub.store.decisions import pending_decisions

        found = await self.hub.read(lambda r: pending_decisions(r, topic=topic, domain=domain))
        filters = {"blocking": True, "topic_id": topic, "domain": domain}
        return await self.fleet.decisions(cast("list[DecisionRecord]", found), filters)

    async def record_decision(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        from devhub.service.decision_writes import record_decision
        from devhub.service.port import write_context

        return _result(await record_decision(self.hub.writes, body, write_context(body, key, agent)))

    async def patch_decision(
        self, decision_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.decision_writes import patch_decision
        from devhub.service.port import write_context

        return _result(await patch_decision(self.hub.writes, decision_id, body, write_context(body, key, agent)))

    async def resolve_decision(
        self, decision_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.decision_writes import resolve_decision
        from devhub.service.port import write_context

        return _result(await resolve_decision(self.hub.writes, decision_id, body, write_context(body, key, agent)))

    async def token_events(self, filters: TokenEventFilters) -> list[TokenEventRecord]:
        from devhub.store.token_events import TOKEN_EVENT_LIMIT_DEFAULT, list_token_events

        args: dict[str, Any] = dict(filters)
        limit: int = args.pop("limit", None) or TOKEN_EVENT_LIMIT_DEFAULT
        found = await self.hub.read(lambda r: list_token_events(r, filters=args, limit=limit))
        return cast("list[TokenEventRecord]", found)

    async def token_event(self, event_id: str) -> TokenEventRecord:
        from devhub.errors import NotFound
        from devhub.store.token_events import get_token_event

        found = await self.hub.read(lambda r: get_token_event(r, event_id))
        if found is None:
            raise NotFound("Token event not found")
        return cast("TokenEventRecord", found)

    async def record_token_event(
        self, body: WriteBody, key: str | None = None, agent: str | None = None, *, upsert: bool = False
    ) -> WriteResult:
        from devhub.service.port import write_context
        from devhub.service.token_writes import record_token_event

        outcome = await record_token_event(self.hub.writes, body, write_context(body, key, agent), upsert=upsert)
        return _result(outcome)

    async def token_summary(self, scope: str, ident: str) -> TokenSummary:
        from devhub.store.token_events import token_summary

        return cast("TokenSummary", await self.hub.read(lambda r: token_summary(r, scope, ident)))

    # -- statehub read parity (served by service/statehub_reads.py) ---------------------------------

    async def domains(self) -> list[DomainRecord]:
        return await self.fleet.by_slug(await self.statehub.domains(), "domains")

    async def domain(self, slug: str) -> DomainRecord:
        return await self.statehub.domain(slug)

    async def topics(self, domain: str | None = None) -> list[TopicRecord]:
        return await self.fleet.by_slug(await self.statehub.topics(domain), "topics", domain)

    async def topic(self, slug: str) -> TopicDetail:
        return await self.statehub.topic(slug)

    async def repo_catalog(self, filters: RepoFilters | None = None) -> list[CatalogRepo]:
        local = await self.statehub.repos(filters)
        filtered = any(value is not None for value in (filters or {}).values())
        return local if filtered else await self.fleet.by_slug(local, "repos")  # fleet rows: no classification

    async def repo(self, slug: str) -> CatalogRepo:
        return await self.statehub.repo(slug)

    async def repo_dispatch(self, slug: str) -> RepoDispatch:
        return await self.statehub.repo_dispatch(slug)

    async def domain_summary(self, domain_slug: str) -> DomainSummary:
        return await self.statehub.domain_summary(domain_slug)

    async def next_steps(self) -> list[NextStep]:
        return await self.statehub.next_steps()

    async def validate_repo_adr(self, repo_path: str, domain_slug: str | None = None) -> AdrValidation:
        return await self.statehub.validate_repo_adr(repo_path, domain_slug)

    async def writeback_repo(self, repo_slug: str) -> WritebackReport:
        return await self.statehub.writeback_repo(repo_slug)

    # -- messages: thread, archive, reply ---------------------------------------------------------

    async def message_thread(self, message_id: str) -> list[MessageView]:
        from devhub.errors import NotFound
        from devhub.store import activity

        local = await self.hub.read(lambda r: activity.message_thread(r, message_id))
        thread = await self.fleet.thread(message_id, local)
        if thread is None:
            raise NotFound(f"no message with id {message_id!r}")
        return thread

    async def archive_message(
        self, message_id: str, body: WriteBody | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        body = body if body is not None else {}
        return _result(await self.hub.writes.archive_message(message_id, body, write_context(body, key, agent)))

    async def reply_to_message(
        self, message_id: str, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.writes.reply_to_message(message_id, body, write_context(body, key, agent)))

    # -- creating work offline --

    async def create_task(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.creates.create_task(body, write_context(body, key, agent)))

    async def create_workplan(self, body: WriteBody, key: str | None = None, agent: str | None = None) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.creates.create_workplan(body, write_context(body, key, agent)))

    async def archive_workplan(
        self, ident: str, repo: str | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        """The real hub's DELETE archives: the same journaled write as a status change to `archived`."""
        from devhub.service.port import write_context

        body = {"status": "archived"}
        return _result(await self.hub.writes.patch_workplan(ident, repo, body, write_context(body, key, agent)))

    async def dependencies(self, ident: str, repo: str | None = None) -> list[DependencyRecord]:
        from devhub.store.dependency_writes import list_dependencies
        from devhub.store.queries import resolve_workplan_row

        row = await self.hub.read(lambda r: resolve_workplan_row(r, ident, repo))
        edges = await self.hub.read(lambda r: list_dependencies(r, row["repo"], row["id"]))
        return cast("list[DependencyRecord]", edges)  # the store builds exactly the DependencyRecord keys

    async def create_dependency(
        self, ident: str, repo: str | None, body: WriteBody, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        return _result(await self.hub.dependency_writes.create(ident, repo, body, write_context(body, key, agent)))

    async def delete_dependency(
        self, ident: str, dep_id: str, repo: str | None = None, key: str | None = None, agent: str | None = None
    ) -> WriteResult:
        from devhub.service.port import write_context

        ctx = write_context({}, key, agent)
        return _result(await self.hub.dependency_writes.delete(ident, dep_id, repo, ctx))

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

