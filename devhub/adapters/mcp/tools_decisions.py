"""The decision and token-event tools of the `dev-hub` MCP server, with the fleet's names and arguments.

A mixin of `DevHubTools` (adapters/mcp/server.py): each tool calls the HubPort method of the REST
endpoint it mirrors and answers the same JSON.
"""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult, TextContent
from pydantic import Field

from devhub.service.port import HubPort
from devhub.service.records_decisions import TokenSummary

DecisionType = Literal["made", "pending"]
DecisionStatus = Literal["open", "escalated", "resolved", "superseded"]
MeasurementKind = Literal["measured", "allocated", "estimated", "superseded"]
SourceProvider = Literal["codex_session", "claude_transcript", "llm_connect", "manual", "task_fallback"]
TopicId = Annotated[str | None, Field(description="Topic slug (a workplan's topic_slug) or the fleet topic UUID")]
WorkstreamId = Annotated[str | None, Field(description="Workplan id (CUST-WP-0054) or its State Hub UUID")]
Key = Annotated[
    str | None,
    Field(description="Retry-safe key: the same key with the same arguments is applied once (kept 14 days)"),
]
Count = Annotated[int, Field(ge=0)]
OptionalCount = Annotated[int | None, Field(ge=0)]

SummaryScope = Literal["task", "workstream", "repo", "commit", "release", "session"]

DECISION_READ_TOOLS = ("list_pending_decisions", "get_token_summary")
DECISION_WRITE_TOOLS = ("record_decision", "resolve_decision", "record_token_event")


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def summary_table(summary: TokenSummary) -> str:
    """The fleet's get_token_summary answer: a formatted table (by model, then the total) of GET
    /token-events/summary/."""
    rows = [
        (m["model"] or "(none)", m["events"], m["tokens_in"], m["tokens_out"], m["tokens_total"])
        for m in summary["by_model"]
    ]
    rows.append(("total", summary["events"], summary["tokens_in"], summary["tokens_out"], summary["tokens_total"]))
    header = ("model", "events", "tokens_in", "tokens_out", "tokens_total")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[Any, ...]) -> str:
        cells = enumerate(zip(row, widths, strict=True))
        return "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in cells)

    title = f"Token summary: {summary['scope']} {summary['id']}"
    return "\n".join([title, line(header), "  ".join("-" * w for w in widths), *map(line, rows)])


class DecisionTools:
    """record_decision, resolve_decision, list_pending_decisions and record_token_event."""

    backend: HubPort

    _run: Callable[[Awaitable[Any]], Awaitable[CallToolResult]]  # DevHubTools' error-mapping runner

    async def list_pending_decisions(self, topic_id: TopicId = None) -> CallToolResult:
        """Decisions holding up work (pending), sorted by deadline (GET /decisions/?decision_type=pending)."""
        return await self._run(
            self.backend.decisions({"decision_type": "pending", "topic_id": topic_id, "status": None, "limit": None})
        )

    async def get_token_summary(
        self,
        scope: Annotated[SummaryScope, Field(description="What to total")],
        id: Annotated[str, Field(description="Task/workplan id or UUID, repo UUID or slug, commit, release, session")],
    ) -> CallToolResult:
        """Token totals of one scope as a formatted table, by model (GET /token-events/summary/)."""
        answered = await self._run(self.backend.token_summary(scope, id))  # refusals become tool errors there
        summary: TokenSummary = json.loads("".join(getattr(block, "text", "") for block in answered.content))
        return CallToolResult(content=[TextContent(type="text", text=summary_table(summary))])

    async def record_decision(
        self,
        title: str,
        decision_type: Annotated[DecisionType, Field(description="made: a choice taken; pending: one awaited")] = (
            "made"
        ),
        topic_id: TopicId = None,
        workstream_id: WorkstreamId = None,
        deadline: Annotated[str | None, Field(description="ISO-8601 date or timestamp")] = None,
        description: str | None = None,
        context: str | None = None,
        rationale: str | None = None,
        decided_by: str | None = None,
        category: Annotated[
            str | None, Field(description="financial or legal: a pending decision is escalated for a person")
        ] = None,
        status: DecisionStatus | None = None,
        author: str | None = None,
        session_id: str | None = None,
        idempotency_key: Key = None,
    ) -> CallToolResult:
        """Record a decision against a topic and/or a workplan; one of topic_id / workstream_id is required
        (POST /decisions/).
        """
        body = _given(
            title=title,
            decision_type=decision_type,
            topic_id=topic_id,
            workstream_id=workstream_id,
            deadline=deadline,
            description=description,
            context=context,
            rationale=rationale,
            decided_by=decided_by,
            category=category,
            status=status,
            author=author,
            session_id=session_id,
        )
        return await self._run(self.backend.record_decision(body, idempotency_key))

    async def resolve_decision(
        self,
        decision_id: Annotated[str, Field(description="The decision's UUID")],
        rationale: str,
        decided_by: str,
        idempotency_key: Key = None,
    ) -> CallToolResult:
        """Resolve a decision with its rationale and who decided (POST /decisions/{id}/resolve)."""
        body = {"rationale": rationale, "decided_by": decided_by}
        return await self._run(self.backend.resolve_decision(decision_id, body, idempotency_key))

    async def record_token_event(
        self,
        tokens_in: Count,
        tokens_out: Count,
        task_id: Annotated[str | None, Field(description="Task id or State Hub UUID; fills in the workplan")] = None,
        workstream_id: WorkstreamId = None,
        repo_id: Annotated[str | None, Field(description="The fleet repo's UUID")] = None,
        model: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        note: str | None = None,
        ref_type: str | None = None,
        ref_id: str | None = None,
        measurement_kind: MeasurementKind | None = None,
        source_provider: SourceProvider | None = None,
        source_id: str | None = None,
        cached_input_tokens: OptionalCount = None,
        reasoning_output_tokens: OptionalCount = None,
        idempotency_key: Key = None,
    ) -> CallToolResult:
        """Record AI token use for a task, workplan or repo; tokens_total is computed (POST /token-events/)."""
        body = _given(
            tokens_in=tokens_in,
            tokens_out=tokens_out,
            task_id=task_id,
            workstream_id=workstream_id,
            repo_id=repo_id,
            model=model,
            agent=agent,
            session_id=session_id,
            note=note,
            ref_type=ref_type,
            ref_id=ref_id,
            measurement_kind=measurement_kind,
            source_provider=source_provider,
            source_id=source_id,
            cached_input_tokens=cached_input_tokens,
            reasoning_output_tokens=reasoning_output_tokens,
        )
        return await self._run(self.backend.record_token_event(body, idempotency_key))
