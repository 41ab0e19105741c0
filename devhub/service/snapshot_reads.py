"""Reads merged with the fleet snapshot (devhub/service/fleet_snapshot.py): local first, the fleet's on top.

Every merge keeps the read model's answer and adds what only the fleet holds, tagged
`source: "fleet"` and `as_of`:

  messages    the fleet's copies, with local reads/archives laid on top; a message written here
              and relayed is shown once (its local copy: the id map hides its fleet copy)
  decisions   the fleet's pending ones not written here (the id map hides those that were)
  topics, domains, repos   the fleet's ones whose slug the files do not name

Workplans and tasks are never merged: files stay the truth for them.
With no snapshot (fleet role, relay off) every method returns the local answer unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

from devhub.service.fleet_decisions import fleet_decision_record
from devhub.service.fleet_snapshot import merge_messages
from devhub.service.records_decisions import DecisionRecord

if TYPE_CHECKING:
    from devhub.records import MessageView
    from devhub.service.fleet_snapshot import FleetSnapshot
    from devhub.service.hub import Hub
    from devhub.store.decision_marks import DecisionMark
    from devhub.store.message_marks import MessageMark

T = TypeVar("T", bound=Mapping[str, Any])

BLOCKING_STATUSES = ("open", "escalated")


class SnapshotReads:
    """The merged reads over one Hub (its read model and, while it relays, its fleet snapshot)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @property
    def snapshot(self) -> FleetSnapshot | None:
        return self.hub.snapshot

    async def _marks(self) -> Mapping[str, MessageMark]:
        from devhub.store.message_marks import fleet_message_marks

        return await self.hub.read(fleet_message_marks)

    # -- messages ------------------------------------------------------------------------------------

    async def messages(self, local: list[MessageView], args: Mapping[str, Any]) -> list[MessageView]:
        """GET /messages/: the local answer merged with the fleet's messages under the same filters."""
        snapshot = self.snapshot
        if snapshot is None:
            return local
        from devhub.store.activity import MESSAGES_LIMIT_DEFAULT

        limit = int(args.get("limit") or MESSAGES_LIMIT_DEFAULT)
        marks = await self._marks()
        fleet = await asyncio.to_thread(
            lambda: snapshot.messages(
                marks,
                to_agent=args.get("to_agent"),
                from_agent=args.get("from_agent"),
                unread_only=bool(args.get("unread_only")),
                include_archived=bool(args.get("include_archived")),
                limit=limit,
            )
        )
        return cast("list[MessageView]", merge_messages(local, fleet, limit))

    async def thread(self, message_id: str, local: list[MessageView] | None) -> list[MessageView] | None:
        """A thread whose root (or whose given message) only the fleet holds, with local replies in it."""
        snapshot = self.snapshot
        if snapshot is None:
            return local
        marks = await self._marks()
        if local is not None:
            root_id = local[0]["thread_id"] or local[0]["id"]
            fleet = await asyncio.to_thread(snapshot.thread, root_id, marks)
            seen = {m["id"] for m in local}
            return [*local, *cast("list[MessageView]", [m for m in fleet if m["id"] not in seen])]
        message = await asyncio.to_thread(snapshot.message, message_id, marks)
        if message is None:
            return None
        root_id = message["thread_id"] or message["id"]
        root = await asyncio.to_thread(snapshot.message, root_id, marks) or message
        replies = await asyncio.to_thread(snapshot.thread, root_id, marks)
        from devhub.store.activity import message_thread

        local_replies = await self.hub.read(lambda r: message_thread(r, root_id)) or []
        merged = sorted([*replies, *local_replies], key=lambda m: m.get("created_at") or "")
        return cast("list[MessageView]", [root, *merged])

    # -- decisions ---------------------------------------------------------------------------------------

    async def decisions(self, local: list[DecisionRecord], filters: Mapping[str, Any]) -> list[DecisionRecord]:
        """GET /decisions/ (and the blocking ones in summaries): local ones plus the fleet's pending ones."""
        snapshot = self.snapshot
        if snapshot is None:
            return local
        marks = await self._decision_marks()
        fleet = await asyncio.to_thread(self._fleet_decisions, snapshot, filters, marks)
        seen = {d["id"] for d in local}
        merged = [*local, *(d for d in fleet if d["id"] not in seen)]
        merged.sort(key=lambda d: (d.get("deadline") is None, d.get("deadline") or "", d.get("created_at") or ""))
        limit = filters.get("limit")
        return cast("list[DecisionRecord]", merged[:limit] if limit else merged)

    def _fleet_decisions(
        self, snapshot: FleetSnapshot, filters: Mapping[str, Any], marks: Mapping[str, DecisionMark]
    ) -> list[dict[str, Any]]:
        written_here = snapshot.hidden.get("decision", frozenset())
        topics = {t.get("id"): t for t in snapshot.collection("topics")}
        topic = filters.get("topic_id")  # a fleet topic UUID or a topic slug
        domain = filters.get("domain")
        out = []
        for doc in snapshot.collection("decisions"):
            if doc.get("id") in written_here or doc.get("decision_type", "pending") != "pending":
                continue
            record = fleet_decision_record(doc, topics, marks.get(str(doc.get("id"))))
            status = record["status"]
            if filters.get("decision_type") is not None and record["decision_type"] != filters["decision_type"]:
                continue  # resolved here: no longer pending
            if filters.get("status") is not None and status != filters["status"]:
                continue
            if filters.get("blocking") and status not in BLOCKING_STATUSES:
                continue
            the_topic = topics.get(doc.get("topic_id")) or {}
            if topic is not None and str(topic).lower() not in (
                str(doc.get("topic_id") or "").lower(),
                the_topic.get("slug"),
            ):
                continue
            if domain is not None and domain not in (the_topic.get("domain_slug"), the_topic.get("domain")):
                continue
            out.append(record)
        return out

    # -- fleet decision marks --: a fleet decision resolved or patched here (store/decision_marks.py).

    async def _decision_marks(self) -> Mapping[str, DecisionMark]:
        from devhub.store.decision_marks import fleet_decision_marks

        return await self.hub.read(fleet_decision_marks)

    async def decision(self, decision_id: str) -> dict[str, Any] | None:
        """GET /decisions/{id} of a decision only the fleet snapshot holds, with the local change on top."""
        return await self.hub._fleet_decision(decision_id)  # the writes' lookup too (Writes.fleet_decision)

    # -- topics, domains, repos ---------------------------------------------------------------------------

    async def by_slug(self, local: list[T], collection: str, domain: str | None = None) -> list[T]:
        """The local rows plus the fleet's rows of `collection` whose slug no local row has."""
        snapshot = self.snapshot
        if snapshot is None:
            return local
        fleet = await asyncio.to_thread(snapshot.collection, collection)
        slugs = {row.get("slug") for row in local}
        extra = [
            row
            for row in fleet
            if row.get("slug") not in slugs
            and (domain is None or domain in (row.get("domain_slug"), row.get("domain")))
        ]
        return [*local, *cast("Sequence[T]", extra)]
