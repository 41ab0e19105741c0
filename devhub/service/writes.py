"""The one path every write takes: validate -> journal (durable) -> overlay -> answer.

REST, MCP and the CLI all call `Writes`; none of them touches the journal directly.
Idempotency lives here too, so the dev hub and a fleet-role hub share one code path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from devhub.errors import (
    Conflict,
    DevhubError,
    DuplicateTaskIds,
    IdTaken,
    NotFound,
    PayloadTooLarge,
    TasksNotFound,
    ValidationFailed,
)
from devhub.model import TASK_STATUSES, WORKPLAN_STATUSES, canonical_task_status, canonical_workplan_status
from devhub.redact import redact
from devhub.service.canon import check_transition, wait_reason_problem
from devhub.service.idempotency import checked_key, derived_key
from devhub.service.json_values import value_problems
from devhub.service.record_fields import TASK_TOKEN_COUNTS, task_token_event, task_token_problems, text_field
from devhub.settings import IDEMPOTENCY_RETENTION_SECONDS, MAX_BODY_BYTES
from devhub.store import queries
from devhub.store.activity import get_message
from devhub.store.idempotency import IdempotencyRecord, KeyTaken, find_idempotency_record
from devhub.store.reader import Reader
from devhub.store.status_events import status_event

ReadFn = Callable[[Callable[[Reader], Awaitable[Any]]], Awaitable[Any]]
AppendFn = Callable[[Sequence[Mapping[str, Any]]], Awaitable[list[dict[str, Any]]]]
ApplyFn = Callable[[list[dict[str, Any]]], Awaitable[None]]
FindKeyFn = Callable[[str], Awaitable[IdempotencyRecord | None]]
# Journal and apply in one step (the hub's group commit); without it, `append` then `apply`.
PersistFn = Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]

CREATE_ATTEMPTS = 3  # builds of one write whose fleet-unique id another replica takes first (store/pg/created_ids.py)
OVERLAY_TASK_FIELDS = ("status", "needs_human", "intervention_note", "blocking_reason")
_HOST = socket.gethostname()


@dataclass(frozen=True)
class WriteContext:
    """Who is writing and with which Idempotency-Key (None: a new write every time)."""

    idempotency_key: str | None = None
    agent: str | None = None
    session: str | None = None


@dataclass(frozen=True)
class WriteOutcome:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_record_id() -> str:
    """A time-ordered unique id (48-bit ms time + 80 random bits, as a UUID string)."""
    raw = (time.time_ns() // 1_000_000).to_bytes(6, "big") + os.urandom(10)
    return str(uuid.UUID(bytes=raw))


def _keyed_path(path: str, repo: str | None) -> str:
    """The request an Idempotency-Key is bound to: `?repo=` picks the target, so it is part of it."""
    return f"{path}?repo={repo}" if repo is not None else path


def body_hash(method: str, path: str, body: Mapping[str, Any]) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _optional_strings(body: Mapping[str, Any], names: Sequence[str], errors: dict[str, str]) -> None:
    for name in names:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            errors[name] = f"must be a string, not {type(value).__name__}"


def _raise_if(errors: dict[str, str], what: str) -> None:
    if errors:
        details = "; ".join(f"{k}: {v}" for k, v in errors.items())
        raise ValidationFailed(f"invalid {what}: {details}", errors)


def _check_storable(body: Mapping[str, Any]) -> None:
    """Refuse a body the journal could not hold as strict UTF-8 JSON, or one over the size bound.

    REST bounds the raw request already; MCP arguments and parsed numbers (3-byte `1e9` is 12 bytes
    once journaled) are bounded here, so every adapter keeps the same limit.
    """
    _raise_if(value_problems(body), "request")
    size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is {size} bytes as JSON; the limit is {MAX_BODY_BYTES} (64 KiB)")


def _task_status(value: Any, field: str, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str):
        errors[field] = f"must be a string, not {type(value).__name__}"
        return None
    status = canonical_task_status(value)
    if status is None:
        errors[field] = f"unknown status {value!r}; use one of {', '.join(TASK_STATUSES)} (or a legacy alias)"
    return status


class Writes:
    """Validates writes against the read model, journals them, and applies them to the overlay."""

    def __init__(
        self,
        *,
        read: ReadFn,
        append: AppendFn,
        apply: ApplyFn,
        pending_relay: bool,
        find_key: FindKeyFn | None = None,
        persist: PersistFn | None = None,
    ) -> None:
        self._read = read
        # Where the answer to a key is looked up: the read model, or a store shared by several hubs.
        self._find_key = find_key or self._find_key_in_read_model
        self._claims_keys = find_key is not None  # -- fleet database -- the store claims keys itself (KeyTaken)
        self._append = append
        self._apply = apply
        self._persist = persist or self._append_then_apply
        self._pending_relay = pending_relay
        # A hub that relays derives `<key>#<i>` upstream keys, so its clients may not use `#` (service/idempotency.py).
        self._reserve_key_separator = pending_relay
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._key_users: dict[str, int] = {}

    # -- the shared commit path -------------------------------------------------------------

    async def _commit(
        self,
        ctx: WriteContext,
        method: str,
        path: str,
        body: Mapping[str, Any],
        build: Callable[[], Awaitable[tuple[list[dict[str, Any]], int, dict[str, Any]]]],
    ) -> WriteOutcome:
        """Run `build` (validate + draft envelopes + answer) under the key's lock, then journal and apply."""
        key = checked_key(ctx.idempotency_key, reserve_separator=self._reserve_key_separator)
        _check_storable(body)
        if key is None:  # nothing to replay or compare against: no digest to compute
            return await self._journal(None, "", build)
        digest = body_hash(method, path, redact(dict(body)))
        # One holder per key at a time, so two requests with the same key cannot both miss the index.
        holders = self._key_users.get(key, 0)
        lock = self._key_locks.setdefault(key, asyncio.Lock())
        self._key_users[key] = holders + 1
        try:
            async with lock:
                if self._claims_keys:
                    return await self._commit_claiming(key, digest, build)
                earlier = await self._find_key(key)
                if earlier is not None and not _expired(earlier.created_at):
                    return _replay(key, digest, earlier)
                try:
                    return await self._journal(key, digest, build)
                except KeyTaken as taken:  # a shared store: another hub committed this key meanwhile
                    return _replay(key, digest, taken.record)
        finally:
            # The last user of a key drops its lock, so the table holds only keys in flight.
            self._key_users[key] -= 1
            if not self._key_users[key]:
                del self._key_users[key]
                del self._key_locks[key]

    async def _commit_claiming(
        self,
        key: str,
        digest: str,
        build: Callable[[], Awaitable[tuple[list[dict[str, Any]], int, dict[str, Any]]]],
    ) -> WriteOutcome:
        """-- fleet database -- A store shared by several hubs claims the key in the write's own transaction and
        raises KeyTaken with the first answer, so a new key (the common case) costs no lookup first. A write
        that no longer builds (a 4xx: its transition was made, its message archived) may be a replay whose
        first answer must win, so only then is the key looked up."""
        try:
            return await self._journal(key, digest, build)
        except KeyTaken as taken:
            return _replay(key, digest, taken.record)
        except DevhubError as refused:
            if refused.status >= 500:
                raise  # the store failed: nothing to look up in it
            earlier = await self._find_key(key)
            if earlier is not None and not _expired(earlier.created_at):
                return _replay(key, digest, earlier)
            raise

    async def _find_key_in_read_model(self, key: str) -> IdempotencyRecord | None:
        record: IdempotencyRecord | None = await self._read(lambda r: find_idempotency_record(r, key))
        return record

    async def _journal(
        self,
        key: str | None,
        digest: str,
        build: Callable[[], Awaitable[tuple[list[dict[str, Any]], int, dict[str, Any]]]],
    ) -> WriteOutcome:
        for attempt in range(1, CREATE_ATTEMPTS + 1):
            drafts, status_code, response = await build()
            # A write journaled as several envelopes (a bulk status sync) keys its parts `<key>#<i>`, with a key
            # made up here when the client gave none: the relay can then tell the parts of one request apart
            # and send them upstream together under `<key>` (service/relay_runs.py).
            base = key or new_record_id()
            for index, draft in enumerate(drafts):
                draft["body"] = redact(draft["body"])
                draft["idempotency_key"] = base if len(drafts) == 1 else derived_key(base, index)
            # The answer rides on the last envelope, so a rebuild restores the idempotency record too.
            drafts[-1]["response"] = {"status": status_code, "body": response}
            if key is not None:
                drafts[-1]["request"] = {"key": key, "hash": digest}
            try:
                await self._persist(drafts)
            except IdTaken:
                # -- fleet ids -- another replica committed the id this one picked: build again on a read
                # model that has that write (so the next free id), as a second request would.
                if attempt == CREATE_ATTEMPTS:
                    raise
                continue
            return WriteOutcome(status_code, response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _append_then_apply(self, drafts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        envelopes = await self._append(drafts)
        await self._apply(envelopes)
        return envelopes

    def _draft(
        self,
        kind: str,
        method: str,
        path: str,
        body: Mapping[str, Any],
        ctx: WriteContext,
        *,
        target: Mapping[str, Any] | None = None,
        observed: Mapping[str, Any] | None = None,
        record: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "kind": kind,
            "method": method,
            "path": path,
            "body": dict(body),
            "target": dict(target or {}),
            "observed": dict(observed or {}),
            "record": dict(record or {}),
            "origin": {"agent": ctx.agent, "host": _HOST, "session": ctx.session, "repo": (target or {}).get("repo")},
        }

    # -- tasks ----------------------------------------------------------------------------------

    async def patch_task(
        self, ident: str, repo: str | None, body: Mapping[str, Any], ctx: WriteContext
    ) -> WriteOutcome:
        """PATCH /tasks/{id}: status, human flag, notes — validated, journaled, overlaid."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            row = await self._read(lambda r: queries.resolve_task_row(r, ident, repo))
            change = _validate_task_patch(
                body, current_note=row["intervention_note"], current_reason=row["blocking_reason"]
            )
            if "status" in change:
                check_transition(row["id"], row["status"], change["status"])
            ctx2 = WriteContext(
                ctx.idempotency_key, body.get("agent") or ctx.agent, body.get("session_id") or ctx.session
            )
            draft = self._task_draft(row, change, dict(body), ctx2)
            if carries_tokens(body):  # stored as a token event too, never dropped (service/record_fields.py)
                draft["record"] = {
                    "token_event": task_token_event(
                        row, body, agent=ctx2.agent, session=ctx2.session, event_id=new_record_id(), now=now_iso()
                    )
                }
            task = queries.task_dict(row) | {k: v for k, v in change.items() if k in OVERLAY_TASK_FIELDS}
            if "status" in change:
                task["status_source"] = "local"
                task["ready"] = bool(task["ready"]) and change["status"] == "todo"
            task["pending_relay"] = self._pending_relay
            return [draft], 200, task

        return await self._commit(ctx, "PATCH", _keyed_path(f"/tasks/{ident}", repo), body, build)

    def _task_draft(
        self, row: Any, change: Mapping[str, Any], body: dict[str, Any], ctx: WriteContext
    ) -> dict[str, Any]:
        body.update({k: v for k, v in change.items() if k in OVERLAY_TASK_FIELDS})
        observed = {
            "status": row["status"],
            "needs_human": bool(row["needs_human"]),
            "intervention_note": row["intervention_note"],
            "blocking_reason": row["blocking_reason"],
            "file": _file_values(row),
        }
        target = {
            "kind": "task",
            "repo": row["repo"],
            "id": row["id"],
            "workplan_id": row["workplan_id"],
            "state_hub_task_id": row["state_hub_task_id"],
        }
        return self._draft("task.patch", "PATCH", f"/tasks/{row['id']}", body, ctx, target=target, observed=observed)

    async def bulk_status_sync(self, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /tasks/bulk-status-sync: ordered updates, all accepted or none."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            updates = body.get("updates")
            errors: dict[str, str] = {}
            if not isinstance(updates, list) or not updates:
                _raise_if({"updates": "must be a non-empty list of {task_id, status}"}, "bulk status sync")
            assert isinstance(updates, list)
            author = text_field(body, "author", errors)
            session = text_field(body, "session_id", errors)
            parsed: list[tuple[str, str, str | None]] = []
            for index, item in enumerate(updates):
                if not isinstance(item, dict):
                    errors[f"updates[{index}]"] = "must be an object with task_id and status"
                    continue
                task_id = text_field(item, "task_id", errors, required=True)
                status = _task_status(item.get("status"), f"updates[{index}].status", errors)
                repo = item.get("repo")
                if repo is not None and not isinstance(repo, str):
                    errors[f"updates[{index}].repo"] = f"must be a string, not {type(repo).__name__}"
                    repo = None
                if task_id and status:
                    parsed.append((task_id, status, repo))
            _raise_if(errors, "bulk status sync")
            # The State Hub's order: duplicates (400), then unknown tasks (404), then the transitions.
            given = [task_id for task_id, _, _ in parsed]
            duplicates = sorted({t for t in given if given.count(t) > 1}, key=given.index)
            if duplicates:
                raise DuplicateTaskIds(duplicates)
            rows, missing = [], []
            for task_id, _, repo in parsed:
                try:
                    rows.append(await self._read(partial(queries.resolve_task_row, ident=task_id, repo=repo)))
                except NotFound:
                    missing.append(task_id)
            if missing:
                raise TasksNotFound(missing)
            keys = [row["key"] for row in rows]
            same_task = [t for t, k in zip(given, keys, strict=True) if keys.count(k) > 1]
            if same_task:  # two spellings (file id and UUID) of one task are still one task twice
                raise DuplicateTaskIds(same_task)
            for index, ((_, status, _), row) in enumerate(zip(parsed, rows, strict=True)):
                check_transition(row["id"], row["status"], status)
                problem = wait_reason_problem(status, None, row["blocking_reason"])
                if problem:
                    errors[f"updates[{index}].blocking_reason"] = (
                        f"task {row['id']} has none, and a bulk sync cannot give one: {problem} "
                        "(PATCH /tasks/{id} with status and blocking_reason instead)"
                    )
            _raise_if(errors, "bulk status sync")
            ctx2 = WriteContext(ctx.idempotency_key, author or ctx.agent, session or ctx.session)
            drafts, results, events = [], [], []
            for (_, status, _), row in zip(parsed, rows, strict=True):
                draft = self._task_draft(
                    row, {"status": status}, {"status": status, "agent": ctx2.agent, "session_id": ctx2.session}, ctx2
                )
                draft["body"] = {k: v for k, v in draft["body"].items() if v is not None}
                if row["status"] != status:  # the real hub writes one progress event per change (mirrored, not relayed)
                    event = status_event(
                        row,
                        row["status"],
                        status,
                        author=author,
                        session_id=ctx2.session,
                        event_id=new_record_id(),
                        now=now_iso(),
                    )
                    draft["record"] = {"status_event": event}
                    events.append(event)
                drafts.append(draft)
                results.append({"task_id": row["id"], "status": status, "previous": row["status"]})
            answer = {"updated": results, "events": events, "count": len(results), "pending_relay": self._pending_relay}
            return drafts, 200, answer

        return await self._commit(ctx, "POST", "/tasks/bulk-status-sync", body, build)

    # -- workplans ----------------------------------------------------------------------------------

    async def patch_workplan(
        self, ident: str, repo: str | None, body: Mapping[str, Any], ctx: WriteContext
    ) -> WriteOutcome:
        """PATCH /workplans/{id}: the workplan's status."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            # The body rides to the overlay and upstream whole, so its annotations must be text too.
            _optional_strings(body, ("note", "agent", "session_id"), errors)
            raw = body.get("status")
            status = None
            if raw is None:
                errors["status"] = "required"
            elif not isinstance(raw, str):
                errors["status"] = f"must be a string, not {type(raw).__name__}"
            else:
                status = canonical_workplan_status(raw)
                if status is None:
                    errors["status"] = f"unknown workplan status {raw!r}; use one of {', '.join(WORKPLAN_STATUSES)}"
            _raise_if(errors, "workplan update")
            row = await self._read(lambda r: queries.resolve_workplan_row(r, ident, repo))
            target = {
                "kind": "workplan",
                "repo": row["repo"],
                "id": row["id"],
                "state_hub_workstream_id": row["state_hub_workstream_id"],
            }
            observed = {"status": row["status"], "file": {"status": row["file_status"]}}
            draft = self._draft(
                "workplan.patch",
                "PATCH",
                f"/workplans/{row['id']}",
                dict(body) | {"status": status},
                ctx,
                target=target,
                observed=observed,
            )
            answer = queries.workplan_dict(row, await self._read(queries.topic_fleet_ids)) | {
                "status": status,
                "status_source": "local",
                "pending_relay": self._pending_relay,
            }
            return [draft], 200, answer

        return await self._commit(ctx, "PATCH", _keyed_path(f"/workplans/{ident}", repo), body, build)

    # -- progress and messages ------------------------------------------------------------------

    async def add_progress(self, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /progress/: a progress event (summary required; workstream_id is workplan_id's legacy name)."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            summary = text_field(body, "summary", errors, required=True)
            event_type = text_field(body, "event_type", errors) or "note"
            author = text_field(body, "author", errors)
            ids = {name: _expect_id(body, name, errors) for name in PROGRESS_ID_FIELDS}
            if ids["workplan_id"] and ids["workstream_id"] and ids["workplan_id"] != ids["workstream_id"]:
                errors["workstream_id"] = "names another workplan than workplan_id (it is its legacy name)"
            topic_id, task_id = ids["topic_id"], ids["task_id"]
            workplan_id = ids["workplan_id"] or ids["workstream_id"]
            session_id = text_field(body, "session_id", errors)
            detail = body.get("detail")
            if detail is not None and not isinstance(detail, dict):
                errors["detail"] = f"must be an object, not {type(detail).__name__}"
            _raise_if(errors, "progress event")
            target: dict[str, Any] = {"kind": "progress"}
            if task_id:
                task = await self._read(partial(queries.resolve_task_row, ident=task_id))
                task_id, target["repo"] = task["id"], task["repo"]
                target["state_hub_task_id"] = task["state_hub_task_id"]
                workplan_id = workplan_id or task["workplan_id"]
            if workplan_id:
                workplan = await self._read(
                    partial(queries.resolve_workplan_row, ident=workplan_id, repo=target.get("repo"))
                )
                workplan_id, target["repo"] = workplan["id"], workplan["repo"]
                target["state_hub_workstream_id"] = workplan["state_hub_workstream_id"]
            record = {"id": new_record_id(), "created_at": now_iso()}
            clean = {k: v for k, v in body.items() if k != "workstream_id"}
            clean.update(
                {
                    "summary": summary,
                    "event_type": event_type,
                    "author": author or ctx.agent,
                    "topic_id": topic_id,
                    "workplan_id": workplan_id,
                    "task_id": task_id,
                    "detail": detail or {},
                    "session_id": session_id or ctx.session,
                }
            )
            clean = {k: v for k, v in clean.items() if v is not None}
            draft = self._draft("progress", "POST", "/progress/", clean, ctx, target=target, record=record)
            event = {
                "id": record["id"],
                "event_type": event_type,
                "summary": summary,
                "author": clean.get("author"),
                "topic_id": topic_id,
                "workplan_id": workplan_id,
                "workstream_id": target.get("state_hub_workstream_id") or workplan_id,  # as GET /progress answers
                "task_id": task_id,
                "session_id": clean.get("session_id"),
                "detail": redact(detail or {}),
                "created_at": record["created_at"],
                "pending_relay": self._pending_relay,
            }
            return [draft], 201, event

        return await self._commit(ctx, "POST", "/progress/", body, build)

    # -- messages (the State Hub's agent inbox: send, read, archive, reply) -------------------------

    async def _thread_root(self, thread_id: str) -> dict[str, Any]:
        root = await self._message_here_or_fleet(thread_id)
        if root is None:  # the State Hub's words (api/routers/messages.py)
            raise NotFound(f"Thread root {thread_id} not found")
        return root

    def _message_draft(self, fields: Mapping[str, Any], ctx: WriteContext) -> tuple[dict[str, Any], dict[str, Any]]:
        """The journal draft of a new message and the message it answers with."""
        record = {"id": new_record_id(), "created_at": now_iso()}
        body = {k: v for k, v in fields.items() if v is not None}
        draft = self._draft("message", "POST", "/messages/", body, ctx, target={"kind": "message"}, record=record)
        message = {
            "id": record["id"],
            **{name: fields.get(name) for name in MESSAGE_FIELDS},
            "created_at": record["created_at"],
            "read_at": None,
            "read": False,
            "archived_at": None,
            "archived": False,
            "pending_relay": self._pending_relay,
        }
        return draft, message

    async def send_message(self, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /messages/: a message from one agent to another; `subject` is required, as upstream."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            fields = {
                "from_agent": text_field(body, "from_agent", errors, required=True),
                "to_agent": text_field(body, "to_agent", errors, required=True),
                "subject": _expect_subject(body, errors),
                "body": text_field(body, "body", errors, required=True),
                "thread_id": _expect_id(body, "thread_id", errors),
            }
            _raise_if(errors, "message")
            if fields["thread_id"]:
                await self._thread_root(fields["thread_id"])
            draft, message = self._message_draft(dict(body) | fields, ctx)
            return [draft], 201, message

        return await self._commit(ctx, "POST", "/messages/", body, build)

    # -- fleet snapshot --: a message only the fleet holds (its snapshot copy) may be read, archived, answered.
    fleet_message: Callable[[str], Awaitable[Mapping[str, Any] | None]] | None = None

    async def _message_here_or_fleet(self, message_id: str) -> dict[str, Any] | None:
        message = await self._read(lambda r: get_message(r, message_id))
        if message is None and self.fleet_message is not None:
            fleet = await self.fleet_message(message_id)
            message = None if fleet is None else {k: v for k, v in fleet.items() if k not in ("source", "as_of")}
        return message

    # -- fleet decision marks --: a decision only the fleet holds (its snapshot copy) may be resolved, patched.
    fleet_decision: Callable[[str], Awaitable[Mapping[str, Any] | None]] | None = None

    async def _existing_message(self, message_id: str) -> dict[str, Any]:
        message = await self._message_here_or_fleet(message_id)
        if message is None:
            raise NotFound(f"no message with id {message_id!r}")
        return message

    def _read_draft(self, message: Mapping[str, Any], body: Mapping[str, Any], ctx: WriteContext) -> dict[str, Any]:
        return self._draft(
            "message.read",
            "PATCH",
            f"/messages/{message['id']}/read",
            dict(body),
            ctx,
            target={"kind": "message", "id": message["id"]},
            record={"read_at": message["read_at"] or now_iso()},
        )

    async def mark_message_read(self, message_id: str, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """PATCH /messages/{id}/read."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            message = await self._existing_message(message_id)
            draft = self._read_draft(message, body, ctx)
            read_at = draft["record"]["read_at"]
            return [draft], 200, message | {"read_at": read_at, "read": True, "pending_relay": self._pending_relay}

        return await self._commit(ctx, "PATCH", f"/messages/{message_id}/read", body, build)

    async def archive_message(self, message_id: str, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """PATCH /messages/{id}/archive: out of the inbox (GET /messages/ leaves it out unless include_archived)."""

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            message = await self._existing_message(message_id)
            archived_at = message["archived_at"] or now_iso()
            draft = self._draft(
                "message.archive",
                "PATCH",
                f"/messages/{message_id}/archive",
                dict(body),
                ctx,
                target={"kind": "message", "id": message_id},
                record={"archived_at": archived_at},
            )
            answer = message | {"archived_at": archived_at, "archived": True, "pending_relay": self._pending_relay}
            return [draft], 200, answer

        return await self._commit(ctx, "PATCH", f"/messages/{message_id}/archive", body, build)

    async def reply_to_message(self, message_id: str, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /messages/{id}/reply: answer in the thread, to the sender; marks the original read.

        Journaled as the two writes the State Hub's code is seen to take (POST /messages/ with
        thread_id, PATCH /messages/{id}/read), so the relay needs no route the pages do not show.
        """

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            from_agent = text_field(body, "from_agent", errors, required=True)
            text = text_field(body, "body", errors, required=True)
            subject = _expect_subject(body, errors, required=False)
            _raise_if(errors, "reply")
            original = await self._existing_message(message_id)
            fields = {
                "from_agent": from_agent,
                "to_agent": original["from_agent"],
                "subject": subject or _reply_subject(original["subject"]),
                "body": text,
                "thread_id": original["thread_id"] or original["id"],
            }
            draft, message = self._message_draft(fields, ctx)
            drafts = [draft]
            if original["read_at"] is None:
                drafts.append(self._read_draft(original, {}, ctx))
            return drafts, 201, message

        return await self._commit(ctx, "POST", f"/messages/{message_id}/reply", body, build)


PROGRESS_ID_FIELDS = ("topic_id", "workplan_id", "workstream_id", "task_id")
MESSAGE_FIELDS = ("from_agent", "to_agent", "subject", "body", "thread_id")
SUBJECT_MAX = 500  # send_message's docstring upstream: "Short subject line (max 500 chars)"


def _expect_id(body: Mapping[str, Any], name: str, errors: dict[str, str]) -> str | None:
    """An optional id: absent or null is fine, "" is not (upstream it fails UUID parsing, 422)."""
    value = text_field(body, name, errors)
    if value is not None and not value.strip():
        errors[name] = "must not be empty: leave the field out when it does not apply"
        return None
    return value


def _expect_subject(body: Mapping[str, Any], errors: dict[str, str], *, required: bool = True) -> str | None:
    subject = text_field(body, "subject", errors)
    if subject is None and required and "subject" not in errors:
        errors["subject"] = "required: a short subject line, as the State Hub's send_message takes"
    if subject is not None and len(subject) > SUBJECT_MAX:
        errors["subject"] = f"is {len(subject)} characters; the State Hub takes at most {SUBJECT_MAX}"
    return subject


def _reply_subject(subject: str | None) -> str:
    """`Re: <subject>`, without stacking `Re:` on a thread that already has one (inferred: not seen upstream)."""
    subject = subject or ""
    return subject if subject.lower().startswith("re:") else f"Re: {subject}".rstrip()


def carries_tokens(body: Mapping[str, Any]) -> bool:
    return any(body.get(name) is not None for name in (*TASK_TOKEN_COUNTS, "model"))


def _replay(key: str, digest: str, earlier: IdempotencyRecord) -> WriteOutcome:
    """The first answer given with `key`, or 409 when this request's body differs from the first one's."""
    if earlier.body_hash != digest:
        raise Conflict(
            f"Idempotency-Key {key!r} was already used with a different body; use a new key for a new write",
        )
    return WriteOutcome(earlier.status_code, json.loads(earlier.response), replayed=True)


def _file_values(row: Any) -> dict[str, Any]:
    """What the file itself says for each overlay field (the overlay compares against this)."""
    return {
        "status": row["file_status"],
        "needs_human": bool(row["file_needs_human"]),
        "intervention_note": row["file_intervention_note"],
        "blocking_reason": row["file_blocking_reason"],
    }


def _validate_task_patch(
    body: Mapping[str, Any], *, current_note: str | None, current_reason: str | None = None
) -> dict[str, Any]:
    """The overlay change a PATCH /tasks body asks for; ValidationFailed names every bad field."""
    errors: dict[str, str] = {}
    change: dict[str, Any] = {}
    if "status" in body:
        status = _task_status(body["status"], "status", errors)
        if status:
            change["status"] = status
    if "needs_human" in body:
        flag = body["needs_human"]
        if not isinstance(flag, bool):
            errors["needs_human"] = f"must be true or false, not {type(flag).__name__}"
        else:
            change["needs_human"] = flag
    _optional_strings(body, ("intervention_note", "blocking_reason", "note", "agent", "session_id"), errors)
    tokens = task_token_problems(body, errors)
    for name in ("intervention_note", "blocking_reason"):
        if name in body and name not in errors:
            change[name] = body[name]
    if change.get("needs_human") is True and not (change.get("intervention_note") or "").strip():
        errors["intervention_note"] = "required when needs_human is true: say what the human must do"
    wait_problem = wait_reason_problem(change.get("status", ""), body.get("blocking_reason"), current_reason)
    if wait_problem and "blocking_reason" not in errors:
        errors["blocking_reason"] = wait_problem
    if not errors and not change and not body.get("note") and not tokens:
        errors["body"] = (
            "nothing to change: give status, needs_human, intervention_note, blocking_reason, note or tokens_in/"
            "tokens_out/model"
        )
    _raise_if(errors, "task update")
    return change


def _expired(created_at: str | None) -> bool:
    if not created_at:
        return False
    try:
        then = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    return datetime.now(UTC) - then > timedelta(seconds=IDEMPOTENCY_RETENTION_SECONDS)
