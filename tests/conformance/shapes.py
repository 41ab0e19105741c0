"""The keys each real State Hub answer carries, as far as the public pages show them.

Source: /work/wt/research/statehub-reference.md (sections 1 and 2). Each shape lists only keys
the pages show ([code] or [doc]) or that the templates read; where a key name is inferred it
is said so here and in docs/compat.md. devhub may add keys (its answers are richer); it may not
leave one of these out, because an agent written against the real hub reads them.
"""

from __future__ import annotations

from typing import Any

SHAPES: dict[str, frozenset[str]] = {
    # TaskRead [code fdfd436 schema]; devhub's `id` is the file id (the UUID is accepted as well).
    "task": frozenset(
        {
            "id",
            "workstream_id",
            "title",
            "status",
            "priority",
            "assignee",
            "blocking_reason",
            "needs_human",
            "intervention_note",
        }
    ),
    # Workstream/workplan fields [doc: frontmatter, terminology doc, create_workstream signature].
    "workplan": frozenset({"id", "title", "status", "owner", "topic_id", "planning_priority", "planning_order"}),
    # ProgressEvent [doc STATE-WP-0044, code c792ab0].
    "progress_event": frozenset(
        {"id", "summary", "event_type", "author", "topic_id", "workstream_id", "task_id", "detail", "created_at"}
    ),
    # MessageCreate fields [code 4b3cb1b] plus the id and time every read model carries.
    "message": frozenset({"id", "from_agent", "to_agent", "subject", "body", "thread_id", "created_at"}),
    # DecisionCreate fields [doc TOOLS.md] and the status words of the dashboard [doc 8137c98].
    "decision": frozenset({"id", "title", "decision_type", "status", "topic_id", "workstream_id"}),
    # StateSummary [doc, v0.2/v0.5 commit messages]; the key spellings are [inferred].
    "state_summary": frozenset(
        {"totals", "blocking_decisions", "blocked_tasks", "open_workstreams", "recent_events", "domains"}
    ),
    # The summary's list items: not the full read models. Open workstreams carry depends_on/blocks
    # [doc, the v0.2 commit]; a blocked task shows its reason [doc, dashboard overview]; the rest [inferred].
    "summary_workstream": frozenset({"id", "title", "status", "depends_on", "blocks"}),
    "summary_blocked_task": frozenset({"id", "title", "status", "blocking_reason"}),
    # get_domain_summary [doc TOOLS.md 4b3cb1b, SKILL.md 55e36bd]; the key spellings are [inferred].
    "domain_summary": frozenset({"topic", "active_workstreams", "blocking_decisions", "recent_events", "repos"}),
}

# Keys inside some shapes that templates read ([doc] the session-protocol template's step 4).
NESTED: dict[str, dict[str, frozenset[str]]] = {
    "state_summary": {"totals": frozenset({"workstreams", "tasks", "decisions"})},  # [doc compat.md]
}
ITEM_SHAPES: dict[str, dict[str, str]] = {
    "domain_summary": {"active_workstreams": "workplan"},  # [doc] it wraps GET /workstreams/?topic_id&status=active
    "state_summary": {"blocked_tasks": "summary_blocked_task", "open_workstreams": "summary_workstream"},
}


def missing_keys(shape: str, answer: Any) -> list[str]:
    """The keys of `shape` an answer (an object, or every object of a list) lacks, as readable paths."""
    objects = answer if isinstance(answer, list) else [answer]
    gaps: list[str] = []
    for index, obj in enumerate(objects):
        where = f"[{index}]" if isinstance(answer, list) else ""
        if not isinstance(obj, dict):
            gaps.append(f"{where} is {type(obj).__name__}, not an object")
            continue
        gaps += [f"{where}{key}" for key in sorted(SHAPES[shape] - obj.keys())]
        for key, inner in NESTED.get(shape, {}).items():
            if isinstance(obj.get(key), dict):
                gaps += [f"{where}{key}.{k}" for k in sorted(inner - obj[key].keys())]
        for key, item_shape in ITEM_SHAPES.get(shape, {}).items():
            if isinstance(obj.get(key), list):
                gaps += [f"{where}{key}{gap}" for gap in missing_keys(item_shape, obj[key])]
    return sorted(set(gaps))
