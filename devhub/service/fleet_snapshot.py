"""The fleet snapshot: the download half of offline-first (issue 16, item 3).

While the relay's upstream answers, a dev hub keeps a read-only copy of what lives only in the
fleet: the messages to and from this laptop's agents, pending decisions, domains, topics, repos
and workstreams (with their UUIDs). It is stored in its own file (`fleet-snapshot.sqlite`,
store/fleet_snapshot.py), written only here, rebuilt from the fleet and never from the journal,
so it survives restarts and read-model rebuilds.

When it is refreshed:
  * at start and whenever the relay's upstream becomes reachable again (the relay's state events
    on the hub's event bus: offline/auth_failed/stopped -> anything else) — a full refresh;
  * every `DEVHUB_SNAPSHOT_INTERVAL` seconds while online — incremental: the first page of each
    message query (below) and the pending decisions whole (the fleet's list routes take no
    `since`; an answer whose bytes did not change is not rewritten); topics, domains, repos and
    workstreams wait for the next full refresh, which is every FULL_EVERY-th time, so reads and
    archives made elsewhere on older messages arrive too.

Messages are incremental without `since`: the fleet lists them newest first, so each query
(to an agent, from an agent, to `broadcast`) first fetches one page of PAGE; only when that page
holds something new or changed, and is full, is the whole query (up to the bound) fetched.

Which agents: the registered repos' slugs (the State Hub addresses an agent by its repo slug:
`get_messages(to_agent=REPO_SLUG)`), plus `DEVHUB_SNAPSHOT_AGENTS`; the profiles name no agents.

Merged into reads (LocalHub), tagged `source: "fleet"` and `as_of`, with local writes on top: a
fleet message marked read or archived here reads so (store/message_marks.py), a message written
here and relayed is shown once (its local copy; the id map names its fleet copy), and nothing
here ever overrides file-derived workplan or task state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from devhub.store.fleet_snapshot import SNAPSHOT_FILE, SnapshotStore

if TYPE_CHECKING:
    import httpx

    from devhub.records import MessageView
    from devhub.store.message_marks import MessageMark

log = logging.getLogger("devhub.service.fleet_snapshot")

PAGE = 50  # the first page of each message query on an incremental refresh
FULL_EVERY = 10  # every n-th periodic refresh is a full one
DECISIONS_FETCH_LIMIT = 10_000  # devhub's fleet role lists 100 decisions by default; the stand-in ignores it
REQUEST_TIMEOUT = 30.0
BROADCAST = "broadcast"
# A relay in one of these states cannot reach its upstream: a snapshot read then is stale whatever its age.
UNREACHABLE_STATES = frozenset({"offline", "auth_failed", "stopped"})
# The whole collections fetched on every refresh: (snapshot collection, upstream path, query).
COLLECTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("decisions", "/decisions/", {"decision_type": "pending", "limit": DECISIONS_FETCH_LIMIT}),
    ("topics", "/topics/", {}),
    ("domains", "/domains/", {}),
    ("repos", "/repos/", {}),
    ("workstreams", "/workstreams/", {}),
)
# What an incremental refresh fetches besides the first message pages: pending decisions come and go (an
# agent must not see a decision resolved elsewhere as pending for long); topics, domains, repos and
# workstreams change rarely and are refetched on every full refresh (start, reconnect, every FULL_EVERY-th).
INCREMENTAL_COLLECTIONS = frozenset({"decisions"})


def collections_for(full: bool) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """The whole collections one refresh fetches (full: all of them)."""
    return COLLECTIONS if full else tuple(c for c in COLLECTIONS if c[0] in INCREMENTAL_COLLECTIONS)


class SnapshotStatus(TypedDict):
    """The snapshot's section of GET /relay (and so of `devhub relay status`, /orient and the dashboard)."""

    as_of: str | None  # when the last successful refresh started (the data is at least this fresh)
    age_seconds: float | None
    stale: bool  # older than stale_after_seconds, never fetched, or the upstream is unreachable now
    stale_after_seconds: float
    counts: dict[str, int]
    last_error: str | None  # the last refresh's failure (None after a success)
    last_refresh_seconds: float | None  # how long the last successful refresh took
    last_refresh_kind: str | None  # "full" or "incremental"
    agents: list[str]  # whose messages are kept


