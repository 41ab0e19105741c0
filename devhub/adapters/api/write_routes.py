"""REST write endpoints: parse the body, hand it to `Writes` (validate -> journal -> overlay)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, patch, post

from devhub.adapters.api.params import json_object
from devhub.adapters.api.read_routes import hub_of
from devhub.service.writes import WriteContext, WriteOutcome

_BODY_DOC = "JSON object; see the README's API section for fields"


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return json_object(await request.body())


def _context(request: Request[Any, Any, Any], body: dict[str, Any]) -> WriteContext:
    agent = body.get("agent") or body.get("author") or body.get("from_agent") or request.headers.get("x-agent")
    return WriteContext(
        idempotency_key=request.headers.get("idempotency-key") or None,
        agent=agent if isinstance(agent, str) else None,
        session=body.get("session_id") if isinstance(body.get("session_id"), str) else None,
    )


def _answer(outcome: WriteOutcome) -> Response[dict[str, Any]]:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return Response(outcome.body, status_code=outcome.status_code, headers=headers)


@patch("/tasks/{ident:str}", summary="Update a task's status / human flag (journaled, works offline)")
async def patch_task(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).writes.patch_task(ident, repo, body, _context(request, body)))


@post("/tasks/bulk-status-sync", summary="Ordered status updates for many tasks, all or nothing")
async def bulk_status_sync(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).writes.bulk_status_sync(body, _context(request, body)))


@patch("/workplans/{ident:str}", summary="Update a workplan's status")
async def patch_workplan(
    request: Request[Any, Any, Any], ident: str, repo: str | None = None
) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).writes.patch_workplan(ident, repo, body, _context(request, body)))


@post("/progress", summary="Record a progress event")
async def add_progress(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).writes.add_progress(body, _context(request, body)))


@post("/messages", summary="Send a message to an agent")
async def send_message(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).writes.send_message(body, _context(request, body)))


@patch("/messages/{message_id:str}/read", summary="Mark a message read")
async def mark_read(request: Request[Any, Any, Any], message_id: str) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).writes.mark_message_read(message_id, body, _context(request, body)))


@post("/relay/now", summary="Wake the relay now (and resume it after an auth failure)")
async def relay_now(request: Request[Any, Any, Any]) -> dict[str, Any]:
    hub = hub_of(request)
    if hub.relay is not None:
        hub.relay.wake(resume=True)
    return hub.relay_status().to_json()


WRITE_ROUTES = [patch_task, bulk_status_sync, patch_workplan, add_progress, send_message, mark_read, relay_now]
