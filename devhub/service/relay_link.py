"""Wire the relay (which knows nothing of devhub) to the running hub: routing, token, settings, events.

Routing needs the read model, so it lives here. An envelope becomes one upstream call, with every
object it names rewritten to the fleet's id. While an object it names has no fleet id yet, the
envelope is *held* (the reason names the object) and goes out, in order, once the id is known:

    task.patch       PATCH /tasks/{state_hub_task_id}             held while the task has no UUID
    workplan.patch   PATCH /workplans/{state_hub_workstream_id}   held while the workplan has no UUID
    progress         POST  /progress/   task_id / workplan_id as fleet UUIDs (held while one has none);
                     a topic slug is dropped when a task or workplan places the event, else held
    message          POST  /messages/   thread_id as the fleet's id of the root: a reply to a message
                     written here waits until the root's POST is acknowledged
    message.read     PATCH /messages/{fleet id}/read      (held likewise while the message has none)
    message.archive  PATCH /messages/{fleet id}/archive
    (a reply, POST /messages/{id}/reply here, is journaled as `message` + `message.read`)
    decision         POST  /decisions/   topic_id / workstream_id as fleet UUIDs; held while only a
                     topic slug or a workplan without a UUID names it
    decision.patch   PATCH /decisions/{fleet id}           held until the decision's POST is acknowledged
    decision.resolve POST  /decisions/{fleet id}/resolve   likewise; a decision only the fleet holds (from
                     the snapshot, `target.fleet`) is named by its own fleet UUID and never held
    token_event      POST  /token-events/ (and token_event.upsert: /token-events/upsert), task_id /
                     workstream_id as fleet UUIDs; held while the task or workplan has none
    task.create      POST  /tasks/      workstream_id: the workplan's fleet UUID; a task created under a
                     workplan created offline waits for that workplan's POST to be acknowledged
    workplan.create  POST  /workplans/  held while its topic is only a slug
    dependency.*     POST / DELETE /workplans/{uuid}/dependencies/[{prerequisite's uuid}], held while
                     either workplan has no UUID
    anything else    the envelope's own method and path

The fleet's answer to a creating envelope (message, decision, task.create, workplan.create) is
recorded in ONE durable id map (relay/fleet_ids.py, `relay/fleet_ids.jsonl`) before the cursor
moves past it; a task's or workplan's UUID there is also what `devhub writeback` writes into the
new block. Holds are re-checked on every pass (a write, a file change, `relay now`), so a file that
gains its UUID, or an acknowledged create, releases what waited on it.

Ids are looked up at send time (a file may have gained its id since the write); the ids
recorded in the envelope at write time are preferred for progress and created-task bodies, so a resend
after a crash carries the same body and the upstream's idempotency check recognises it.

A read-model failure while routing is `RouteUnavailable` (the relay retries, and reports
`stuck` if it persists); any other failure means the envelope itself cannot be routed, and
the relay dead-letters it with the reason instead of blocking everything behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devhub.service.record_fields import is_uuid
from devhub.settings import RelayConfig, read_env_var

if TYPE_CHECKING:
    from devhub.store.reader import Reader
    from relay.fleet_ids import FleetIds
    from relay.forwarder import Forwarder, Hold, JournalLike, Send
    from relay.upstream import Answer

# Runs a query against the read model (the hub's `read`), on a reader thread.
ReadFn = Callable[[Callable[["Reader"], Awaitable[Any]]], Awaitable[Any]]
# Publishes a live event (the hub's `events.publish`): topic, then the event's fields.
# A topic slug's fleet UUID from the fleet snapshot (None while it does not know the topic); blocking.
TopicLookup = Callable[[str], "str | None"]
PublishFn = Callable[..., None]


def order_key(envelope: dict[str, Any]) -> Hashable | None:
    """Envelopes with the same key are delivered in seq order even when the first one is held."""
    target = envelope.get("target") or {}
    kind = envelope.get("kind")
    if kind == "task.patch":
        return ("task", target.get("repo"), target.get("id"))
    if kind in ("workplan.patch", "workplan.create", "dependency.create", "dependency.delete"):
        return ("workplan", target.get("repo"), target.get("id"))
    if kind in ("decision", "decision.patch", "decision.resolve"):
        return ("decision", target.get("id"))
    if kind == "task.create":
        return ("task", target.get("repo"), target.get("id"))
    if kind == "message":  # its own id: a read or archive of it waits behind it
        return ("message", (envelope.get("record") or {}).get("id"))
    if kind in ("message.read", "message.archive"):
        return ("message", target.get("id"))
    return None


class Router:
    """Maps envelopes to upstream calls using the hub's read model and the fleet id map."""

    def __init__(self, read: ReadFn, fleet_ids: FleetIds, topic_uuid: TopicLookup | None = None) -> None:
        self._read_model = read
        self._ids = fleet_ids
        self._topic_uuid = topic_uuid  # -- fleet snapshot --: a topic slug's fleet UUID, when the snapshot knows it

    async def _read(self, query: Any) -> Any:
        from relay.errors import RouteUnavailable

        try:
            return await self._read_model(query)
        except Exception as exc:  # the read model, not the envelope: worth another try later
            raise RouteUnavailable(f"the read model could not be read: {type(exc).__name__}: {exc}") from exc

    async def _task_uuid(self, repo: str | None, task_id: str | None) -> str | None:
        from devhub.store.lookups import task_state_hub_id

        uuid: str | None = await self._read(lambda r: task_state_hub_id(r, repo, task_id))
        return uuid or self._ids.get("task", f"{repo}:{task_id}")

    async def _workplan_uuid(self, repo: str | None, workplan_id: str | None) -> str | None:
        from devhub.store.lookups import workplan_state_hub_id

        uuid: str | None = await self._read(lambda r: workplan_state_hub_id(r, repo, workplan_id))
        return uuid or self._ids.get("workplan", f"{repo}:{workplan_id}")

    async def _message_id(self, local: str) -> str | Hold:
        """The fleet's id of a message: from the id map, or as is when it was not written here; else wait."""
        from devhub.store.activity import get_message
        from relay.forwarder import Hold

        fleet = self._ids.get("message", local)
        if fleet:
            return fleet
        if await self._read(lambda r: get_message(r, local)) is None:
            return local  # not written here: the fleet's own id (write-time checks refuse unknown ones)
        return Hold(f"message {local} was written here and its POST /messages/ has not been acknowledged yet")

    async def _task_ref(self, repo: str | None, task_id: Any, recorded: Any, why: str) -> str | Hold:
        """The fleet UUID of a task (the file's, the id map's, or the one recorded at write time), or wait."""
        return await self._ref(self._task_uuid, "task", "state_hub_task_id", repo, task_id, recorded, why)

    async def _workplan_ref(self, repo: str | None, workplan_id: Any, recorded: Any, why: str) -> str | Hold:
        """The fleet UUID of a workplan (the file's, the id map's, or the one recorded at write time), or wait."""
        return await self._ref(
            self._workplan_uuid, "workplan", "state_hub_workstream_id", repo, workplan_id, recorded, why
        )

    @staticmethod
    async def _ref(
        lookup: Callable[[str | None, Any], Awaitable[str | None]],
        kind: str,
        field: str,
        repo: str | None,
        ident: Any,
        recorded: Any,
        why: str,
    ) -> str | Hold:
        from relay.forwarder import Hold

        if recorded:
            return str(recorded)
        uuid = await lookup(repo, ident)
        if uuid:
            return uuid
        return Hold(f"{kind} {ident} ({repo}) has no {field} yet; {why}")

    async def route(self, envelope: dict[str, Any]) -> Send | Hold:
        """The upstream call for an envelope, or Hold (naming the object) while an object it names has no fleet id."""
        from relay.forwarder import Hold, Send
        from relay.upstream import UpstreamRequest

        kind = envelope.get("kind")
        target = envelope.get("target") or {}
        body = dict(envelope.get("body") or {})
        key = str(envelope["idempotency_key"])
        method, path = str(envelope.get("method")), str(envelope.get("path"))
        repo = target.get("repo")
        ref: str | Hold
        await self._resolve_held_topic(str(kind), body)
        if kind == "task.patch":
            # The file's UUID is looked up first here: a task patched before its block gained one.
            ref = await self._task_ref(
                repo, target.get("id"), None, "its writes wait until the workplan file gains one"
            )
            if isinstance(ref, Hold) and target.get("state_hub_task_id"):
                ref = str(target["state_hub_task_id"])
            if isinstance(ref, Hold):
                return ref
            path = f"/tasks/{ref}"
        elif kind == "workplan.patch":
            ref = await self._workplan_ref(repo, target.get("id"), None, "its writes wait until the file gains one")
            if isinstance(ref, Hold) and target.get("state_hub_workstream_id"):
                ref = str(target["state_hub_workstream_id"])
            if isinstance(ref, Hold):
                return ref
            path = f"/workplans/{ref}"
        elif kind == "progress":
            held = await self._route_progress(target, body)
            if held is not None:
                return held
            path = "/progress/"
        elif kind == "message":
            if isinstance(body.get("thread_id"), str):
                ref = await self._message_id(body["thread_id"])
                if isinstance(ref, Hold):
                    return Hold(f"a reply waits for its thread root: {ref.reason}")
                body["thread_id"] = ref
            path = "/messages/"
        elif kind in ("message.read", "message.archive"):
            ref = await self._message_id(str(target.get("id")))
            if isinstance(ref, Hold):
                return ref
            path = f"/messages/{ref}/{str(kind).removeprefix('message.')}"
        # -- creating work offline --
        elif kind == "task.create":
            # A task created under a workplan created offline waits for that workplan's create to be acknowledged.
            ref = await self._workplan_ref(
                repo,
                target.get("workplan_id"),
                target.get("state_hub_workstream_id"),
                "the task created in it waits for the fleet's UUID (its POST /workplans/ acknowledged, or the file)",
            )
            if isinstance(ref, Hold):
                return ref
            body["workstream_id"] = ref
            path = "/tasks/"
        elif kind == "workplan.create":
            topic = body.get("topic_id")
            if topic and not is_uuid(str(topic)):
                return Hold(f"topic {topic!r} is a slug and the fleet's topic UUID is not known here yet")
            path = "/workplans/"
        elif kind in ("dependency.create", "dependency.delete"):
            why = "the dependency edit waits for the fleet's UUID of both workplans"
            source = await self._workplan_ref(repo, target.get("id"), target.get("state_hub_workstream_id"), why)
            prerequisite = await self._workplan_ref(
                target.get("to_repo") or repo, target.get("to_id"), target.get("to_state_hub_workstream_id"), why
            )
            for ref in (source, prerequisite):
                if isinstance(ref, Hold):
                    return ref
            path = f"/workplans/{source}/dependencies/"
            if kind == "dependency.create":
                body["to_workstream_id"] = prerequisite
            else:  # the fleet's id of an edge created here (the id map), else the prerequisite's, as devhub's
                # fleet role names an edge; the real hub's id of an edge from a file is not known here yet
                path += self._ids.get("dependency", _edge_key(target)) or str(prerequisite)
        elif kind in DECISION_KINDS or kind in TOKEN_KINDS:
            routed = await self._route_decision_or_tokens(str(kind), target, body)
            if isinstance(routed, str):
                return Hold(routed)
            path = routed[0]
        return Send(UpstreamRequest(method, path, body, key))

    async def _route_progress(self, target: dict[str, Any], body: dict[str, Any]) -> Hold | None:
        """Rewrite a progress body's ids to the fleet's in place; a Hold while one has no fleet id yet.

        The UUIDs recorded at write time win, so a resend after a crash carries the same body.
        """
        from relay.forwarder import Hold

        repo = target.get("repo")
        if body.get("task_id"):
            ref = await self._task_ref(
                repo, body["task_id"], target.get("state_hub_task_id"), "the progress event waits for it"
            )
            if isinstance(ref, Hold):
                return ref
            body["task_id"] = ref
        if body.get("workplan_id"):
            ref = await self._workplan_ref(
                repo, body["workplan_id"], target.get("state_hub_workstream_id"), "the progress event waits for it"
            )
            if isinstance(ref, Hold):
                return ref
            body["workplan_id"] = ref
        topic = body.get("topic_id")
        if topic and not is_uuid(str(topic)):
            if not (body.get("workplan_id") or body.get("task_id")):
                return Hold(f"topic {topic!r} is a slug and the fleet's topic UUID is not known here yet")
            del body["topic_id"]  # the workplan or task places the event; the fleet takes only a UUID here
        return None

    # -- decisions and token events --    # -- decisions and token events --

    async def _route_decision_or_tokens(
        self, kind: str, target: dict[str, Any], body: dict[str, Any]
    ) -> tuple[str] | str:
        """The upstream path (body ids rewritten to fleet UUIDs in place), or why the envelope must wait."""
        repo = target.get("repo")
        if kind in ("decision.patch", "decision.resolve"):
            upstream = self._ids.get("decision", str(target.get("id")))
            if not upstream and target.get("fleet"):
                upstream = str(target.get("id"))  # a decision only the fleet held (its snapshot): already its UUID
            if not upstream:
                return (
                    f"decision {target.get('id')} has no upstream id yet: its POST /decisions/ has not been "
                    "acknowledged"
                )
            return (f"/decisions/{upstream}/resolve" if kind == "decision.resolve" else f"/decisions/{upstream}",)
        if body.get("task_id"):
            task_uuid = await self._task_uuid(repo, body["task_id"]) or target.get("state_hub_task_id")
            if not task_uuid:
                return f"task {body['task_id']} ({repo}) has no state_hub_task_id yet; the token event waits for it"
            body["task_id"] = task_uuid
        if body.get("workstream_id"):
            workplan_uuid = await self._workplan_uuid(repo, body["workstream_id"]) or target.get(
                "state_hub_workstream_id"
            )
            if not workplan_uuid and is_uuid(str(body["workstream_id"])):
                workplan_uuid = str(body["workstream_id"])
            if not workplan_uuid:
                return f"workplan {body['workstream_id']} ({repo}) has no state_hub_workstream_id yet; the write waits"
            body["workstream_id"] = workplan_uuid
        if kind == "decision":
            topic = body.get("topic_id")
            if topic and not is_uuid(str(topic)):
                if not body.get("workstream_id"):
                    return f"topic {topic!r} is a slug and the fleet's topic UUID is not known here yet"
                del body["topic_id"]  # the workplan's UUID places the decision; the fleet wants a UUID here
            return ("/decisions/",)
        return ("/token-events/upsert" if kind == "token_event.upsert" else "/token-events/",)

    async def _resolve_held_topic(self, kind: str, body: dict[str, Any]) -> None:
        """A topic slug the fleet snapshot knows becomes its UUID — only where the envelope would otherwise be
        held (so a body that may have been sent before is never changed: its resend stays a replay)."""
        topic = body.get("topic_id")
        if self._topic_uuid is None or not topic or is_uuid(str(topic)):
            return
        would_hold = (
            kind == "workplan.create"
            or (kind == "progress" and not (body.get("workplan_id") or body.get("task_id")))
            or (kind == "decision" and not body.get("workstream_id"))
        )
        if would_hold:
            lookup = self._topic_uuid
            found = await asyncio.to_thread(lambda: lookup(str(topic)))
            if found:
                body["topic_id"] = found

    async def on_ack(self, envelope: dict[str, Any], answer: Answer) -> None:
        """Record the fleet's id of a message, decision, task or workplan created here (from the creating
        envelope's answer), so later writes naming it can be released and rewritten."""
        kind = envelope.get("kind")
        target = envelope.get("target") or {}
        if kind in ("message", "decision"):
            local = (envelope.get("record") or {}).get("id")
        elif kind in ("task.create", "workplan.create"):
            local = f"{target.get('repo')}:{target.get('id')}"
        elif kind == "dependency.create":
            local = _edge_key(target)
        else:
            return
        document = answer.json()
        fleet = document.get("id") if isinstance(document, dict) else None
        if not isinstance(local, str) or not isinstance(fleet, str) or not fleet:
            return
        await asyncio.to_thread(
            self._ids.put,
            str(kind).removesuffix(".create"),  # message, decision, task, workplan, dependency
            local,
            fleet,
            envelope=envelope.get("id"),
            seq=envelope.get("seq"),
        )


