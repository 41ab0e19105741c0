"""Wire the relay (which knows nothing of devhub) to the running hub: routing, token, settings, events.

Routing needs the read model, so it lives here. An envelope becomes one upstream call:

    task.patch       PATCH /tasks/{state_hub_task_id}             held while the task has no id
    workplan.patch   PATCH /workplans/{state_hub_workstream_id}   held while the workplan has no id
    progress         POST  /progress/   task_id / workplan_id as State Hub UUIDs when known, else file ids
    message          POST  /messages/   thread_id as the upstream's id of the root (the upstream's new id
                     is remembered for message.read / .archive and for replies in its thread)
    message.read     PATCH /messages/{upstream id, else local id}/read
    decision         POST  /decisions/   topic_id / workstream_id as fleet UUIDs; held while only a
                     topic slug or a workplan without a UUID names it (the upstream's id is remembered)
    decision.patch   PATCH /decisions/{upstream id}           held until the decision's POST is acknowledged
    decision.resolve POST  /decisions/{upstream id}/resolve   likewise
    token_event      POST  /token-events/ (and token_event.upsert: /token-events/upsert), task_id /
                     workstream_id as fleet UUIDs; held while the task or workplan has none
    message.archive  PATCH /messages/{upstream id, else local id}/archive
    (a reply, POST /messages/{id}/reply here, is journaled as `message` + `message.read`)
    task.create      POST  /tasks/      workstream_id: the workplan's State Hub UUID when known, else its file id
    dependency.*     POST / DELETE /workplans/{uuid or id}/dependencies/[{prerequisite's uuid or id}]
    workplan.create  POST  /workplans/  (the upstream's new UUID of a created item is remembered, see on_ack)
    anything else    the envelope's own method and path

Ids are looked up at send time (a file may have gained its id since the write); the ids
recorded in the envelope at write time are preferred for progress bodies, so a resend
after a crash carries the same body and the upstream's idempotency check recognises it.

A read-model failure while routing is `RouteUnavailable` (the relay retries, and reports
`stuck` if it persists); any other failure means the envelope itself cannot be routed, and
the relay dead-letters it with the reason instead of blocking everything behind it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from devhub.service.record_fields import is_uuid
from devhub.settings import RelayConfig, read_env_var

if TYPE_CHECKING:
    from devhub.store.reader import Reader
    from relay.forwarder import Forwarder, Hold, JournalLike, Send
    from relay.idmap import IdMap
    from relay.upstream import Answer

# Runs a query against the read model (the hub's `read`), on a reader thread.
ReadFn = Callable[[Callable[["Reader"], Awaitable[Any]]], Awaitable[Any]]
# Publishes a live event (the hub's `events.publish`): topic, then the event's fields.
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
    return None


class Router:
    """Maps envelopes to upstream calls using the hub's read model."""

    def __init__(
        self, read: ReadFn, message_ids: IdMap, decision_ids: IdMap | None = None, created_ids: IdMap | None = None
    ) -> None:
        self._read_model = read
        self._message_ids = message_ids
        self._decision_ids = decision_ids or message_ids
        # "task:<repo>:<id>" / "workplan:<repo>:<id>" of an item created here -> the UUID the upstream gave it.
        self._created_ids = created_ids

    async def _read(self, query: Any) -> Any:
        from relay.errors import RouteUnavailable

        try:
            return await self._read_model(query)
        except Exception as exc:  # the read model, not the envelope: worth another try later
            raise RouteUnavailable(f"the read model could not be read: {type(exc).__name__}: {exc}") from exc

    async def _task_uuid(self, repo: str | None, task_id: str | None) -> str | None:
        from devhub.store.lookups import task_state_hub_id

        uuid: str | None = await self._read(lambda r: task_state_hub_id(r, repo, task_id))
        return uuid or self._created_uuid("task", repo, task_id)

    async def _workplan_uuid(self, repo: str | None, workplan_id: str | None) -> str | None:
        from devhub.store.lookups import workplan_state_hub_id

        uuid: str | None = await self._read(lambda r: workplan_state_hub_id(r, repo, workplan_id))
        return uuid or self._created_uuid("workplan", repo, workplan_id)

    def _created_uuid(self, kind: str, repo: str | None, ident: str | None) -> str | None:
        """The upstream UUID of an item created here, once its create was acknowledged (before writeback)."""
        return self._created_ids.get(f"{kind}:{repo}:{ident}") if self._created_ids is not None else None

    async def route(self, envelope: dict[str, Any]) -> Send | Hold:
        """The upstream call for an envelope, or Hold when its target has no State Hub id yet."""
        from relay.forwarder import Hold, Send
        from relay.upstream import UpstreamRequest

        kind = envelope.get("kind")
        target = envelope.get("target") or {}
        body = dict(envelope.get("body") or {})
        key = str(envelope["idempotency_key"])
        method, path = str(envelope.get("method")), str(envelope.get("path"))
        if kind == "task.patch":
            uuid = await self._task_uuid(target.get("repo"), target.get("id")) or target.get("state_hub_task_id")
            if not uuid:
                return Hold(
                    f"task {target.get('id')} ({target.get('repo')}) has no state_hub_task_id yet; its writes wait "
                    "until the workplan file gains one"
                )
            path = f"/tasks/{uuid}"
        elif kind == "workplan.patch":
            uuid = await self._workplan_uuid(target.get("repo"), target.get("id")) or target.get(
                "state_hub_workstream_id"
            )
            if not uuid:
                return Hold(
                    f"workplan {target.get('id')} ({target.get('repo')}) has no state_hub_workstream_id yet; its "
                    "writes wait until the file gains one"
                )
            path = f"/workplans/{uuid}"
        elif kind == "progress":
            repo = target.get("repo")
            if body.get("task_id"):
                body["task_id"] = target.get("state_hub_task_id") or (
                    await self._task_uuid(repo, body["task_id"]) or body["task_id"]
                )
            if body.get("workplan_id"):
                body["workplan_id"] = target.get("state_hub_workstream_id") or (
                    await self._workplan_uuid(repo, body["workplan_id"]) or body["workplan_id"]
                )
            path = "/progress/"
        elif kind == "message":
            if isinstance(body.get("thread_id"), str):
                body["thread_id"] = self._message_ids.get(body["thread_id"]) or body["thread_id"]
            path = "/messages/"
        # -- creating work offline --
        elif kind == "task.create":
            # The UUID recorded at write time wins (a resend carries the same body); full reference
            # rewriting (holding until the parent has a UUID) is a later step, so the file id goes otherwise.
            body["workstream_id"] = target.get("state_hub_workstream_id") or (
                await self._workplan_uuid(target.get("repo"), target.get("workplan_id")) or body.get("workstream_id")
            )
            path = "/tasks/"
        elif kind == "workplan.create":
            path = "/workplans/"
        elif kind in ("dependency.create", "dependency.delete"):
            source = target.get("state_hub_workstream_id") or (
                await self._workplan_uuid(target.get("repo"), target.get("id")) or target.get("id")
            )
            prerequisite = target.get("to_state_hub_workstream_id") or (
                await self._workplan_uuid(target.get("to_repo") or target.get("repo"), target.get("to_id"))
                or target.get("to_id")
            )
            path = f"/workplans/{source}/dependencies/"
            if kind == "dependency.create":
                body["to_workstream_id"] = prerequisite
            else:  # the upstream names an edge by its own id; devhub's fleet role by the prerequisite's
                path += str(prerequisite)
        elif kind in ("message.read", "message.archive"):
            local = str(target.get("id"))
            path = f"/messages/{self._message_ids.get(local) or local}/{kind.removeprefix('message.')}"
        elif kind in DECISION_KINDS or kind in TOKEN_KINDS:
            routed = await self._route_decision_or_tokens(str(kind), target, body)
            if isinstance(routed, str):
                return Hold(routed)
            path = routed[0]
        return Send(UpstreamRequest(method, path, body, key))

    # -- decisions and token events --

    async def _route_decision_or_tokens(
        self, kind: str, target: dict[str, Any], body: dict[str, Any]
    ) -> tuple[str] | str:
        """The upstream path (body ids rewritten to fleet UUIDs in place), or why the envelope must wait."""
        repo = target.get("repo")
        if kind in ("decision.patch", "decision.resolve"):
            upstream = self._decision_ids.get(str(target.get("id")))
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

    async def on_ack(self, envelope: dict[str, Any], answer: Answer) -> None:
        """Remember the upstream's id for a message, decision, task or workplan created here, so later writes
        can address it."""
        if envelope.get("kind") == "decision":
            await self._remember(self._decision_ids, envelope, answer)
            return
        if envelope.get("kind") in ("task.create", "workplan.create"):
            await self._remember_created(envelope, answer)
            return
        if envelope.get("kind") != "message":
            return
        local = (envelope.get("record") or {}).get("id")
        document = answer.json()
        upstream = document.get("id") if isinstance(document, dict) else None
        if isinstance(local, str) and isinstance(upstream, str) and upstream != local:
            import asyncio

            await asyncio.to_thread(self._message_ids.put, local, upstream)

    async def _remember(self, ids: IdMap, envelope: dict[str, Any], answer: Answer) -> None:
        import asyncio

        local = (envelope.get("record") or {}).get("id")
        document = answer.json()
        upstream = document.get("id") if isinstance(document, dict) else None
        if isinstance(local, str) and isinstance(upstream, str):
            await asyncio.to_thread(ids.put, local, upstream)

    async def _remember_created(self, envelope: dict[str, Any], answer: Answer) -> None:
        import asyncio

        if self._created_ids is None:
            return
        target = envelope.get("target") or {}
        document = answer.json()
        upstream = document.get("id") if isinstance(document, dict) else None
        if isinstance(upstream, str) and _is_uuid(upstream):  # a devhub fleet hub answers with its file id
            await asyncio.to_thread(
                self._created_ids.put, f"{target.get('kind')}:{target.get('repo')}:{target.get('id')}", upstream
            )


