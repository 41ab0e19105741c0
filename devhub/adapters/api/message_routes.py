"""REST routes of the State Hub's agent inbox beyond send/list/read: thread view, archive, reply.

The State Hub's router (api/routers/messages.py, CUST-WP-0015) has "thread view, mark-read,
archive, reply"; only send, list and mark-read were seen in full. The paths here are inferred
from the mark-read route's pattern (docs/compat.md says so).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, patch, post

from devhub.adapters.api.read_routes import hub_of
from devhub.adapters.api.write_routes import _agent, _answer, _body, _key
from devhub.records import MessageView


@get("/messages/{message_id:str}/thread", summary="A message's thread: the root, then replies in order")
async def message_thread(request: Request[Any, Any, Any], message_id: str) -> list[MessageView]:
    return await hub_of(request).message_thread(message_id)


@patch("/messages/{message_id:str}/archive", summary="Archive a message (out of GET /messages/ by default)")
async def archive_message(request: Request[Any, Any, Any], message_id: str) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).archive_message(message_id, body, _key(request), _agent(request)))


@post("/messages/{message_id:str}/reply", summary="Reply in the thread, to the sender; marks the message read")
async def reply_to_message(request: Request[Any, Any, Any], message_id: str) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).reply_to_message(message_id, body, _key(request), _agent(request)))


MESSAGE_ROUTES = [message_thread, archive_message, reply_to_message]