def _edge_key(target: dict[str, Any]) -> str:
    """A dependency edge's key in the id map: "<repo>:<workplan>-><prerequisite's repo>:<prerequisite>"."""
    return (
        f"{target.get('repo')}:{target.get('id')}->{target.get('to_repo') or target.get('repo')}:{target.get('to_id')}"
    )


DECISION_KINDS = ("decision", "decision.patch", "decision.resolve")
TOKEN_KINDS = ("token_event", "token_event.upsert")


def created_uuids(relay_dir: Path) -> Callable[[str], str | None]:
    """The fleet ids the relay has learnt for items created here ("task:<repo>:<id>" -> UUID), as a lookup.

    Only UUIDs: writeback writes them into the files, and a devhub fleet hub answers with its file id.
    """
    from relay.fleet_ids import FleetIds

    ids = FleetIds.open(relay_dir)

    def lookup(key: str) -> str | None:
        kind, _, local = key.partition(":")
        fleet = ids.get(kind, local)
        return fleet if fleet is not None and is_uuid(fleet) else None

    return lookup


def upstream_token(token_env: str | None, secret: Callable[[str | None], str | None]) -> Callable[[], str | None]:
    """The upstream's bearer token, read anew at each call, so a changed token is used (and lifts an auth
    pause) without a restart: the variable now, else the Settings' snapshot of it. The relay and the fleet
    snapshot both ask the upstream with it."""

    def token() -> str | None:
        return (read_env_var(token_env) or secret(token_env)) if token_env else None

    return token