DECISION_KINDS = ("decision", "decision.patch", "decision.resolve")
TOKEN_KINDS = ("token_event", "token_event.upsert")
CREATED_IDS_FILE = "created_ids.jsonl"


def created_uuids(relay_dir: Path) -> Callable[[str], str | None]:
    """The fleet UUIDs the relay has learnt for items created here ("task:<repo>:<id>" -> UUID), as a lookup."""
    from relay.idmap import IdMap

    return IdMap(relay_dir / CREATED_IDS_FILE).get


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def start_relay(
    relay: RelayConfig,
    *,
    relay_dir: Path,
    journal: JournalLike,
    read: ReadFn,
    publish: PublishFn,
    secret: Callable[[str | None], str | None],
) -> Forwarder:
    """Build the forwarder for the journal and the configured upstream, and start it.

    `secret` is the Settings' snapshot lookup of a token variable, used when the variable is not set now.
    """
    from relay.dead_letters import DEAD_LETTERS_FILE, DeadLetters
    from relay.forwarder import Forwarder, ForwarderTunables
    from relay.idmap import IdMap
    from relay.position import POSITION_FILE, PositionFile
    from relay.upstream import Upstream

    token_env = relay.token_env

    def token() -> str | None:
        # Re-read so a changed token is used (and lifts an auth pause) without a restart.
        return (read_env_var(token_env) or secret(token_env)) if token_env else None

    router = Router(
        read,
        IdMap(relay_dir / "message_ids.jsonl"),
        IdMap(relay_dir / "decision_ids.jsonl"),
        IdMap(relay_dir / CREATED_IDS_FILE),
    )
    forwarder = Forwarder(
        journal=journal,
        position_file=PositionFile(relay_dir / POSITION_FILE),
        dead_letters=DeadLetters(relay_dir / DEAD_LETTERS_FILE),
        upstream=Upstream(str(relay.upstream), timeout=relay.request_timeout, token=token),
        route=router.route,
        order_key=order_key,
        token=token,
        settings=ForwarderTunables(backoff_cap=relay.backoff_cap),
        on_ack=router.on_ack,
        on_change=lambda status: publish("relay", **status.to_json()),
        crash=relay.crash_plan(),
    )
    await forwarder.start()
    return forwarder
