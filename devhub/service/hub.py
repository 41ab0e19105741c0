"""The running hub's services, wired once: read model writer and readers, journal, writes, watcher, events.

REST, MCP and the dashboard all hold the same Hub and call its `read` and `writes`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import sqlite3
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from devhub._version import __version__
from devhub.agents.profiles import DEFAULT_PROFILE
from devhub.errors import ReadModelUnavailable, StorageFull
from devhub.records import HealthView
from devhub.registry import RegisterOutcome, Registry, Repo
from devhub.service.commit_queue import CommitQueue
from devhub.service.events import EventBus
from devhub.service.follow import RepoFollower
from devhub.service.watch import Watcher
from devhub.service.writes import Writes
from devhub.service.writes_create import CreateWrites
from devhub.service.writes_dependencies import DependencyWrites
from devhub.settings import Settings
from devhub.store.idempotency import IdempotencyRecord
from devhub.store.reader import Reader, ReaderPool
from devhub.store.writer import ReadModelWriter
from relay.dead_letters import DEAD_LETTERS_FILE, DeadLetter, DeadLetters
from relay.status import RelayStatus

if TYPE_CHECKING:
    from devhub.service.fleet_snapshot import FleetSnapshot, RefreshReport
    from devhub.service.relay_samples import RelaySampler
    from devhub.store.pg.journal import PgJournal
    from relay.forwarder import Forwarder
    from relay.journal import Journal

log = logging.getLogger("devhub.service.hub")
T = TypeVar("T")

READER_POOL_SIZE = 4
# Full-text searches get connections of their own: a burst of costly searches (any web page can send
# them) then waits for these, never for the pool every other read uses.
SEARCH_POOL_SIZE = 2
# Enough threads that every concurrent writer can wait inside one shared fsync (group commit).
JOURNAL_THREADS = 64
HANDOVER_WAIT_SECONDS = 0.5
# How often the serving hub checks that its database file is still the one it opened.
DATABASE_CHECK_SECONDS = 0.5
# How long a read waits for a rebuild in progress before it answers 503.
REBUILD_READ_WAIT_SECONDS = 5.0
# How often a read model that ran out of space retries the writes it could not apply.
REAPPLY_SECONDS = 1.0
# A fleet replica on PostgreSQL catches up at least this often without a NOTIFY, and reports its position.
SHARED_IDLE_SECONDS = 5.0
# After the database failed to answer a read's catch-up, reads skip asking it for this long.
SHARED_RETRY_SECONDS = 2.0


def storage_full(exc: Exception) -> StorageFull:
    """The 507 for a journal that is full or on a full disk: the journal's own message already says what
    happened, that nothing was written and what to do, so it is passed on as it is, once."""
    return StorageFull(str(exc))


class Hub:
    """Everything a daemon serves from; started and stopped by the app's lifespan."""

    def __init__(self, config: Settings) -> None:
        self.config = config
        self.profile_name = config.profile or DEFAULT_PROFILE
        self.events = EventBus()
        self.started_at = time.time()
        self.repos: list[Repo] = []
        self.writer: ReadModelWriter | None = None
        self.journal: Journal | PgJournal | None = None  # PgJournal: a fleet hub on PostgreSQL
        self.relay: Forwarder | None = None
        self.watcher: Watcher | None = None
        self.follower: RepoFollower | None = None
        self._repos_lock = asyncio.Lock()  # one change of the served repo list at a time
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devhub-writer")
        self._journal_threads = ThreadPoolExecutor(max_workers=JOURNAL_THREADS, thread_name_prefix="devhub-journal")
        budget = config.search_budget_seconds
        self._readers = ReaderPool(config.database_path, READER_POOL_SIZE, budget_seconds=budget)
        self._search_readers = ReaderPool(config.database_path, SEARCH_POOL_SIZE, budget_seconds=budget)
        self._database_identity: tuple[int, int] | None = None
        # "ok", "rebuilding" (its file went away) or "degraded" (out of space: writes journaled, not applied).
        self.read_model_state = "ok"
        self.read_model_reason: str | None = None
        self._readable = asyncio.Event()
        self._readable.set()
        self._rebuild_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        # Journaled envelopes waiting for every lower seq to be applied first (see _apply).
        self._unapplied: dict[int, dict[str, Any]] = {}
        self._applied_through = 0
        self._apply_lock = asyncio.Lock()
        self._handed_over = asyncio.Event()
        # A fleet hub on PostgreSQL shares its writes with other replicas: keys are looked up there.
        self.shared = config.fleet_database_url is not None
        self._shared_failure_logged = False
        self._shared_retry_at = 0.0
        # Local journal: journal + apply in one writer-thread step per batch of concurrent writes.
        self._commits: CommitQueue[list[dict[str, Any]], list[dict[str, Any]]] = CommitQueue(self._commit_batch)
        self.writes = Writes(
            read=self.read,
            append=self._append,
            apply=self._apply,
            pending_relay=config.role == "dev",
            find_key=self._find_shared_key if self.shared else None,
            persist=None if self.shared else self._persist,
        )
        self.creates = CreateWrites(self.writes)  # -- creating work offline --
        self.dependency_writes = DependencyWrites(self.writes)

    @property
    def open_journal(self) -> Journal | PgJournal:
        """The journal `start` opened; using the hub before it started is a bug, said plainly."""
        if self.journal is None:
            raise RuntimeError("the hub's journal is not open: call start() first")
        return self.journal

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self, *, serve: bool = True) -> None:
        """Open the journal and read model, catch up on files and journal; when serving, watch and relay."""
        from relay.journal import Journal

        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        if self.shared:
            self.journal = await self._in_journal_thread(self._open_shared_journal)
        else:
            self.journal = await self._in_journal_thread(
                Journal.open, self.config.journal_dir, max_bytes=self.config.journal_max_bytes
            )
        report = self.open_journal.open_report
        if report.quarantined:
            log.warning("journal: %s corrupt line(s) quarantined at open", report.quarantined)
        self.repos = Registry(self.config.registry_path).refresh()
        self.writer = await self._in_writer(
            lambda: ReadModelWriter(self.config.database_path, max_file_bytes=self.config.max_workplan_bytes)
        )
        await self._in_writer(self._catch_up)
        self._database_identity = _file_identity(self.config.database_path)
        await self._readers.open()
        await self._search_readers.open()
        if not serve:
            return
        self.watcher = self._new_watcher()
        self._tasks.append(asyncio.create_task(self.watcher.run(), name="devhub-watcher"))
        self._tasks.append(asyncio.create_task(self._watch_database(), name="devhub-database-check"))
        self._start_following()
        if self.shared:
            self._tasks.append(asyncio.create_task(self._follow_shared_writes(), name="devhub-shared-writes"))
        if self.config.relay.enabled:
            await self._start_relay()
            self._start_snapshot()  # -- fleet snapshot --
        self._start_relay_samples()

    def _catch_up(self) -> None:
        assert self.writer is not None
        self.writer.catch_up(self.repos, self.open_journal.records)
        self._applied_through = self.writer.applied_seq

    async def _start_relay(self) -> None:
        from devhub.service.relay_link import start_relay

        self.relay = await start_relay(
            self.config.relay,
            relay_dir=self.config.relay_dir,
            journal=self.open_journal,
            read=self.read,
            publish=self.events.publish,
            secret=self.config.secret,
            topic_uuid=lambda slug: self.snapshot.topic_id(slug) if self.snapshot is not None else None,
        )

    async def stop(self) -> None:
        """Stop watching and relaying, close readers, the writer and the journal."""
        if self.follower is not None:
            self.follower.stop()
        if self.watcher is not None:
            self.watcher.stop()
        if self.relay is not None:
            await self.relay.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.relay_sampler is not None:
            self.relay_sampler.close()
        if self.snapshot is not None:
            await self.snapshot.aclose()
        await self._readers.close()
        await self._search_readers.close()
        if self.writer is not None:
            await self._in_writer(self.writer.close)
        if self.journal is not None:
            await self._in_journal_thread(self.journal.close)
        self._writer_thread.shutdown(wait=True)
        self._journal_threads.shutdown(wait=True)

    # -- the three primitives adapters use -------------------------------------------------------

    async def read(self, query: Callable[[Reader], Awaitable[T]], *, search: bool = False) -> T:
        """Run one read-only query on a pooled connection (a full-text search: on the search pool), after a
        rebuild of a vanished database if one runs."""
        pool = self._search_readers if search else self._readers
        if self.shared:
            await self._catch_up_shared()  # another replica's write is visible here at once
        await self._until_readable()
        try:
            async with pool.borrow() as reader:
                return await query(reader)
        except sqlite3.DatabaseError as exc:
            if not self._database_replaced():
                raise
            await self._rebuild(f"a read failed ({exc}) and the database file was deleted or replaced")
            await self._until_readable()
            async with pool.borrow() as reader:
                return await query(reader)

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer_thread, fn, *args)

    async def _in_journal_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._journal_threads, lambda: fn(*args, **kwargs))

    async def _append(self, drafts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Make drafts durable in the journal (one fsync shared with concurrent writers)."""
        from relay.errors import StorageFull as JournalStorageFull

        if self.read_model_state == "degraded":
            raise self._degraded_refusal()
        try:
            if len(drafts) == 1:
                envelope = await self._in_journal_thread(self.open_journal.append, drafts[0])
                return [envelope]
            return await self._in_journal_thread(self.open_journal.append_many, drafts)
        except JournalStorageFull as exc:
            raise storage_full(exc) from exc

    def _degraded_refusal(self) -> StorageFull:
        # Refused before the journal: a write saved now could be neither read back nor
        # recognised as a replay (the idempotency record lives in the read model).
        return StorageFull(
            f"the read model cannot take writes: {self.read_model_reason}. This write was NOT saved; "
            "writes answered earlier are saved in the journal and show once space is freed."
        )

    async def _apply(self, envelopes: list[dict[str, Any]]) -> None:
        """Apply journaled envelopes to the read model strictly in seq order, then answer (read your writes).

        Concurrent writers finish their journal appends in one group commit but resume in any
        order; an envelope is applied only after every lower seq, which is durable already and
        either handed over by its own request in a moment or read back from the journal.
        """
        assert self.writer is not None
        for envelope in envelopes:
            self._unapplied[envelope["seq"]] = envelope
        self._handed_over.set()
        target = max(envelope["seq"] for envelope in envelopes)
        async with self._apply_lock:
            while self._applied_through < target:
                if self.read_model_state == "degraded":
                    return  # a lower seq could not be applied: this one waits behind it, saved
                batch = self._take_contiguous()
                if not batch and self.shared:
                    # The seqs below are other replicas' writes, committed before this one: read them.
                    batch = await self._in_writer(self._journal_batch, self._applied_through, target)
                if not batch:
                    self._handed_over.clear()
                    try:
                        await asyncio.wait_for(self._handed_over.wait(), timeout=HANDOVER_WAIT_SECONDS)
                        continue
                    except TimeoutError:
                        # That request never handed its envelope over (cancelled?): read it back.
                        batch = await self._in_writer(self._journal_batch, self._applied_through, target)
                if not await self._apply_batch(batch):
                    return  # saved in the journal; applied when space returns (see _reapply_when_space)
        self.events.publish("write", seqs=[e["seq"] for e in envelopes], kinds=sorted({e["kind"] for e in envelopes}))

    async def _apply_batch(self, batch: list[dict[str, Any]]) -> bool:
        """Apply one contiguous batch (apply lock held); False when the read model is out of space."""
        assert self.writer is not None
        try:
            await self._in_writer(self.writer.apply, batch)
        except sqlite3.DatabaseError as exc:
            if _out_of_space(exc):
                self._degrade(f"its disk is full ({exc})")
                return False
            if not self._database_replaced():
                raise
            # Rebuilt through the last applied seq; this batch is applied on top right after.
            await self._rebuild_locked(f"a write could not be applied ({exc}); the database file was deleted")
            await self._in_writer(self.writer.apply, batch)
        self._applied(batch)
        return True

    def _applied(self, batch: list[dict[str, Any]]) -> None:
        self._applied_through = batch[-1]["seq"]
        if self.relay is not None:
            self.relay.offer(batch)  # in seq order, so the relay need not re-read the journal
        for seq in [s for s in self._unapplied if s <= self._applied_through]:
            del self._unapplied[seq]

    def _take_contiguous(self) -> list[dict[str, Any]]:
        batch = []
        seq = self._applied_through + 1
        while seq in self._unapplied:
            batch.append(self._unapplied.pop(seq))
            seq += 1
        return batch

    def _journal_batch(self, after_seq: int, through_seq: int) -> list[dict[str, Any]]:
        return list(itertools.takewhile(lambda e: e["seq"] <= through_seq, self.open_journal.records(after_seq)))

    # -- read model upkeep: a vanished database file, a full disk ----------------------------------------

    def read_model_status(self) -> dict[str, Any]:
        return {"state": self.read_model_state, "reason": self.read_model_reason, "applied_seq": self._applied_through}

    async def _until_readable(self) -> None:
        if self._readable.is_set():
            return
        try:
            await asyncio.wait_for(self._readable.wait(), timeout=REBUILD_READ_WAIT_SECONDS)
        except TimeoutError:
            raise ReadModelUnavailable(
                f"the read model is being rebuilt from files + journal ({self.read_model_reason}); "
                "no write is lost, retry in a few seconds"
            ) from None

    def _database_replaced(self) -> bool:
        """True when the database file is gone or is not the file the writer opened."""
        return self._database_identity is not None and _file_identity(self.config.database_path) != (
            self._database_identity
        )

    async def _watch_database(self) -> None:
        while True:
            await asyncio.sleep(DATABASE_CHECK_SECONDS)
            if not self._database_replaced():
                continue
            try:
                await self._rebuild("its database file was deleted or replaced while the daemon ran")
            except Exception:  # e.g. no space for the new file: the next check tries again
                log.exception("read model: the rebuild failed")

    async def _rebuild(self, reason: str) -> None:
        """Rebuild once however many callers notice; each waits for that one rebuild."""
        if self._rebuild_task is None or self._rebuild_task.done():
            self._readable.clear()  # reads wait from now on, not from when the lock is free

            async def run() -> None:
                try:
                    async with self._apply_lock:
                        await self._rebuild_locked(reason)
                finally:
                    self._readable.set()

            self._rebuild_task = asyncio.create_task(run(), name="devhub-read-model-rebuild")
        await asyncio.shield(self._rebuild_task)

    async def _rebuild_locked(self, reason: str) -> None:
        """Rebuild the read model from files + the journal through the last applied seq (apply lock held)."""
        if not self._database_replaced():
            return  # another caller rebuilt it already
        self._readable.clear()
        self.read_model_state, self.read_model_reason = "rebuilding", reason
        log.warning("read model: %s; rebuilding it from files + journal", reason)
        try:
            await self._in_writer(self._rebuild_in_writer)
            await self._readers.reopen()
            await self._search_readers.reopen()
            self.read_model_state, self.read_model_reason = "ok", None
            log.warning("read model: rebuilt (applied through seq %s)", self._applied_through)
        finally:
            self._readable.set()
        self.events.publish("files", repo="", paths=[], rebuilt=True)

    def _rebuild_in_writer(self) -> None:
        assert self.writer is not None
        through = self._applied_through  # later seqs are applied by the requests that wrote them
        self.writer.start_afresh()
        self.writer.sync(self.repos)
        self.writer.apply(itertools.takewhile(lambda e: e["seq"] <= through, self.open_journal.records(0)))
        self._database_identity = _file_identity(self.config.database_path)

    def _degrade(self, reason: str) -> None:
        if self.read_model_state == "degraded":
            return
        self.read_model_state, self.read_model_reason = "degraded", reason
        log.error("read model: %s; writes are saved in the journal but not applied until space returns", reason)
        self._tasks.append(asyncio.create_task(self._reapply_when_space(), name="devhub-read-model-reapply"))

    async def _reapply_when_space(self) -> None:
        """Retry what the full read model could not take (journaled writes, file changes) until it fits."""
        assert self.writer is not None
        while self.read_model_state == "degraded":
            await asyncio.sleep(REAPPLY_SECONDS)
            async with self._apply_lock:
                try:
                    await self._in_writer(self.writer.sync, self.repos)
                    through = self.open_journal.last_seq
                    batch = await self._in_writer(self._journal_batch, self._applied_through, through)
                    if batch:
                        await self._in_writer(self.writer.apply, batch)
                except sqlite3.DatabaseError as exc:
                    if not _out_of_space(exc):
                        log.exception("read model: re-applying saved writes failed")
                    continue
                if batch:
                    self._applied(batch)
                self.read_model_state, self.read_model_reason = "ok", None
            log.warning("read model: space is back; applied through seq %s", self._applied_through)
            if batch:
                self.events.publish("write", seqs=[e["seq"] for e in batch], kinds=sorted({e["kind"] for e in batch}))

    # -- watcher callbacks ----------------------------------------------------------------------------

    async def _files_changed(self, repo: Repo, paths: set[str]) -> None:
        assert self.writer is not None
        try:
            report = await self._in_writer(self.writer.sync_paths, repo, sorted(paths))
        except sqlite3.DatabaseError as exc:
            if _out_of_space(exc):
                self._degrade(f"its disk is full ({exc})")  # the retry re-syncs every repo
                return
            if not self._database_replaced():
                raise
            await self._rebuild(f"a file sync failed ({exc}); the database file was deleted")  # it re-reads files
            return
        if report.changed_workplan_keys:
            self.events.publish("files", repo=repo.slug, paths=sorted(paths))
            if self.relay is not None:
                self.relay.wake()  # a file may have gained a state_hub_task_id: held envelopes can go

    async def _branch_changed(self, repo: Repo) -> None:
        """A branch switch: refresh the repo's git identity and rescan all its workplan files."""
        from devhub.registry import inspect_repo

        assert self.writer is not None
        fresh = (await asyncio.to_thread(inspect_repo, Path(repo.path))).repo  # git calls: off the event loop
        self.repos = [fresh if r.path == fresh.path else r for r in self.repos]
        if self.watcher is not None:
            self.watcher.repos = self.repos
        await self._in_writer(self._rescan_repo, fresh)
        self.events.publish("files", repo=repo.slug, paths=[], branch=fresh.branch)

    async def register_repos(self, paths: Sequence[str | Path]) -> list[RegisterOutcome]:
        """Register checkouts (as `devhub register` does) and serve them now: read model synced, watched."""
        registry = Registry(self.config.registry_path)
        async with self._repos_lock:
            outcomes = await asyncio.to_thread(registry.register, paths)
            self.repos = await asyncio.to_thread(registry.repos)
            await self._serve_current_repos()
        self.events.publish("files", repo=",".join(o.repo.slug for o in outcomes), paths=[], registered=True)
        return outcomes

    # -- following the registry file and the repo folders (see devhub.service.follow) ----------------------

    def _start_following(self) -> None:
        self.follower = RepoFollower(
            self.config.registry_path, lambda: self.repos, self._registry_changed, self._folders_changed
        )
        self._tasks.append(asyncio.create_task(self.follower.run(), name="devhub-follower"))

    def _root_lost(self, repo_root: Path) -> None:
        if self.follower is not None:
            self.follower.folder_lost(repo_root)

    async def _registry_changed(self, registered: list[Repo]) -> None:
        """The registry file changed (`devhub register` in another process, a hand edit): serve what it lists."""
        async with self._repos_lock:
            served = {(repo.slug, repo.path): repo for repo in self.repos}
            wanted = {(repo.slug, repo.path) for repo in registered}
            if wanted == set(served):
                return  # e.g. our own register_repos, or a refresh of git state
            # Keep what we know of a repo already served (its git state may be newer than the file's).
            self.repos = [served.get((repo.slug, repo.path), repo) for repo in registered]
            await self._serve_current_repos()
        added, dropped = sorted(s for s, _ in wanted - set(served)), sorted(s for s, _ in set(served) - wanted)
        log.info("registry changed: now serving %s, dropped %s", added or "-", dropped or "-")
        self.events.publish("files", repo=",".join(added + dropped), paths=[], registered=True)

    async def _folders_changed(self, changed: list[Repo]) -> None:
        """Registered folders vanished, came back or were replaced: re-read what is there and watch it."""
        from dataclasses import replace

        from devhub.errors import RegistryError
        from devhub.registry import inspect_repo

        async with self._repos_lock:
            fresh: dict[str, Repo] = {}
            for repo in changed:
                try:
                    found = (await asyncio.to_thread(inspect_repo, repo.root)).repo  # git calls: off the loop
                except RegistryError:
                    continue  # missing: the sync below drops its files and flags it
                fresh[repo.path] = replace(found, slug=repo.slug)  # the registry names it, not the new folder
            self.repos = [fresh.get(repo.path, repo) for repo in self.repos]
            await self._serve_current_repos()
        for repo in changed:
            if repo.path in fresh:
                log.info("repo %s: folder %s (re)appeared or changed; rescanned and watched", repo.slug, repo.path)
            else:
                log.warning("repo %s: folder %s is missing; its workplans are no longer served", repo.slug, repo.path)
        self.events.publish("files", repo=",".join(r.slug for r in changed), paths=[], folders=True)

    async def _serve_current_repos(self) -> None:
        """Watch exactly self.repos, then bring the read model in line (a change meanwhile is seen by both)."""
        assert self.writer is not None
        await self._restart_watcher()
        await self._in_writer(self.writer.sync, self.repos)

    def missing_repos(self) -> list[Repo]:
        """Served repos whose folder was missing at the follower's last look."""
        return self.follower.missing() if self.follower is not None else []

    def _new_watcher(self) -> Watcher:
        return Watcher(self.repos, self._files_changed, self._branch_changed, on_root_lost=self._root_lost)

    async def _restart_watcher(self) -> None:
        """The watcher fixes its roots when it starts, so a new repo needs a fresh one."""
        if self.watcher is None:
            return
        self.watcher.stop()
        old_task = next((t for t in self._tasks if t.get_name() == "devhub-watcher" and not t.done()), None)
        if old_task is not None:
            await asyncio.gather(old_task, return_exceptions=True)
        self._tasks = [t for t in self._tasks if not t.done()]
        self.watcher = self._new_watcher()
        self._tasks.append(asyncio.create_task(self.watcher.run(), name="devhub-watcher"))

    def _rescan_repo(self, repo: Repo) -> None:
        assert self.writer is not None
        self.writer.update_repo(repo)
        self.writer.sync([r for r in self.repos])

    # -- status -------------------------------------------------------------------------------------------

    def health(self) -> HealthView:
        return {"status": "ok", "role": self.config.role, "version": __version__, "profile": self.profile_name}

    def relay_status(self) -> RelayStatus:
        """The relay's state: the running relay's own, or `disabled` with the reason it does not run."""
        if self.relay is not None:
            return self._with_snapshot(self.relay.status())
        relay = self.config.relay
        return RelayStatus.disabled(relay.disabled_reason or "the relay is not running", relay.upstream)

    def relay_dead_letters(self) -> list[DeadLetter]:
        """Every dead letter on disk, oldest first (an earlier run's too, while the relay is off); blocking I/O."""
        store = self.relay.dead_letters if self.relay is not None else None
        return (store or DeadLetters(self.config.relay_dir / DEAD_LETTERS_FILE)).entries()

    def watcher_status(self) -> dict[str, Any]:
        return self.watcher.state.as_dict() if self.watcher else {"mode": "stopped"}

    # -- statehub read parity --

    async def sync_files(self, repo_slug: str, paths: list[str]) -> None:
        """Re-read these files of a registered repo now (as the watcher would), e.g. after a writeback."""
        repo = next((r for r in self.repos if r.slug == repo_slug), None)
        if repo is not None and self.writer is not None:
            await self._files_changed(repo, set(paths))

    # -- fleet database: several replicas on one PostgreSQL (devhub/store/pg) -----------------------------

    def _open_shared_journal(self) -> PgJournal:
        import socket

        from devhub.settings import IDEMPOTENCY_RETENTION_SECONDS
        from devhub.store.pg.journal import PgJournal

        url = self.config.fleet_database_url
        assert url is not None
        node = f"{socket.gethostname()}:{self.config.port}:{self.config.data_dir}"
        journal = PgJournal.open(url, node=node, retention_seconds=IDEMPOTENCY_RETENTION_SECONDS)
        log.info("fleet database %s: schema version %s", journal.url, journal.open_report.schema_version)
        return journal

    @property
    def _shared_journal(self) -> PgJournal:
        from devhub.store.pg.journal import PgJournal

        journal = self.open_journal
        assert isinstance(journal, PgJournal)
        return journal

    async def _find_shared_key(self, key: str) -> IdempotencyRecord | None:
        return await self._in_journal_thread(self._shared_journal.find_key, key)

    async def _catch_up_shared(self, *, now: bool = False) -> None:
        """Apply every write committed (by any replica) that this read model lacks; a database that cannot be
        asked leaves reads on what is applied (logged once), since it cannot take writes either."""
        from devhub.errors import FleetDatabaseError

        if self.journal is None or self.writer is None:
            return
        if not now and time.monotonic() < self._shared_retry_at:
            return  # it failed a moment ago: answer at once; the listener catches up when it is back
        try:
            head = await self._in_journal_thread(self._shared_journal.head)
        except FleetDatabaseError as exc:
            self._shared_retry_at = time.monotonic() + SHARED_RETRY_SECONDS
            if not self._shared_failure_logged:
                log.warning("%s; reads answer from the writes applied so far", exc.detail)
                self._shared_failure_logged = True
            return
        self._shared_failure_logged = False
        if head <= self._applied_through:
            return
        async with self._apply_lock:
            if head <= self._applied_through or self.read_model_state == "degraded":
                return
            batch = await self._in_writer(self._journal_batch, self._applied_through, head)
            if batch and await self._apply_batch(batch):
                self.events.publish("write", seqs=[e["seq"] for e in batch], kinds=sorted({e["kind"] for e in batch}))

    async def _follow_shared_writes(self) -> None:
        """Apply other replicas' writes as their NOTIFY arrives (live dashboards); report this replica's position."""
        from devhub.store.pg.notify import follow_writes

        url = self.config.fleet_database_url
        assert url is not None

        async def on_change(seq: int | None) -> None:
            try:
                if seq is None or seq > self._applied_through:  # not this replica's own write, applied already
                    await self._catch_up_shared(now=True)
                await self._in_journal_thread(
                    self._shared_journal.report_applied, self._applied_through, __version__, self.started_at
                )
                await self._in_journal_thread(self._shared_journal.purge_expired_keys)  # when due (every 10 min)
            except Exception:  # the next notification or idle pass tries again
                log.exception("fleet database: catching up on other replicas' writes failed")

        await follow_writes(url, on_change, idle_seconds=SHARED_IDLE_SECONDS)


    # -- relay samples (the queue-depth chart; devhub.service.relay_samples) --

    relay_sampler: RelaySampler | None = None

    def _start_relay_samples(self) -> None:
        import sqlite3

        from devhub.service.relay_samples import RelaySampler

        try:
            self.relay_sampler = RelaySampler(
                self.config.data_dir,
                self.relay_status,
                lambda: self.journal,
                self.config.relay_sample_seconds,
                events=self.events,  # sampled again soon after a write or relay change; announces each sample
            )
        except (sqlite3.Error, OSError) as exc:  # a chart's past is not worth refusing to serve
            log.warning("relay samples are off: %s", exc)
            return
        self._tasks.append(asyncio.create_task(self.relay_sampler.run(), name="devhub-relay-samples"))

    # -- fleet snapshot (devhub.service.fleet_snapshot) --

    snapshot: FleetSnapshot | None = None

    def _start_snapshot(self) -> None:
        """Keep the fleet-only state (inbox, pending decisions, topics...) for offline reads, while relaying."""
        from devhub.service.fleet_snapshot import FleetSnapshot
        from devhub.service.relay_link import upstream_token
        from relay.fleet_ids import FLEET_IDS_FILE, FleetIds

        config, relay = self.config, self.config.relay
        assert relay.upstream is not None
        if config.snapshot_interval == 0:
            log.info("fleet snapshot: off (DEVHUB_SNAPSHOT_INTERVAL=0)")
            return
        token = upstream_token(relay.token_env, config.secret)

        def written_here(kind: str) -> list[str]:
            # Read only (the relay's own open folded earlier files in): the fleet's ids of what was created here.
            return list(FleetIds(config.relay_dir / FLEET_IDS_FILE).entries(kind).values())

        try:
            self.snapshot = FleetSnapshot(
                data_dir=config.data_dir,
                upstream=str(relay.upstream),
                token=token,
                agents=lambda: [*(repo.slug for repo in self.repos), *config.snapshot_agents],
                written_here=written_here,
                relay_state=lambda: self.relay.status().state if self.relay is not None else None,
                interval=config.snapshot_interval,
                stale_after=config.snapshot_stale_seconds,
                max_messages=config.snapshot_max_messages,
                publish=self.events.publish,
                on_refresh=self._snapshot_refreshed,
            )
        except (sqlite3.Error, OSError) as exc:  # reads still answer from the files; say why the copy is missing
            log.warning("fleet snapshot is off: %s", exc)
            return
        self._tasks.append(asyncio.create_task(self.snapshot.run(self.events.subscribe()), name="devhub-snapshot"))
        self.writes.fleet_message = self._fleet_message  # a fleet message may be read, archived, answered offline
        self.writes.fleet_decision = self._fleet_decision  # a fleet decision may be resolved, patched offline

    def _snapshot_refreshed(self, report: RefreshReport) -> None:
        """New topics from the fleet may release writes held on a topic slug: the relay looks again."""
        if "topics" in report["collections_rewritten"] and self.relay is not None:
            self.relay.wake()

    async def _fleet_message(self, message_id: str) -> dict[str, Any] | None:
        """A message only the fleet snapshot holds, with what was done to it here on top (None: it holds none)."""
        from devhub.store.message_marks import fleet_message_marks

        snapshot = self.snapshot
        if snapshot is None:
            return None
        marks = await self.read(fleet_message_marks)
        return await asyncio.to_thread(snapshot.message, message_id, marks)

    async def _fleet_decision(self, decision_id: str) -> dict[str, Any] | None:
        """A decision only the fleet snapshot holds, with what was done to it here on top (None: it holds none)."""
        from devhub.service.fleet_decisions import fleet_decision
        from devhub.store.decision_marks import fleet_decision_marks

        snapshot = self.snapshot
        if snapshot is None:
            return None
        marks = await self.read(fleet_decision_marks)
        return await asyncio.to_thread(fleet_decision, snapshot, decision_id.lower(), marks)

    def _with_snapshot(self, status: RelayStatus) -> RelayStatus:
        """The relay's status with the snapshot's section (`snapshot`: as_of, age, stale, counts, last_error)."""
        from dataclasses import replace

        if self.snapshot is None:
            return status
        return replace(status, extra={**status.extra, "snapshot": self.snapshot.status()})
    # -- group commit: journal + apply in one writer-thread step per batch (issue 18) --

    async def _persist(self, drafts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Make one write durable and visible: queued with the writes arriving meanwhile, committed together."""
        if self.read_model_state == "degraded":
            raise self._degraded_refusal()
        return await self._commits.submit(drafts)

    async def _commit_batch(self, batch: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]] | Exception]:
        """Journal every write of the batch (one fsync), apply them in one transaction, answer each.

        One hand-off to the writer thread does both, which is what makes a lone write cheap; the apply
        lock keeps rebuilds and re-applies out meanwhile. Whatever the fast step could not apply in
        seq order (another append interleaved, or the apply failed) goes through `_apply`, which waits
        for order, degrades on a full disk and rebuilds a vanished database, as before.
        """
        from relay.errors import StorageFull as JournalStorageFull

        async with self._apply_lock:
            if self.read_model_state == "degraded":  # it degraded while these waited
                return [self._degraded_refusal() for _ in batch]
            outcomes, applied = await self._in_writer(self._journal_and_apply, batch)
            if applied:
                self._applied(applied)
        journaled = [o for o in outcomes if not isinstance(o, Exception)]
        if journaled and not applied:  # _apply publishes what it applied
            await self._apply([envelope for envelopes in journaled for envelope in envelopes])
        elif applied:
            for envelopes in journaled:  # one event per write, as before
                kinds = sorted({e["kind"] for e in envelopes})
                self.events.publish("write", seqs=[e["seq"] for e in envelopes], kinds=kinds)
        return [storage_full(o) if isinstance(o, JournalStorageFull) else o for o in outcomes]

    def _journal_and_apply(
        self, batch: list[list[dict[str, Any]]]
    ) -> tuple[list[list[dict[str, Any]] | Exception], list[dict[str, Any]]]:
        """In the writer thread: append the batch, then apply it if it directly follows what is applied."""
        from relay.journal import Journal

        assert self.writer is not None and isinstance(self.journal, Journal)
        outcomes = self.journal.append_each(batch)
        envelopes = [e for o in outcomes if not isinstance(o, Exception) for e in o]
        follows = all(e["seq"] == self._applied_through + 1 + i for i, e in enumerate(envelopes))
        if not envelopes or not follows:
            return outcomes, []
        try:
            self.writer.apply(envelopes)
        except Exception:  # durable already; _apply retries it and says what went wrong
            return outcomes, []
        return outcomes, envelopes


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, or None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _out_of_space(exc: sqlite3.DatabaseError) -> bool:
    return exc.sqlite_errorcode == sqlite3.SQLITE_FULL  # Python 3.11+: every sqlite3.Error carries it
