"""REST decisions and token events (the fleet State Hub's paths, bodies and status codes), over the port.

Writes are journaled and answered at once (service/decision_writes.py); the relay carries them
upstream (service/relay_link.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, patch, post
from litestar.params import QueryParameter

from devhub.adapters.api.params import bounded, choice
from devhub.adapters.api.read_routes import hub_of
from devhub.adapters.api.write_routes import _agent, _answer, _body, _key
from devhub.service.records_decisions import (
    DECISION_LIMIT_MAX,
    DECISION_STATUSES,
    DECISION_TYPES,
    MEASUREMENT_KINDS,
    SOURCE_PROVIDERS,
    SUMMARY_SCOPES,
    TOKEN_EVENT_LIMIT_DEFAULT,
    TOKEN_EVENT_LIMIT_MAX,
)


@get("/decisions", summary="Decisions by deadline (decision_type=pending: the ones holding up work)")
async def decisions(
    request: Request[Any, Any, Any],
    decision_type: str | None = None,
    topic_id: str | None = None,
    status: str | None = None,
    domain: str | None = None,
    blocking: bool | None = None,
    limit: int | None = None,
) -> list[Any]:
    choice("decision_type", decision_type, DECISION_TYPES)
    choice("status", status, DECISION_STATUSES)
    bounded("limit", limit, 1, DECISION_LIMIT_MAX)
    return list(
        await hub_of(request).decisions(
            {
                "decision_type": decision_type,
                "topic_id": topic_id,
                "status": status,
                "domain": domain,
                "blocking": blocking,
                "limit": limit,
            }
        )
    )


@get("/decisions/{decision_id:str}", summary="One decision (422 for a non-UUID id, 404 unknown)")
async def decision(request: Request[Any, Any, Any], decision_id: str) -> Any:
    return await hub_of(request).decision(decision_id)


@post("/decisions", summary="Record a decision (topic_id: a topic slug or UUID, and/or workstream_id); 201")
async def record_decision(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).record_decision(body, _key(request), _agent(request)))


@patch("/decisions/{decision_id:str}", summary="Change a decision's fields")
async def patch_decision(request: Request[Any, Any, Any], decision_id: str) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).patch_decision(decision_id, body, _key(request), _agent(request)))


@post("/decisions/{decision_id:str}/resolve", summary="Resolve a decision {rationale, decided_by} (409 if resolved)")
async def resolve_decision(request: Request[Any, Any, Any], decision_id: str) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).resolve_decision(decision_id, body, _key(request), _agent(request)))


@get("/token-events", summary="Token events, newest first, filtered")
async def token_events(
    request: Request[Any, Any, Any],
    task_id: str | None = None,
    workstream_id: str | None = None,
    workplan_id: str | None = None,
    repo_id: str | None = None,
    model: str | None = None,
    agent: str | None = None,
    session_id: str | None = None,
    note: str | None = None,
    ref_type: str | None = None,
    ref_id: str | None = None,
    measurement_kind: str | None = None,
    source_provider: str | None = None,
    source_id: str | None = None,
    limit: int | None = None,
) -> list[Any]:
    choice("measurement_kind", measurement_kind, MEASUREMENT_KINDS)
    choice("source_provider", source_provider, SOURCE_PROVIDERS)
    bounded("limit", limit, 1, TOKEN_EVENT_LIMIT_MAX)
    return list(
        await hub_of(request).token_events(
            {
                "task_id": task_id,
                "workplan_id": workplan_id or workstream_id,
                "repo_id": repo_id,
                "model": model,
                "agent": agent,
                "session_id": session_id,
                "note": note,
                "ref_type": ref_type,
                "ref_id": ref_id,
                "measurement_kind": measurement_kind,
                "source_provider": source_provider,
                "source_id": source_id,
                "limit": limit or TOKEN_EVENT_LIMIT_DEFAULT,
            }
        )
    )


@get("/token-events/summary", summary="Token totals of one task, workstream, repo, commit, release or session")
async def token_summary(
    request: Request[Any, Any, Any],
    # `scope` and `id` are the fleet's names; Litestar reserves `scope` for the ASGI scope.
    summary_scope: Annotated[str, QueryParameter(name="scope")],
    ident: Annotated[str, QueryParameter(name="id")],
) -> Any:
    choice("scope", summary_scope, SUMMARY_SCOPES)
    return await hub_of(request).token_summary(summary_scope, ident)


@get("/token-events/{event_id:str}", summary="One token event")
async def token_event(request: Request[Any, Any, Any], event_id: str) -> Any:
    return await hub_of(request).token_event(event_id)


@post("/token-events", summary="Record a token event (tokens_total computed, workplan from the task); 201")
async def record_token_event(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).record_token_event(body, _key(request), _agent(request)))


@post("/token-events/upsert", summary="Insert, or update the event of its kind+provider+source_id")
async def upsert_token_event(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).record_token_event(body, _key(request), _agent(request), upsert=True))


DECISION_ROUTES = [
    decisions,
    decision,
    record_decision,
    patch_decision,
    resolve_decision,
    token_events,
    token_summary,
    token_event,
    record_token_event,
    upsert_token_event,
]
