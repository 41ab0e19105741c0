"""REST write endpoints: parse the body and headers, hand them to the LocalHub port (validate -> journal -> overlay)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, patch, post

from devhub.adapters.api.params import json_object
from devhub.adapters.api.read_routes import hub_of
from devhub.service.port import WriteResult

_BODY_DOC = "JSON object; see the README's API section for fields"


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return json_object(await request.body())


def _key(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("idempotency-key") or None


def _agent(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("x-agent")


def _answer(outcome: WriteResult) -> Response[dict[str, Any]]:
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else {}
    return Response(outcome.body, status_code=outcome.status_code, headers=headers)


@patch("/tasks/{ident:str}", summary="Update a task's status / human flag (journaled, works offline)")
async def patch_task(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).patch_task(ident, repo, body, _key(request), _agent(request)))


@post("/tasks/bulk-status-sync", summary="Ordered status updates for many tasks, all or nothing")
async def bulk_status_sync(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).bulk_status_sync(body, _key(request), _agent(request)))


@patch(["/workplans/{ident:str}", "/workstreams/{ident:str}"], summary="Update a workplan's (workstream's) status")
async def patch_workplan(
    request: Request[Any, Any, Any], ident: str, repo: str | None = None
) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).patch_workplan(ident, repo, body, _key(request), _agent(request)))


@post("/progress", summary="Record a progress event")
async def add_progress(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).add_progress(body, _key(request), _agent(request)))


@post("/messages", summary="Send a message to an agent")
async def send_message(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).send_message(body, _key(request), _agent(request)))


@patch("/messages/{message_id:str}/read", summary="Mark a message read")
async def mark_read(request: Request[Any, Any, Any], message_id: str) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).mark_message_read(message_id, body, _key(request), _agent(request)))


@post("/relay/now", summary="Wake the relay now (and resume it after an auth failure)")
async def relay_now(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return await hub_of(request).relay_now()


WRITE_ROUTES = [patch_task, bulk_status_sync, patch_workplan, add_progress, send_message, mark_read, relay_now]
