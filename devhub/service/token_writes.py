"""Token-event writes (POST /token-events/ and /token-events/upsert): validate -> journal -> overlay.

Like decisions, token events live only in the journal: the write computes the row it leaves in
the read model (tokens_total is derived on read) and the relay sends the body upstream with the
task and workplan as fleet UUIDs (service/relay_link.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from devhub.errors import Conflict
from devhub.redact import redact
from devhub.service.record_fields import choice_field, is_uuid, raise_if_invalid, refuse_unknown
from devhub.service.record_fields import count_field as _count
from devhub.service.record_fields import text_field as _text
from devhub.service.record_fields import token_row as _token_row
from devhub.service.records_decisions import MEASUREMENT_KINDS, SOURCE_PROVIDERS
from devhub.service.writes import WriteContext, WriteOutcome, Writes, new_record_id, now_iso
from devhub.store import queries
from devhub.store.token_events import find_by_source

TOKEN_COUNTS = ("tokens_in", "tokens_out", "cached_input_tokens", "reasoning_output_tokens", "raw_total_tokens")
TOKEN_TEXT = (
    "model",
    "agent",
    "session_id",
    "note",
    "ref_type",
    "ref_id",
    "source_id",
    "source_path",
    "source_created_at",
    "parser_version",
    "ingested_at",
)
TOKEN_EVENT_FIELDS = frozenset(
    {
        *TOKEN_COUNTS,
        *TOKEN_TEXT,
        "task_id",
        "workstream_id",
        "workplan_id",
        "repo_id",
        "measurement_kind",
        "source_provider",
        "confidence",
        "raw_metadata",
    }
)


async def record_token_event(
    writes: Writes, body: Mapping[str, Any], ctx: WriteContext, *, upsert: bool = False
) -> WriteOutcome:
    """POST /token-events/ (201) or /token-events/upsert (201 new, 200 updated): tokens_total computed,
    the workplan filled in from the task."""
    path = "/token-events/upsert" if upsert else "/token-events/"

    async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        errors: dict[str, str] = {}
        refuse_unknown(body, TOKEN_EVENT_FIELDS, errors)
        required = ("tokens_in", "tokens_out")
        counts = {name: _count(body, name, errors, required=name in required) for name in TOKEN_COUNTS}
        texts = {name: _text(body, name, errors) for name in TOKEN_TEXT}
        kind = choice_field(body, "measurement_kind", tuple(MEASUREMENT_KINDS), errors)
        provider = choice_field(body, "source_provider", SOURCE_PROVIDERS, errors)
        confidence = body.get("confidence")
        if confidence is not None and (
            isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 <= confidence <= 1
        ):
            errors["confidence"] = "must be a number from 0 to 1"
        if body.get("raw_metadata") is not None and not isinstance(body.get("raw_metadata"), dict):
            errors["raw_metadata"] = "must be an object"
        repo_id = _text(body, "repo_id", errors)
        if repo_id and not is_uuid(repo_id):
            errors["repo_id"] = "must be the fleet repo's UUID"
        task_ref = _text(body, "task_id", errors)
        workstream = _text(body, "workstream_id", errors)
        workplan_ref = _text(body, "workplan_id", errors) or workstream
        named_workplan = bool(workplan_ref)
        if upsert:
            for name, value in (("measurement_kind", kind), ("source_provider", provider)):
                if value is None and name not in errors:
                    errors[name] = "required by the upsert (with source_id)"
            if not texts["source_id"] and "source_id" not in errors:
                errors["source_id"] = "required by the upsert (with measurement_kind and source_provider)"
        raise_if_invalid(errors, "token event")
        target: dict[str, Any] = {"kind": "token_event"}
        now = now_iso()
        row = _token_row(new_record_id(), now)
        if task_ref:
            task = await writes._read(partial(queries.resolve_task_row, ident=task_ref))
            row.update(task_id=task["id"], repo=task["repo"], state_hub_task_id=task["state_hub_task_id"])
            workplan_ref = workplan_ref or task["workplan_id"]
        if workplan_ref:
            workplan = await writes._read(partial(queries.resolve_workplan_row, ident=workplan_ref, repo=row["repo"]))
            row.update(
                workplan_id=workplan["id"],
                repo=workplan["repo"],
                state_hub_workstream_id=workplan["state_hub_workstream_id"],
            )
        row.update(counts, **texts)
        row.update(
            repo_id=repo_id.lower() if repo_id else None,
            measurement_kind=kind,
            source_provider=provider,
            confidence=confidence if confidence is not None else MEASUREMENT_KINDS.get(kind or ""),
            raw_metadata=body.get("raw_metadata"),
            agent=texts["agent"] or ctx.agent,
            session_id=texts["session_id"] or ctx.session,
            origin="upsert" if upsert else "post",
        )
        status_code = 201
        if kind and provider and texts["source_id"]:
            earlier = await writes._read(
                partial(find_by_source, measurement_kind=kind, source_provider=provider, source_id=texts["source_id"])
            )
            if earlier is not None and not upsert:
                raise Conflict(
                    f"a token event for ({kind}, {provider}, {texts['source_id']}) exists ({earlier['id']}); "
                    "POST /token-events/upsert updates it"
                )
            if earlier is not None:
                row.update(id=earlier["id"], created_at=earlier["created_at"])
                status_code = 200
        row = redact(row)
        target.update(
            repo=row["repo"],
            task_id=row["task_id"],
            workplan_id=row["workplan_id"],
            state_hub_task_id=row["state_hub_task_id"],
            state_hub_workstream_id=row["state_hub_workstream_id"],
        )
        upstream = {k: v for k, v in body.items() if k != "workplan_id"}
        if row["task_id"]:
            upstream["task_id"] = row["task_id"]
        if row["workplan_id"] and named_workplan:  # else the fleet fills it in from the task, as here
            upstream["workstream_id"] = row["workplan_id"]
        draft = writes._draft(
            "token_event.upsert" if upsert else "token_event",
            "POST",
            path,
            upstream,
            ctx,
            target=target,
            record={"token_event": row},
        )
        return [draft], status_code, token_event_view(row) | {"pending_relay": writes._pending_relay}

    return await writes._commit(ctx, "POST", path, body, build)


def token_event_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """The REST shape of a token event row a write computed (the same keys GET /token-events/ answers)."""
    hidden = ("repo", "state_hub_task_id", "state_hub_workstream_id")
    data = {k: v for k, v in row.items() if k not in hidden}
    data["workstream_id"] = row["state_hub_workstream_id"] or row["workplan_id"]
    data["tokens_total"] = (row["tokens_in"] or 0) + (row["tokens_out"] or 0)
    return data
