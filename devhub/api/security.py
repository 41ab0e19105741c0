"""DNS-rebinding protection and bearer tokens, as one ASGI wrapper around the whole app.

A browser page from any website can make requests to 127.0.0.1 if DNS is rebound;
refusing every `Host` and `Origin` that is not a loopback name closes that door.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_websocket_scope: ContextVar[bool] = ContextVar("devhub_websocket_scope", default=False)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_loopback_host(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host_header(value: str) -> str:
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SecurityMiddleware:
    """Refuses foreign Host/Origin (403) and checks the bearer token where one is required (401)."""

    def __init__(self, app: ASGIApp, *, bind_host: str, token: str | None) -> None:
        self.app = app
        self.token = token
        self.bound_to_loopback = is_loopback_host(bind_host) or bind_host in ("", "localhost")
        self.extra_hosts = set() if self.bound_to_loopback or bind_host in ("0.0.0.0", "::") else {bind_host.lower()}

    def _host_allowed(self, host: str) -> bool:
        return (
            is_loopback_host(host)
            or host.lower() in self.extra_hosts
            or (not self.bound_to_loopback and not self.extra_hosts)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        _websocket_scope.set(scope["type"] == "websocket")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _split_host_header(headers.get("host", ""))
        if not host or not self._host_allowed(host):
            await _problem(
                send,
                403,
                "Forbidden",
                f"Host {headers.get('host', '')!r} is not a loopback name; "
                "devhub refuses it (DNS-rebinding protection)",
            )
            return
        origin = headers.get("origin")
        if origin is not None:
            origin_host = urlsplit(origin).hostname or ""
            if origin == "null" or not self._host_allowed(origin_host):
                await _problem(
                    send,
                    403,
                    "Forbidden",
                    f"Origin {origin!r} is not a loopback origin; "
                    "devhub refuses cross-site requests (DNS-rebinding protection)",
                )
                return
        method = scope.get("method", "GET").upper()
        needs_token = (self.token is not None and method in WRITE_METHODS) or not self.bound_to_loopback
        if needs_token and not self._token_ok(headers.get("authorization", "")):
            why = "this hub is bound to a non-loopback address" if not self.bound_to_loopback else "DEVHUB_TOKEN is set"
            await _problem(
                send,
                401,
                "Unauthorized",
                f"a bearer token is required ({why}): send 'Authorization: Bearer <token>'",
                extra_headers=[(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)

    def _token_ok(self, header: str) -> bool:
        if self.token is None:
            return False
        scheme, _, value = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), self.token.encode())


async def _problem(
    send: Send, status: int, title: str, detail: str, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    if _websocket_scope.get():
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})
