"""A fleet decision (known from the fleet snapshot) in the local shape, with the change made here on top.

Shared by the merged reads (service/snapshot_reads.py) and the decision writes' lookup (the hub's
`_fleet_decision`, service/decision_writes.py): the marks are store/decision_marks.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from devhub.service.records_decisions import DecisionRecord

if TYPE_CHECKING:
    from devhub.service.fleet_snapshot import FleetSnapshot
    from devhub.store.decision_marks import DecisionMark

DECISION_KEYS = tuple(DecisionRecord.__annotations__)  # a fleet decision answers with every local key


def fleet_decision(
    snapshot: FleetSnapshot, decision_id: str, marks: Mapping[str, DecisionMark]
) -> dict[str, Any] | None:
    """One decision only the fleet holds (None: the snapshot and the marks know none by that lowercased id)."""
    if decision_id in snapshot.hidden.get("decision", frozenset()):
        return None  # written here: its local row answers
    for doc in snapshot.collection("decisions"):
        if str(doc.get("id") or "").lower() == decision_id:
            topics = {t.get("id"): t for t in snapshot.collection("topics")}
            return fleet_decision_record(doc, topics, marks.get(str(doc.get("id"))))
    mark = marks.get(decision_id)  # changed here, then gone from the pending-only copy (resolved upstream)
    if mark is None or mark["decision"] is None:
        return None
    return {key: mark["decision"].get(key) for key in DECISION_KEYS} | {
        "source": "fleet",
        "as_of": mark["decision"].get("as_of"),
    }


def fleet_decision_record(
    doc: Mapping[str, Any], topics: Mapping[Any, Mapping[str, Any]], mark: DecisionMark | None
) -> dict[str, Any]:
    """A snapshot decision in the local DecisionRecord shape, tagged `source: "fleet"`, the local change on top."""
    the_topic = topics.get(doc.get("topic_id")) or {}
    record = {key: doc.get(key) for key in DECISION_KEYS}
    record |= {
        "status": doc.get("status") or "open",
        "decision_type": "pending",
        "topic_slug": the_topic.get("slug"),
    }
    record |= {key: value for key, value in (mark["changes"] if mark else {}).items() if key in record}
    return record | {"source": "fleet", "as_of": doc.get("as_of")}
