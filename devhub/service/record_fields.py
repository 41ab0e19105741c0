"""Field checks and token-event rows shared by the decision, token-event and task writes.

PATCH /tasks/{id} (and update_task_status) takes the fleet TaskUpdate's token passthrough fields:
tokens_in, tokens_out, workplan_tokens_in, workplan_tokens_out and model. They are journaled with the
update, relayed upstream exactly as sent (the fleet turns them into its own token event), and
recorded here as a local token event so GET /token-events/ shows them at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from devhub.errors import ValidationFailed
from devhub.redact import redact

TASK_TOKEN_COUNTS = ("tokens_in", "tokens_out", "workplan_tokens_in", "workplan_tokens_out")


def raise_if_invalid(errors: dict[str, str], what: str) -> None:
    if errors:
        raise ValidationFailed(f"invalid {what}: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)


def refuse_unknown(body: Mapping[str, Any], allowed: frozenset[str], errors: dict[str, str]) -> None:
    """No argument is ignored silently: a field devhub does not know is refused by name."""
    for name in sorted(set(body) - allowed):
        errors[name] = "unknown field"


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def text_field(body: Mapping[str, Any], name: str, errors: dict[str, str], *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "required"
        return None
    if not isinstance(value, str):
        errors[name] = f"must be a string, not {type(value).__name__}"
        return None
    if required and not value.strip():
        errors[name] = "must not be empty"
    return value


def count_field(body: Mapping[str, Any], name: str, errors: dict[str, str], *, required: bool = False) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            errors[name] = "required"
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        errors[name] = "must be a non-negative integer"
        return None
    return value


def choice_field(body: Mapping[str, Any], name: str, allowed: tuple[str, ...], errors: dict[str, str]) -> str | None:
    value = text_field(body, name, errors)
    if value is not None and value not in allowed:
        errors[name] = f"unknown value {value!r}; use one of {', '.join(allowed)}"
        return None
    return value


def token_row(event_id: str, now: str) -> dict[str, Any]:
    """An empty token-event row (every column of store/token_events.py but seq) with its id and times."""
    from devhub.store.token_events import COLUMNS

    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.pop("seq")
    row.update(id=event_id, created_at=now, updated_at=now)
    return row


def task_token_problems(body: Mapping[str, Any], errors: dict[str, str]) -> bool:
    """Check a task update's token fields into `errors`; True when it carries any (a token event is recorded)."""
    for name in TASK_TOKEN_COUNTS:
        count_field(body, name, errors)
    text_field(body, "model", errors)
    return any(body.get(name) is not None for name in (*TASK_TOKEN_COUNTS, "model"))


def task_token_event(
    task: Any, body: Mapping[str, Any], *, agent: str | None, session: str | None, event_id: str, now: str
) -> dict[str, Any]:
    """The token event a task update with tokens leaves in the read model."""
    row = token_row(event_id, now)
    row.update(
        task_id=task["id"],
        workplan_id=task["workplan_id"],
        repo=task["repo"],
        state_hub_task_id=task["state_hub_task_id"],
        tokens_in=body.get("tokens_in") or 0,
        tokens_out=body.get("tokens_out") or 0,
        workplan_tokens_in=body.get("workplan_tokens_in"),
        workplan_tokens_out=body.get("workplan_tokens_out"),
        model=body.get("model"),
        agent=agent,
        session_id=session,
        note=body.get("note"),
        origin="task.patch",
    )
    return dict(redact(row))
