"""The running hub's services, wired once: read model writer and readers, journal, writes, watcher, events.

REST, MCP and the dashboard all hold the same Hub and call its `read` and `writes`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from devhub import __version__
from devhub.config import Config
from devhub.errors import StorageFull
from devhub.events import EventBus
from devhub.registry import RegisterOutcome, Registry, Repo
from devhub.store.reader import Reader
from devhub.store.writer import ReadModelWriter
from devhub.watch import Watcher
from devhub.writes import Writes

log = logging.getLogger("devhub.hub")
T = TypeVar("T")

READER_POOL_SIZE = 4
# Full-text searches get connections of their own: a burst of costly searches (any web page can send
# them) then waits for these, never for the pool every other read uses.
SEARCH_POOL_SIZE = 2
# Enough threads that every concurrent writer can wait inside one shared fsync (group commit).
JOURNAL_THREADS = 64
HANDOVER_WAIT_SECONDS = 0.5


class Hub:
    """Everything a daemon serves from; started and stopped by the app's lifespan."""

    def __init__(self, config: Config, *, profile_name: str, relay_settings: Mapping[str, Any] | None = None) -> None:
        self.config = config
        self.profile_name = profile_name
        self.relay_settings = dict(relay_settings or {})
        self.events = EventBus()
        self.started_at = time.time()
        self.repos: list[Repo] = []
        self.writer: ReadModelWriter | None = None
        self.journal: Any = None
        self.relay: Any = None
        self.watcher: Watcher | None = None
        self._writer_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devhub-writer")
        self._journal_threads = ThreadPoolExecutor(max_workers=JOURNAL_THREADS, thread_name_prefix="devhub-journal")
        self._readers: asyncio.Queue[Reader] = asyncio.Queue()
        self._search_readers: asyncio.Queue[Reader] = asyncio.Queue()
        self._all_readers: list[Reader] = []
        self._tasks: list[asyncio.Task[Any]] = []
        # Journaled envelopes waiting for every lower seq to be applied first (see _apply).
        self._unapplied: dict[int, dict[str, Any]] = {}
        self._applied_through = 0
        self._apply_lock = asyncio.Lock()
        self._handed_over = asyncio.Event()
        self.writes = Writes(read=self.read, append=self._append, apply=self._apply, pending_relay=config.role == "dev")

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self, *, serve: bool = True) -> None:
        """Open the journal and read model, catch up on files and journal; when serving, watch and relay."""
        from relay.journal import Journal

        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.journal = await self._in_journal_thread(
            Journal.open, self.config.journal_dir, max_bytes=self.config.journal_max_bytes
        )
        report = getattr(self.journal, "open_report", None)
        if report is not None and report.quarantined:
            log.warning("journal: %s corrupt line(s) quarantined at open", report.quarantined)
        self.repos = Registry(self.config.registry_path).refresh()
        self.writer = await self._in_writer(ReadModelWriter, self.config.database_path)
        await self._in_writer(self._catch_up)
        for pool, size in ((self._readers, READER_POOL_SIZE), (self._search_readers, SEARCH_POOL_SIZE)):
            for _ in range(size):
                reader = await Reader.open(self.config.database_path, budget_seconds=self.config.search_budget_seconds)
                self._all_readers.append(reader)
                pool.put_nowait(reader)
        if not serve:
            return
        self.watcher = Watcher(self.repos, self._files_changed, self._branch_changed)
        self._tasks.append(asyncio.create_task(self.watcher.run(), name="devhub-watcher"))
        if self.relay_settings.get("enabled") and self.config.relay_enabled and self.relay_settings.get("upstream"):
            await self._start_relay()

    def _catch_up(self) -> None:
        assert self.writer is not None
        self.writer.sync(self.repos)
        self.writer.apply(self.journal.records(self.writer.applied_seq))
        self._applied_through = self.writer.applied_seq

    async def _start_relay(self) -> None:
        try:
            from devhub.relay_wiring import start_relay
        except ModuleNotFoundError:
            return
        self.relay = await start_relay(self)

    async def stop(self) -> None:
        """Stop watching and relaying, close readers, the writer and the journal."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.relay is not None:
            await self.relay.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for reader in self._all_readers:
            await reader.close()
        if self.writer is not None:
            await self._in_writer(self.writer.close)
        if self.journal is not None:
            await self._in_journal_thread(self.journal.close)
        self._writer_thread.shutdown(wait=True)
        self._journal_threads.shutdown(wait=True)

    # -- the three primitives adapters use -------------------------------------------------------

    async def read(self, query: Callable[[Reader], Awaitable[T]], *, search: bool = False) -> T:
        """Run one read-only query on a pooled connection (a full-text search: on the search pool)."""
        pool = self._search_readers if search else self._readers
        reader = await pool.get()
        try:
            return await query(reader)
        finally:
            pool.put_nowait(reader)

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writer_thread, fn, *args)

    async def _in_journal_thread(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._journal_threads, lambda: fn(*args, **kwargs))

    async def _append(self, drafts: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Make drafts durable in the journal (one fsync shared with concurrent writers)."""
        from relay.errors import DiskFull, JournalFull

        try:
            if len(drafts) == 1:
                envelope = await self._in_journal_thread(self.journal.append, drafts[0])
                return [envelope]
            return await self._in_journal_thread(self.journal.append_many, drafts)
        except JournalFull as exc:
            raise StorageFull(
                f"{exc} — nothing was written. Let the relay drain (devhub relay status), run "
                "`devhub journal compact`, or raise DEVHUB_JOURNAL_MAX_BYTES."
            ) from exc
        except DiskFull as exc:
            raise StorageFull(
                f"the disk holding {self.config.journal_dir} is full ({exc}); nothing was written"
            ) from exc

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
                batch = self._take_contiguous()
                if not batch:
                    self._handed_over.clear()
                    try:
                        await asyncio.wait_for(self._handed_over.wait(), timeout=HANDOVER_WAIT_SECONDS)
                        continue
                    except TimeoutError:
                        # That request never handed its envelope over (cancelled?): read it back.
                        batch = await self._in_writer(self._journal_batch, self._applied_through, target)
                await self._in_writer(self.writer.apply, batch)
                self._applied_through = batch[-1]["seq"]
                if self.relay is not None:
                    self.relay.offer(batch)  # in seq order, so the relay need not re-read the journal
                for seq in [s for s in self._unapplied if s <= self._applied_through]:
                    del self._unapplied[seq]
        self.events.publish("write", seqs=[e["seq"] for e in envelopes], kinds=sorted({e["kind"] for e in envelopes}))

    def _take_contiguous(self) -> list[dict[str, Any]]:
        batch = []
        seq = self._applied_through + 1
        while seq in self._unapplied:
            batch.append(self._unapplied.pop(seq))
            seq += 1
        return batch

    def _journal_batch(self, after_seq: int, through_seq: int) -> list[dict[str, Any]]:
        return [e for e in self.journal.records(after_seq) if e["seq"] <= through_seq]

    # -- watcher callbacks ----------------------------------------------------------------------------

    async def _files_changed(self, repo: Repo, paths: set[str]) -> None:
        assert self.writer is not None
        report = await self._in_writer(self.writer.sync_paths, repo, sorted(paths))
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

    async def register_repos(self, paths: Sequence[Path]) -> list[RegisterOutcome]:
        """Register checkouts (as `devhub register` does) and serve them now: read model synced, watched."""
        registry = Registry(self.config.registry_path)
        outcomes = await asyncio.to_thread(registry.register, paths)
        self.repos = await asyncio.to_thread(registry.repos)
        assert self.writer is not None
        await self._in_writer(self.writer.sync, self.repos)
        await self._restart_watcher()
        self.events.publish("files", repo=",".join(o.repo.slug for o in outcomes), paths=[], registered=True)
        return outcomes

    async def _restart_watcher(self) -> None:
        """The watcher fixes its roots when it starts, so a new repo needs a fresh one."""
        if self.watcher is None:
            return
        self.watcher.stop()
        old_task = next((t for t in self._tasks if t.get_name() == "devhub-watcher" and not t.done()), None)
        if old_task is not None:
            await asyncio.gather(old_task, return_exceptions=True)
        self._tasks = [t for t in self._tasks if not t.done()]
        self.watcher = Watcher(self.repos, self._files_changed, self._branch_changed)
        self._tasks.append(asyncio.create_task(self.watcher.run(), name="devhub-watcher"))

    def _rescan_repo(self, repo: Repo) -> None:
        assert self.writer is not None
        self.writer.update_repo(repo)
        self.writer.sync([r for r in self.repos])

    # -- status -------------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "role": self.config.role, "version": __version__, "profile": self.profile_name}

    def relay_status(self) -> dict[str, Any]:
        if self.relay is not None:
            status: dict[str, Any] = self.relay.status()
            return status
        reason = (
            "fleet role: this hub is authoritative"
            if self.config.role == "fleet"
            else ("turned off with --no-relay" if not self.config.relay_enabled else "no upstream configured")
        )
        return {"state": "disabled", "reason": reason, "upstream": self.relay_settings.get("upstream")}

    def watcher_status(self) -> dict[str, Any]:
        return self.watcher.state.as_dict() if self.watcher else {"mode": "stopped"}
