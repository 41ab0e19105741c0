"""Token events in the read model: applied from journal envelopes, listed and looked up.

Three envelopes carry them: `token_event` (POST /token-events/), `token_event.upsert` (one row per
measurement_kind + source_provider + source_id, updated as a live session grows) and `task.patch`
when the update carried tokens_in / tokens_out / model (the fleet hub turns those into a token
event too). The write computes the row; applying it is a plain insert or update.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from devhub.store.reader import Reader

TOKEN_EVENT_KINDS = frozenset({"token_event", "token_event.upsert", "task.patch"})
TOKEN_EVENT_LIMIT_DEFAULT = 100
TOKEN_EVENT_LIMIT_MAX = 10_000

COLUMNS = (
    "id",
    "seq",
    "task_id",
    "workplan_id",
    "repo",
    "state_hub_task_id",
    "state_hub_workstream_id",
    "repo_id",
    "tokens_in",
    "tokens_out",
    "workplan_tokens_in",
    "workplan_tokens_out",
    "model",
    "agent",
    "session_id",
    "note",
    "ref_type",
    "ref_id",
    "measurement_kind",
    "source_provider",
    "source_id",
    "source_path",
    "source_created_at",
    "parser_version",
    "ingested_at",
    "confidence",
    "cached_input_tokens",
    "reasoning_output_tokens",
    "raw_total_tokens",
    "raw_metadata",
    "origin",
    "created_at",
    "updated_at",
)
# The filters GET /token-events/ takes, each an equality on its column.
FILTER_COLUMNS = (
    "task_id",
    "workplan_id",
    "repo_id",
    "model",
    "agent",
    "session_id",
    "note",
    "ref_type",
    "ref_id",
    "measurement_kind",
    "source_provider",
    "source_id",
)


def apply_token_event(conn: sqlite3.Connection, envelope: Mapping[str, Any]) -> None:
    """Insert or update the token event an envelope carries (none: nothing to do)."""
    if envelope.get("kind") not in TOKEN_EVENT_KINDS:
        return
    row = (envelope.get("record") or {}).get("token_event")
    if not isinstance(row, dict):
        return
    values = dict(row)
    values["seq"] = envelope["seq"]
    values["raw_metadata"] = json.dumps(values["raw_metadata"]) if values.get("raw_metadata") is not None else None
    conn.execute(
        f"INSERT OR REPLACE INTO token_events({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
        [values.get(c) for c in COLUMNS],
    )


def token_event_dict(row: sqlite3.Row) -> dict[str, Any]:
    """The REST shape of one token event (TokenEventRead's fields, with tokens_total computed)."""
    data = {c: row[c] for c in COLUMNS if c not in ("seq", "repo", "state_hub_task_id", "state_hub_workstream_id")}
    data["workstream_id"] = row["state_hub_workstream_id"] or row["workplan_id"]
    data["tokens_total"] = (row["tokens_in"] or 0) + (row["tokens_out"] or 0)
    data["raw_metadata"] = json.loads(row["raw_metadata"]) if row["raw_metadata"] is not None else None
    return data


async def get_token_event(reader: Reader, event_id: str) -> dict[str, Any] | None:
    row = await reader.one("SELECT * FROM token_events WHERE id = ?", (event_id.lower(),))
    return token_event_dict(row) if row is not None else None


async def find_by_source(
    reader: Reader, measurement_kind: str, source_provider: str, source_id: str
) -> dict[str, Any] | None:
    """The token event holding one (measurement_kind, source_provider, source_id), if any."""
    row = await reader.one(
        "SELECT * FROM token_events WHERE measurement_kind = ? AND source_provider = ? AND source_id = ?",
        (measurement_kind, source_provider, source_id),
    )
    return token_event_dict(row) if row is not None else None


async def list_token_events(
    reader: Reader, *, filters: Mapping[str, Any], limit: int = TOKEN_EVENT_LIMIT_DEFAULT
) -> list[dict[str, Any]]:
    """Token events matching every given filter, newest first."""
    where: list[str] = []
    params: list[Any] = []
    # A task or workplan is named by its file id or its State Hub UUID.
    also = {"task_id": "state_hub_task_id", "workplan_id": "state_hub_workstream_id"}
    for name in FILTER_COLUMNS:
        value = filters.get(name)
        if value is None:
            continue
        if name in also:
            where.append(f"({name} = ? OR {also[name]} = ?)")
            params.extend([value, str(value).lower()])
        else:
            where.append(f"{name} = ?")
            params.append(value)
    sql = "SELECT * FROM token_events"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY created_at DESC, seq DESC LIMIT ?"
    params.append(limit)
    return [token_event_dict(row) for row in await reader.all(sql, params)]


# The scopes of GET /token-events/summary/ (the fleet's, plus `session`), each a WHERE on one identity.
SUMMARY_SCOPES = ("task", "workstream", "repo", "commit", "release", "session")


async def token_summary(reader: Reader, scope: str, ident: str) -> dict[str, Any]:
    """Totals of one scope's token events, overall and by model; superseded rows are kept but not counted."""
    lowered = ident.lower()
    where, params = {
        "task": ("(task_id = ? OR state_hub_task_id = ?)", [ident, lowered]),
        "workstream": ("(workplan_id = ? OR state_hub_workstream_id = ?)", [ident, lowered]),
        "repo": ("(repo_id = ? OR repo = ?)", [lowered, ident]),
        "commit": ("(ref_type = 'commit' AND ref_id = ?)", [ident]),
        "release": ("(ref_type = 'release' AND ref_id = ?)", [ident]),
        "session": ("session_id = ?", [ident]),
    }[scope]
    rows = await reader.all(
        "SELECT model, COUNT(*) AS events, COALESCE(SUM(tokens_in), 0) AS tokens_in,"
        " COALESCE(SUM(tokens_out), 0) AS tokens_out FROM token_events"
        f" WHERE {where} AND COALESCE(measurement_kind, '') != 'superseded' GROUP BY model ORDER BY model",
        params,
    )
    by_model = [
        {
            "model": row["model"],
            "events": row["events"],
            "tokens_in": row["tokens_in"],
            "tokens_out": row["tokens_out"],
            "tokens_total": row["tokens_in"] + row["tokens_out"],
        }
        for row in rows
    ]
    return {
        "scope": scope,
        "id": ident,
        "events": sum(m["events"] for m in by_model),
        "tokens_in": sum(m["tokens_in"] for m in by_model),
        "tokens_out": sum(m["tokens_out"] for m in by_model),
        "tokens_total": sum(m["tokens_total"] for m in by_model),
        "by_model": by_model,
    }