class RefreshReport(TypedDict):
    """What one refresh did (the benchmark and tests read it)."""

    kind: str
    seconds: float
    messages_fetched: int
    messages_dropped: int
    collections_rewritten: list[str]


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def normalise_message(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A fleet message as devhub's MessageView (the real hub sends read_at/archived_at; the stand-in and
    devhub also send read/archived)."""
    read_at, archived_at = doc.get("read_at"), doc.get("archived_at")
    return {
        "id": str(doc.get("id")),
        "from_agent": doc.get("from_agent"),
        "to_agent": doc.get("to_agent"),
        "subject": doc.get("subject"),
        "body": doc.get("body"),
        "thread_id": doc.get("thread_id"),
        "created_at": doc.get("created_at"),
        "read_at": read_at,
        "read": bool(doc.get("read") or doc.get("is_read") or read_at),
        "archived_at": archived_at,
        "archived": bool(doc.get("archived") or archived_at),
    }


class FleetSnapshot:
    """Refreshes the snapshot file from the upstream and answers the merged reads' fleet half."""

    def __init__(
        self,
        *,
        data_dir: Path,
        upstream: str,
        token: Callable[[], str | None],
        agents: Callable[[], Sequence[str]],
        written_here: Callable[[str], Iterable[str]],
        relay_state: Callable[[], str | None],
        interval: float,
        stale_after: float,
        max_messages: int,
        publish: Callable[..., None] | None = None,
        on_refresh: Callable[[RefreshReport], None] | None = None,
    ) -> None:
        self.store = SnapshotStore(data_dir / SNAPSHOT_FILE)
        self.upstream = upstream.rstrip("/")
        self._token = token
        self._agents = agents
        self._written_here = written_here
        self._relay_state = relay_state
        self.interval = interval
        self.stale_after = stale_after
        self.max_messages = max_messages
        self._publish = publish
        self._on_refresh = on_refresh
        self._wake = asyncio.Event()
        self._full_wanted = True
        self._periodic = 0
        self._meta: dict[str, Any] = self.store.meta()
        self._counts = self.store.counts()
        # The fleet's ids of messages and decisions written here: shown by their local copies, not the fleet's.
        self.hidden: dict[str, frozenset[str]] = {}
        self._learn_written_here()
        self._refresh_lock = asyncio.Lock()
        self._http: httpx.AsyncClient | None = None

    # -- when: the loop, woken by the relay reconnecting ---------------------------------------------

    def wake(self, *, full: bool = False) -> None:
        """Refresh now (a full refresh when `full`)."""
        self._full_wanted = self._full_wanted or full
        self._wake.set()

    def relay_changed(self, previous: str | None, state: str | None) -> None:
        """The relay's state changed: its upstream answering again means a full refresh now."""
        answering = state is not None and state not in UNREACHABLE_STATES and state != "disabled"
        if answering and (previous is None or previous in UNREACHABLE_STATES):
            self.wake(full=True)

    async def run(self, events: asyncio.Queue[dict[str, Any]] | None = None) -> None:
        """Refresh at start, on every wake and every `interval` seconds; `events`: the hub's event bus."""
        watcher = asyncio.create_task(self._follow_relay(events)) if events is not None else None
        try:
            while True:
                full = self._full_wanted or self._periodic % FULL_EVERY == 0
                self._wake.clear()
                self._full_wanted = False
                self._periodic += 1
                if self._relay_state() not in UNREACHABLE_STATES:
                    with contextlib.suppress(Exception):  # logged and recorded inside
                        await self.refresh(full=full)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(self.interval, 0.05))
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _follow_relay(self, events: asyncio.Queue[dict[str, Any]]) -> None:
        previous: str | None = self._relay_state()
        while True:
            event = await events.get()
            if event.get("kind") != "relay":
                continue
            state = event.get("state")
            if state != previous:
                self.relay_changed(previous, state)
                previous = state

    # -- the refresh ---------------------------------------------------------------------------------------

    async def refresh(self, *, full: bool = True, client: httpx.AsyncClient | None = None) -> RefreshReport:
        """Fetch from the upstream and store; the failure (if any) is recorded in the status and raised."""
        async with self._refresh_lock:
            started = time.time()
            clock = time.perf_counter()
            try:
                report = await self._refresh(full, client)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                self._meta["last_error"] = f"refresh from {self.upstream} failed: {error}"
                await asyncio.to_thread(self.store.set_meta, {"last_error": self._meta["last_error"]})
                log.warning("fleet snapshot: %s", self._meta["last_error"])
                self._changed()
                raise
            report["seconds"] = round(time.perf_counter() - clock, 4)
            self._meta |= {
                "as_of": _iso(started),
                "as_of_epoch": started,
                "last_error": None,
                "last_refresh_seconds": report["seconds"],
                "last_refresh_kind": report["kind"],
            }
            await asyncio.to_thread(self._store_meta)
            self._changed()
            if self._on_refresh is not None:
                self._on_refresh(report)
            return report

    def _store_meta(self) -> None:
        self.store.set_meta(self._meta)
        self._counts = self.store.counts()

    def _changed(self) -> None:
        if self._publish is not None:
            with contextlib.suppress(Exception):
                self._publish("snapshot", **self.status())

    async def _refresh(self, full: bool, client: httpx.AsyncClient | None) -> RefreshReport:
        http = client or self.http_client()
        headers = {"Authorization": f"Bearer {token}"} if (token := self._token()) else {}
        wanted = collections_for(full)
        collections = await asyncio.gather(
            *(self._fetch_raw(http, path, query, headers) for _, path, query in wanted)
        )
        fetched, dropped = await self._refresh_messages(http, headers, full)
        rewritten = await asyncio.to_thread(self._store_collections, wanted, collections)
        await asyncio.to_thread(self._learn_written_here)
        return {
            "kind": "full" if full else "incremental",
            "seconds": 0.0,
            "messages_fetched": fetched,
            "messages_dropped": dropped,
            "collections_rewritten": rewritten,
        }

    def _learn_written_here(self) -> None:
        self.hidden = {kind: frozenset(self._written_here(kind)) for kind in ("message", "decision")}

    def http_client(self) -> httpx.AsyncClient:
        """One client for every refresh: a new one would load the TLS trust store each time (~0.2 s)."""
        import httpx

        if self._http is None:
            self._http = httpx.AsyncClient(base_url=self.upstream, timeout=REQUEST_TIMEOUT)
        return self._http

    async def _fetch_raw(
        self, http: httpx.AsyncClient, path: str, query: Mapping[str, Any], headers: Mapping[str, str]
    ) -> bytes | None:
        """The answer's body; None when the upstream does not serve this route (404). Not parsed here: an answer
        whose bytes did not change since the last refresh is never parsed at all."""
        answer = await http.get(path, params=dict(query), headers=dict(headers))
        if answer.status_code == 404:
            return None
        answer.raise_for_status()
        return answer.content

    async def _fetch_json(
        self, http: httpx.AsyncClient, path: str, query: Mapping[str, Any], headers: Mapping[str, str]
    ) -> list[dict[str, Any]] | None:
        """The answer's list of objects; None when the upstream does not serve this route (404)."""
        raw = await self._fetch_raw(http, path, query, headers)
        return None if raw is None else _objects(path, raw)

    def _store_collections(
        self, wanted: Sequence[tuple[str, str, dict[str, Any]]], collections: Sequence[bytes | None]
    ) -> list[str]:
        """Rewrite each collection whose answer changed since the last refresh (a fingerprint of its bytes)."""
        rewritten = []
        for (name, path, _), raw in zip(wanted, collections, strict=True):
            fingerprint = hashlib.sha256(raw or b"").hexdigest()
            if self._meta.get(f"fingerprint:{name}") == fingerprint:
                continue
            self.store.replace_collection(name, _objects(path, raw) if raw is not None else [])
            self._meta[f"fingerprint:{name}"] = fingerprint
            rewritten.append(name)
        return rewritten

    def _message_queries(self) -> list[dict[str, str]]:
        queries: list[dict[str, str]] = [{"to_agent": BROADCAST}]
        for agent in sorted(set(self._agents())):
            queries += [{"to_agent": agent}, {"from_agent": agent}]
        return queries

    async def _refresh_messages(
        self, http: httpx.AsyncClient, headers: Mapping[str, str], full: bool
    ) -> tuple[int, int]:
        """Fetch every agent's messages (full: up to the bound; else a first page, the rest only if it changed)."""
        queries = self._message_queries()
        limit = PAGE if not full else self.max_messages
        pages = await asyncio.gather(
            *(self._fetch_json(http, "/messages/", q | {"limit": str(limit)}, headers) for q in queries)
        )
        found: dict[str, dict[str, Any]] = {}
        for page in pages:
            found.update((d["id"], d) for d in (normalise_message(x) for x in (page or [])))
        again = []
        if not full:  # what the first pages change; a full page with a change may hide more behind it
            unchanged = await asyncio.to_thread(self._unchanged_ids, list(found.values()))
            for query, page in zip(queries, pages, strict=True):
                if page and len(page) >= PAGE and any(str(d.get("id")) not in unchanged for d in page):
                    again.append(query)
            for ident in unchanged:
                found.pop(ident, None)
        if again:  # something new or changed past the first page's reach: fetch those queries whole
            more = await asyncio.gather(
                *(self._fetch_json(http, "/messages/", q | {"limit": str(self.max_messages)}, headers) for q in again)
            )
            for page in more:
                found.update((d["id"], d) for d in (normalise_message(x) for x in (page or [])))
        if not found and not full:
            return 0, 0  # nothing new: the file is not touched
        dropped = await asyncio.to_thread(
            self.store.put_messages, list(found.values()), replace_all=full, keep=self.max_messages
        )
        return len(found), dropped

    def _unchanged_ids(self, docs: list[dict[str, Any]]) -> set[str]:
        from devhub.store.fleet_snapshot import canonical_json

        stored = self.store.stored_messages([d["id"] for d in docs])
        return {d["id"] for d in docs if stored.get(d["id"]) == canonical_json(d)}

    # -- status ----------------------------------------------------------------------------------------------

    def status(self) -> SnapshotStatus:
        as_of_epoch = self._meta.get("as_of_epoch")
        age = round(time.time() - float(as_of_epoch), 3) if as_of_epoch is not None else None
        unreachable = self._relay_state() in UNREACHABLE_STATES
        stale = age is None or age > self.stale_after or unreachable or bool(self._meta.get("last_error"))
        return {
            "as_of": self._meta.get("as_of"),
            "age_seconds": age,
            "stale": stale,
            "stale_after_seconds": self.stale_after,
            "counts": dict(self._counts),
            "last_error": self._meta.get("last_error"),
            "last_refresh_seconds": self._meta.get("last_refresh_seconds"),
            "last_refresh_kind": self._meta.get("last_refresh_kind"),
            "agents": sorted({BROADCAST, *self._agents()}),
        }

    def _tag(self, doc: dict[str, Any]) -> dict[str, Any]:
        return doc | {"source": "fleet", "as_of": self._meta.get("as_of")}

    # -- the fleet half of merged reads (blocking: call in a thread) --------------------------------------

    def messages(
        self,
        marks: Mapping[str, MessageMark],
        *,
        to_agent: str | None = None,
        from_agent: str | None = None,
        unread_only: bool = False,
        include_archived: bool = False,
        limit: int,
    ) -> list[dict[str, Any]]:
        """Fleet messages filtered like GET /messages/, with the local marks laid on top, newest first."""
        hidden = self.hidden.get("message", frozenset())
        spare = len(marks) + len(hidden)
        rows = self.store.messages(
            to_agent=to_agent,
            from_agent=from_agent,
            unread_only=unread_only,
            include_archived=include_archived,
            limit=limit + spare,
        )
        out = []
        for row in rows:
            if row["id"] in hidden:
                continue
            row = with_mark(row, marks.get(row["id"]))
            if (unread_only and row["read"]) or (row["archived"] and not include_archived):
                continue
            out.append(self._tag(row))
        return out[:limit]

    def message(self, message_id: str, marks: Mapping[str, MessageMark]) -> dict[str, Any] | None:
        row = self.store.message(message_id)
        return None if row is None else self._tag(with_mark(row, marks.get(message_id)))

    def thread(self, root_id: str, marks: Mapping[str, MessageMark]) -> list[dict[str, Any]]:
        return [self._tag(with_mark(row, marks.get(row["id"]))) for row in self.store.thread(root_id)]

    def collection(self, name: str) -> list[dict[str, Any]]:
        return [self._tag(doc) for doc in self.store.collection(name)]

    def topic_id(self, slug: str) -> str | None:
        return self.store.topic_id(slug)

    def close(self) -> None:
        self.store.close()

    async def aclose(self) -> None:
        """Close the HTTP client (in the loop that used it) and the snapshot file."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        self.close()


def _objects(path: str, raw: bytes) -> list[dict[str, Any]]:
    """A list route's answer as its objects (anything but a JSON list is an error: the upstream is not a hub)."""
    import json

    document = json.loads(raw)
    if not isinstance(document, list):
        raise ValueError(f"GET {path} answered {type(document).__name__}, not a list")
    return [item for item in document if isinstance(item, dict)]


def with_mark(message: dict[str, Any], mark: MessageMark | None) -> dict[str, Any]:
    """A fleet message with what was done to it here (read, archived) on top."""
    if mark is None:
        return message
    out = dict(message)
    if mark["read_at"] and not out["read"]:
        out |= {"read": True, "read_at": mark["read_at"]}
    if mark["archived_at"] and not out["archived"]:
        out |= {"archived": True, "archived_at": mark["archived_at"]}
    return out


def merge_messages(local: Sequence[MessageView], fleet: Sequence[Mapping[str, Any]], limit: int) -> list[Any]:
    """Local and fleet messages, newest first, each once (a local id wins), cut to the limit."""
    seen = {m["id"] for m in local}
    merged: list[Any] = [*local, *(m for m in fleet if m["id"] not in seen)]
    merged.sort(key=lambda m: m.get("created_at") or "", reverse=True)
    return merged[:limit]