async def start_relay(
    relay: RelayConfig,
    *,
    relay_dir: Path,
    journal: JournalLike,
    read: ReadFn,
    publish: PublishFn,
    secret: Callable[[str | None], str | None],
    topic_uuid: TopicLookup | None = None,
) -> Forwarder:
    """Build the forwarder for the journal and the configured upstream, and start it.

    `secret` is the Settings' snapshot lookup of a token variable, used when the variable is not set now.
    """
    from devhub.service.relay_runs import bulk_run, sequence_keys
    from relay.dead_letters import DEAD_LETTERS_FILE, DeadLetters
    from relay.fleet_ids import FleetIds
    from relay.forwarder import Forwarder, ForwarderTunables
    from relay.position import POSITION_FILE, PositionFile
    from relay.upstream import Upstream

    token = upstream_token(relay.token_env, secret)
    # One id map for every kind, recorded from the creating envelopes' answers (earlier files folded in).
    router = Router(read, await asyncio.to_thread(FleetIds.open, relay_dir), topic_uuid)
    forwarder = Forwarder(
        journal=journal,
        position_file=PositionFile(relay_dir / POSITION_FILE),
        dead_letters=DeadLetters(relay_dir / DEAD_LETTERS_FILE),
        upstream=Upstream(
            str(relay.upstream), timeout=relay.request_timeout, token=token, connections=relay.max_in_flight
        ),
        route=router.route,
        order_key=order_key,
        sequence_keys=sequence_keys,
        group=bulk_run if relay.bulk_runs else None,
        token=token,
        settings=ForwarderTunables(backoff_cap=relay.backoff_cap, max_in_flight=relay.max_in_flight),
        on_ack=router.on_ack,
        on_change=lambda status: publish("relay", **status.to_json()),
        crash=relay.crash_plan(),
    )
    await forwarder.start()
    return forwarder
