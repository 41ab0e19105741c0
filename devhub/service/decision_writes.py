"""Decision writes: validate -> journal -> overlay, through the one `Writes` commit path.

Decisions (like token events, service/token_writes.py) live only in the journal, so each write
computes the whole row it leaves in the read model and journals it in the envelope's `record`;
a rebuild applies the same rows. The envelope's `body` is what the relay sends upstream (ids
mapped to the fleet's UUIDs at send time, service/relay_link.py).

Choices the fleet's public pages leave open (docs/decisions.md, "Fleet decisions and token events"):
`decision_type` defaults to `made` (a recorded choice); a `made` decision is `resolved` at once, a
`pending` one `open` (`escalated` when its category is financial or legal); resolving a resolved or
superseded decision is 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import partial
from typing import Any

from devhub.errors import Conflict, NotFound, ValidationFailed
from devhub.redact import redact
from devhub.service.record_fields import choice_field, is_uuid, raise_if_invalid, refuse_unknown
from devhub.service.record_fields import text_field as _text
from devhub.service.records_decisions import (
    DECISION_STATUSES,
    DECISION_TYPES,
    ESCALATED_CATEGORIES,
)
from devhub.service.writes import WriteContext, WriteOutcome, Writes, new_record_id, now_iso
from devhub.store import queries
from devhub.store.decisions import COLUMNS, decision_row, decision_view, topic_exists

_TEXT = ("description", "context", "rationale", "decided_by", "category", "author", "agent", "session_id")
DECISION_FIELDS = frozenset(
    {"title", "decision_type", "status", "topic_id", "workstream_id", "workplan_id", "deadline", "options", *_TEXT}
)
RESOLVE_FIELDS = frozenset({"rationale", "decided_by", "write_log", "author", "agent", "session_id"})


def _when(body: Mapping[str, Any], name: str, errors: dict[str, str]) -> str | None:
    """An ISO-8601 date or timestamp, kept as given."""
    value = _text(body, name, errors)
    if value is None:
        return None
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            date.fromisoformat(value)
        except ValueError:
            errors[name] = f"not an ISO-8601 date or timestamp: {value!r}"
    return value


def _decision_id(ident: str) -> str:
    """A decision id is a UUID (the fleet types it so and answers 422 otherwise)."""
    if not is_uuid(ident):
        raise ValidationFailed(f"decision_id {ident!r} is not a UUID", {"decision_id": "must be a UUID"})
    return ident.lower()


async def _existing_decision(writes: Writes, ident: str) -> dict[str, Any]:
    decision_id = _decision_id(ident)
    row = await writes._read(lambda r: decision_row(r, decision_id))
    if row is None and writes.fleet_decision is not None:
        row = _fleet_row(await writes.fleet_decision(decision_id))
    if row is None:
        raise NotFound(f"Decision {ident} not found")
    return row


def _fleet_row(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A fleet snapshot decision (local change on top) as the stored columns a write builds on.

    `fleet` marks it: its id is already the fleet's UUID, so the relay sends the write straight
    upstream, and the overlay keeps the change in fleet_decision_marks (store/decision_marks.py).
    """
    if record is None:
        return None
    row = {column: record.get(column) for column in COLUMNS if column != "seq"}
    row.update(state_hub_workstream_id=record.get("workstream_id"), workplan_id=None, workplan_repo=None)
    return row | {"fleet": True, "as_of": record.get("as_of")}


def _answer(current: Mapping[str, Any], changes: Mapping[str, Any], writes: Writes) -> dict[str, Any]:
    """The decision with the change on top; a fleet one keeps its `source` tag like the merged reads."""
    source = {"source": "fleet"} if current.get("fleet") else {}
    return decision_view({**current, **changes}) | source | {"pending_relay": writes._pending_relay}


