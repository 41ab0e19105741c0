"""The named shapes of decisions and token events at the port boundary (REST and MCP answer these).

The fleet State Hub's DecisionRead and TokenEventRead were not visible on its public pages in
full; the field names below are those its TOOLS.md, dashboard docs, token-evidence-model.md and
router excerpts use (docs/decisions.md lists what is inferred). devhub adds `topic_slug` and the
`workplan_id` twin of `workstream_id`.
"""

from __future__ import annotations

from typing import Any, TypedDict

from devhub.store.decisions import DECISION_LIMIT_MAX
from devhub.store.token_events import SUMMARY_SCOPES, TOKEN_EVENT_LIMIT_DEFAULT, TOKEN_EVENT_LIMIT_MAX

__all__ = ["DECISION_LIMIT_MAX", "SUMMARY_SCOPES", "TOKEN_EVENT_LIMIT_DEFAULT", "TOKEN_EVENT_LIMIT_MAX"]

DECISION_TYPES = ("pending", "made")
DECISION_STATUSES = ("open", "escalated", "resolved", "superseded")
# Pending decisions in these categories are escalated for a person (the fleet's constitution §4).
ESCALATED_CATEGORIES = ("financial", "legal")
MEASUREMENT_KINDS = {"measured": 1.0, "allocated": 0.70, "estimated": 0.35, "superseded": 0.0}
SOURCE_PROVIDERS = ("codex_session", "claude_transcript", "llm_connect", "manual", "task_fallback")


class DecisionRecord(TypedDict):
    """One decision (GET /decisions/{id}; POST /decisions/ answers it with 201)."""

    id: str
    title: str
    description: str | None
    context: str | None
    options: Any
    decision_type: str
    status: str
    category: str | None
    topic_id: str | None
    topic_slug: str | None
    workstream_id: str | None
    workplan_id: str | None
    deadline: str | None
    rationale: str | None
    decided_by: str | None
    resolved_at: str | None
    author: str | None
    session_id: str | None
    created_at: str
    updated_at: str


class DecisionFilters(TypedDict, total=False):
    """GET /decisions/ query parameters (`topic_id`: a topic slug or a fleet topic UUID)."""

    decision_type: str | None
    topic_id: str | None
    status: str | None
    limit: int | None
    domain: str | None  # devhub's extra: decisions of one workplan domain
    blocking: bool | None  # devhub's extra: only open or escalated ones


class TokenEventRecord(TypedDict):
    """One token event (POST /token-events/ answers it with 201; tokens_total = tokens_in + tokens_out)."""

    id: str
    task_id: str | None
    workplan_id: str | None
    workstream_id: str | None
    repo_id: str | None
    tokens_in: int
    tokens_out: int
    tokens_total: int
    workplan_tokens_in: int | None
    workplan_tokens_out: int | None
    model: str | None
    agent: str | None
    session_id: str | None
    note: str | None
    ref_type: str | None
    ref_id: str | None
    measurement_kind: str | None
    source_provider: str | None
    source_id: str | None
    source_path: str | None
    source_created_at: str | None
    parser_version: str | None
    ingested_at: str | None
    confidence: float | None
    cached_input_tokens: int | None
    reasoning_output_tokens: int | None
    raw_total_tokens: int | None
    raw_metadata: Any
    origin: str
    created_at: str
    updated_at: str


class TokenEventFilters(TypedDict, total=False):
    """GET /token-events/ query parameters (task_id / workplan_id: a file id or a State Hub UUID)."""

    task_id: str | None
    workplan_id: str | None
    repo_id: str | None
    model: str | None
    agent: str | None
    session_id: str | None
    note: str | None
    ref_type: str | None
    ref_id: str | None
    measurement_kind: str | None
    source_provider: str | None
    source_id: str | None
    limit: int


class ModelTokens(TypedDict):
    """One model's share of a token summary."""

    model: str | None
    events: int
    tokens_in: int
    tokens_out: int
    tokens_total: int


class TokenSummary(TypedDict):
    """GET /token-events/summary/?scope=&id=: one scope's totals, and by model (superseded rows not counted)."""

    scope: str
    id: str
    events: int
    tokens_in: int
    tokens_out: int
    tokens_total: int
    by_model: list[ModelTokens]
