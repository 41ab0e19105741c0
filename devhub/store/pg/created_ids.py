"""Ids that must be unique across the fleet, claimed in PostgreSQL in the transaction of the write that creates them.

Each replica validates a create against its own read model and picks the next free id there
(`<WP-ID>-Tnn`, `<PREFIX>-WP-nnnn`), so two replicas creating at once would pick the same one.
The claim is a row of `devhub_created_ids` (primary key) inserted with the write: a second
claim of the same id waits for the first transaction and, if it committed, fails that write
alone with `IdTaken`; `Writes` then rebuilds the write once the read model has the winner's
(and so picks the next id). Messages and decisions get random UUIDs; they are claimed too, so
"two replicas cannot accept the same id" holds for every created object, not only the likely cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A claim's name: the scope the id must be unique in. Task ids are numbered per workplan of a repo;
# workplan ids per prefix, across repos (store/created.py next_workplan_id), so they are fleet-wide.
CLAIM_SQL = """
    CASE kind
        WHEN 'task.create' THEN 'task:' || (envelope->'record'->>'repo') || ':' || (envelope->'record'->>'id')
        WHEN 'workplan.create' THEN 'workplan:' || (envelope->'record'->>'id')
        WHEN 'message' THEN 'message:' || (envelope->'record'->>'id')
        WHEN 'decision' THEN 'decision:' || (envelope->'record'->>'id')
    END
"""


def created_id_claim(draft: Mapping[str, Any]) -> str | None:
    """The claim a write's envelope makes (see CLAIM_SQL, the same rule for rows already written), or None."""
    kind, record = draft.get("kind"), draft.get("record") or {}
    ident = record.get("id")
    if not ident:
        return None
    if kind == "task.create":
        return f"task:{record.get('repo')}:{ident}"
    if kind == "workplan.create":
        return f"workplan:{ident}"
    if kind in ("message", "decision"):
        return f"{kind}:{ident}"
    return None


def claimed_object(claim: str) -> str:
    """`task CUST-WP-0054-T06` for a claim, for messages."""
    kind, _, rest = claim.partition(":")
    return f"{kind} {rest.rpartition(':')[2] if kind == 'task' else rest}"
