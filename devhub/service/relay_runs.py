"""What may travel side by side, and what travels together: the relay's sequence keys and bulk runs.

**Sequence keys.** The relay sends up to `DEVHUB_RELAY_IN_FLIGHT` calls at once (relay/flight.py);
envelopes touching the same object never overlap and go out in seq order. An envelope touches its
own object (the order key: a task, a workplan, a decision, a message) and the objects it names:

    progress, token events, decisions   the task and the workplan in the body (progress naming
                                        neither: the general feed)
    task.create                         the workplan it is created in (after that workplan's create)
    message with a thread_id            the thread's root (a reply after its root, replies in order)
    dependency.*                        the prerequisite workplan as well
    token_event.upsert                  its measurement source (the last upsert wins upstream too)
    any other kind                      every envelope of that kind (journal order among them)

A progress event naming no task or workplan touches the general feed: those keep their journal
order among themselves. An object created offline is named by its local id in every envelope that
refers to it, so the create and what names it share a key: creation before reference holds without
waiting on the whole pipeline.

**Bulk runs.** A bulk status sync made here was journaled as one `task.patch` envelope per update,
keyed `<key>#0` … `<key>#n-1` (the client's key, or one made up for it), at consecutive seqs; the
last carries the request's answer. While
the whole run is pending, the relay sends it as the request it was: one
`POST /tasks/bulk-status-sync` (updates in order, task ids as the fleet's UUIDs recorded at write
time) under the request's own key `<key>` — a key the upstream never saw otherwise. Which
envelopes form a run, and the call's body, follow from the journal alone, so a resend after a crash
is the same call with the same key and the upstream's idempotency turns it into a replay. The
upstream records each update on its own (the real hub: one progress event per change; devhub's
fleet role: one journal envelope per update, keyed `<key>#<i>`).

A run goes out as single PATCHes (each under its `<key>#<i>`) when it cannot be carried whole:
a part without a recorded UUID or with fields a bulk sync cannot carry, a run cut by a torn
journal tail, or a run the upstream refused as one call (the relay then sends its parts one by
one, and stops asking if the upstream has no such route). `DEVHUB_RELAY_BULK=0` turns runs off.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from devhub.service.idempotency import DERIVED_KEY_SEPARATOR, derived_key
from devhub.service.record_fields import is_uuid

if TYPE_CHECKING:
    from relay.forwarder import Batch

BULK_PATH = "/tasks/bulk-status-sync"
PART_FIELDS = frozenset({"status", "agent", "session_id"})  # what a bulk status sync can carry per update


def sequence_keys(envelope: dict[str, Any]) -> tuple[Hashable, ...]:
    """The objects an envelope names besides its own (relay_link.order_key): see the module docstring."""
    kind = envelope.get("kind")
    target = envelope.get("target") or {}
    body = envelope.get("body") or {}
    repo = target.get("repo")
    keys: list[Hashable] = []
    if kind in ("progress", "token_event", "token_event.upsert", "decision"):
        if body.get("task_id"):
            keys.append(("task", repo, body["task_id"]))
        workplan = body.get("workplan_id") or body.get("workstream_id")
        if workplan:
            keys.append(("workplan", repo, workplan))
        if kind == "progress" and not keys:  # the hub's general feed: such notes keep their journal order
            keys.append(("progress-feed",))
    elif kind == "task.create":
        keys.append(("workplan", repo, target.get("workplan_id")))
    elif kind == "message" and isinstance(body.get("thread_id"), str):
        keys.append(("message", body["thread_id"]))
    elif kind in ("dependency.create", "dependency.delete"):
        keys.append(("workplan", target.get("to_repo") or repo, target.get("to_id")))
    if kind == "token_event.upsert":  # an upsert replaces the row of its source: the last one must win
        keys.append(("token-source", body.get("source_provider"), body.get("source_id")))
    elif kind not in KNOWN_KINDS:  # routed by its own method and path: kept in journal order among its kind
        keys.append(("other-kind", kind))
    return tuple(keys)


KNOWN_KINDS = frozenset(
    {
        "task.patch",
        "task.create",
        "workplan.patch",
        "workplan.create",
        "dependency.create",
        "dependency.delete",
        "progress",
        "message",
        "message.read",
        "message.archive",
        "decision",
        "decision.patch",
        "decision.resolve",
        "token_event",
        "token_event.upsert",
    }
)


def bulk_run(queue: Sequence[dict[str, Any]], index: int) -> Batch | Literal["more"] | None:
    """The bulk status sync starting at queue[index], whole, as one call; "more" when the queue ends
    inside it (load more and ask again); None when queue[index] goes out alone."""
    first = queue[index]
    base = _base_key(first)
    if base is None:
        return None
    members: list[dict[str, Any]] = []
    for envelope in queue[index:]:
        expected_seq = members[-1]["seq"] + 1 if members else first["seq"]
        if (
            envelope.get("kind") != "task.patch"
            or envelope.get("idempotency_key") != derived_key(base, len(members))
            or envelope["seq"] != expected_seq
        ):
            return None  # a part is missing (finished alone, or cut): the rest go out alone too
        members.append(envelope)
        if "response" in envelope:  # the request's answer rides on its last envelope
            return _batch(base, members)
    return "more"


def _base_key(envelope: dict[str, Any]) -> str | None:
    """`<key>` when the envelope is part 0 of a keyed bulk status sync (`<key>#0`), else None."""
    if envelope.get("kind") != "task.patch":
        return None
    key = str(envelope.get("idempotency_key") or "")
    base, separator, index = key.rpartition(DERIVED_KEY_SEPARATOR)
    if not separator or not base or index != "0":
        return None
    return base


def _batch(base: str, members: list[dict[str, Any]]) -> Batch | None:
    """The bulk call carrying every part, or None when one part cannot be carried by it."""
    from relay.forwarder import Batch
    from relay.upstream import UpstreamRequest

    if len(members) < 2:
        return None
    updates = []
    agents, sessions = set(), set()
    for member in members:
        body = member.get("body") or {}
        uuid = (member.get("target") or {}).get("state_hub_task_id")
        if not set(body) <= PART_FIELDS or not isinstance(body.get("status"), str) or not is_uuid(str(uuid or "")):
            return None
        updates.append({"task_id": str(uuid), "status": body["status"]})
        agents.add(body.get("agent"))
        sessions.add(body.get("session_id"))
    if len(agents) > 1 or len(sessions) > 1:
        return None  # one author and session per call: not one request after all
    request_body: dict[str, Any] = {"updates": updates}
    agent, session = agents.pop(), sessions.pop()
    if agent:
        request_body["author"] = agent
    if session:
        request_body["session_id"] = session
    return Batch(tuple(members), UpstreamRequest("POST", BULK_PATH, request_body, base))