def _record(current: Mapping[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The envelope's record; for a fleet decision also its snapshot copy, kept with the local mark."""
    if current.get("fleet"):
        record["fleet_decision"] = decision_view(current) | {"as_of": current.get("as_of")}
    return record


def _target(current: Mapping[str, Any]) -> dict[str, Any]:
    target = {"kind": "decision", "id": current["id"], "repo": current["workplan_repo"]}
    return target | {"fleet": True} if current.get("fleet") else target


def _who(body: Mapping[str, Any], ctx: WriteContext) -> WriteContext:
    agent = body.get("author") or body.get("agent") or ctx.agent
    return WriteContext(ctx.idempotency_key, agent if isinstance(agent, str) else None, ctx.session)


# -- decisions ------------------------------------------------------------------------------------


async def record_decision(writes: Writes, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
    """POST /decisions/: a decision against a topic (slug or fleet UUID) and/or a workplan; 201."""

    async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        errors: dict[str, str] = {}
        refuse_unknown(body, DECISION_FIELDS, errors)
        title = _text(body, "title", errors, required=True)
        decision_type = choice_field(body, "decision_type", DECISION_TYPES, errors) or "made"
        status = choice_field(body, "status", DECISION_STATUSES, errors)
        texts = {name: _text(body, name, errors) for name in _TEXT}
        deadline = _when(body, "deadline", errors)
        topic = _text(body, "topic_id", errors)
        workstream = _text(body, "workstream_id", errors)
        workplan = _text(body, "workplan_id", errors)
        if workstream and workplan and workstream != workplan:
            errors["workplan_id"] = "workstream_id and workplan_id name different workplans; give one"
        workplan = workplan or workstream
        if not topic and not workplan and "topic_id" not in errors:
            errors["topic_id"] = "give topic_id (a topic slug or UUID) or workstream_id / workplan_id"
        raise_if_invalid(errors, "decision")
        target: dict[str, Any] = {"kind": "decision"}
        row: dict[str, Any] = {"topic_id": topic, "topic_slug": None}
        if topic and not is_uuid(topic):
            if not await writes._read(partial(topic_exists, slug=topic)):
                raise NotFound(f"Topic {topic} not found (topics are the workplans' topic_slug)")
            row["topic_slug"] = topic
        elif topic:
            row["topic_id"] = topic.lower()
        if workplan:
            found = await writes._read(partial(queries.resolve_workplan_row, ident=workplan))
            row["workplan_id"], row["workplan_repo"] = found["id"], found["repo"]
            row["state_hub_workstream_id"] = found["state_hub_workstream_id"]
            row["topic_slug"] = row["topic_slug"] or found["topic_slug"]
            target.update(repo=found["repo"], workplan_id=found["id"])
        if status is None:
            escalate = (texts["category"] or "").lower() in ESCALATED_CATEGORIES and decision_type == "pending"
            status = "resolved" if decision_type == "made" else "escalated" if escalate else "open"
        now = now_iso()
        decision_id = new_record_id()
        row.update(
            id=decision_id,
            title=title,
            decision_type=decision_type,
            status=status,
            deadline=deadline,
            options=body.get("options"),
            resolved_at=now if status == "resolved" else None,
            created_at=now,
            updated_at=now,
            **{k: v for k, v in texts.items() if k not in ("agent", "author")},
            author=texts["author"] or texts["agent"] or ctx.agent,
        )
        for column in ("workplan_id", "workplan_repo", "state_hub_workstream_id"):
            row.setdefault(column, None)
        row = redact(row)
        target["id"] = decision_id
        upstream = {k: v for k, v in body.items() if k not in ("author", "agent", "session_id", "workplan_id")}
        upstream.update(decision_type=decision_type)
        if workplan:
            upstream["workstream_id"] = row["workplan_id"]
        draft = writes._draft(
            "decision",
            "POST",
            "/decisions/",
            upstream,
            _who(body, ctx),
            target=target,
            record={"id": decision_id, "decision": row},
        )
        return [draft], 201, decision_view(row) | {"pending_relay": writes._pending_relay}

    return await writes._commit(ctx, "POST", "/decisions/", body, build)


async def patch_decision(writes: Writes, ident: str, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
    """PATCH /decisions/{id}: change a decision's fields (its topic and workplan stay)."""

    async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        errors: dict[str, str] = {}
        for name in sorted(set(body) & {"topic_id", "workstream_id", "workplan_id"}):
            errors[name] = "cannot be changed; record a new decision (and supersede this one) instead"
        refuse_unknown(body, DECISION_FIELDS, errors)
        changes: dict[str, Any] = {}
        for name in ("title", "description", "context", "rationale", "decided_by", "category"):
            if name in body:
                changes[name] = _text(body, name, errors, required=name == "title")
        if "decision_type" in body:
            changes["decision_type"] = choice_field(body, "decision_type", DECISION_TYPES, errors)
        if "status" in body:
            changes["status"] = choice_field(body, "status", DECISION_STATUSES, errors)
        if "deadline" in body:
            changes["deadline"] = _when(body, "deadline", errors)
        if "options" in body:
            changes["options"] = body["options"]
        if not changes and not errors:
            errors["body"] = "nothing to change: give title, status, deadline, rationale or another decision field"
        raise_if_invalid(errors, "decision update")
        current = await _existing_decision(writes, ident)
        now = now_iso()
        changes["updated_at"] = now
        if changes.get("status") == "resolved" and not current["resolved_at"]:
            changes["resolved_at"] = now
        changes = redact(changes)
        upstream = {k: v for k, v in body.items() if k not in ("author", "agent", "session_id")}
        draft = writes._draft(
            "decision.patch",
            "PATCH",
            f"/decisions/{current['id']}",
            upstream,
            _who(body, ctx),
            target=_target(current),
            observed={name: current[name] for name in changes if name in current},
            record=_record(current, {"changes": changes}),
        )
        return [draft], 200, _answer(current, changes, writes)

    return await writes._commit(ctx, "PATCH", f"/decisions/{ident}", body, build)


async def resolve_decision(writes: Writes, ident: str, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
    """POST /decisions/{id}/resolve {rationale, decided_by}: resolved once; again is 409."""

    async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        errors: dict[str, str] = {}
        refuse_unknown(body, RESOLVE_FIELDS, errors)
        rationale = _text(body, "rationale", errors, required=True)
        decided_by = _text(body, "decided_by", errors, required=True)
        if body.get("write_log") is not None and not isinstance(body.get("write_log"), bool):
            errors["write_log"] = "must be true or false"
        raise_if_invalid(errors, "decision resolution")
        current = await _existing_decision(writes, ident)
        if current["status"] in ("resolved", "superseded"):
            raise Conflict(f"Decision {current['id']} is already {current['status']}")
        now = now_iso()
        changes = redact(
            {
                "status": "resolved",
                "decision_type": "made",
                "rationale": rationale,
                "decided_by": decided_by,
                "resolved_at": now,
                "updated_at": now,
            }
        )
        # The fleet writes a progress event when it resolves; the local model shows one too.
        event = {
            "id": new_record_id(),
            "event_type": "decision_resolved",
            "summary": f"Decision resolved: {current['title']}",
            "author": decided_by,
            "workplan_id": current["workplan_id"],
            "session_id": ctx.session,
            "detail": {"decision_id": current["id"], "rationale": changes["rationale"], "decided_by": decided_by},
            "created_at": now,
        }
        upstream = {k: v for k, v in body.items() if k not in ("author", "agent", "session_id")}
        draft = writes._draft(
            "decision.resolve",
            "POST",
            f"/decisions/{current['id']}/resolve",
            upstream,
            _who(body, ctx),
            target=_target(current),
            observed={"status": current["status"]},
            record=_record(current, {"changes": changes, "progress": redact(event)}),
        )
        return [draft], 200, _answer(current, changes, writes)

    return await writes._commit(ctx, "POST", f"/decisions/{ident}/resolve", body, build)
