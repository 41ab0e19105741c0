"""DNS-rebinding protection and bearer tokens, as one ASGI wrapper around the whole app.

A browser page from any website can make requests to 127.0.0.1 if DNS is rebound;
refusing every `Host` and `Origin` that is not a loopback name closes that door.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from devhub.daemon.logs import log_refusal

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_websocket_scope: ContextVar[bool] = ContextVar("devhub_websocket_scope", default=False)

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Headers a request may carry at most once: with two, which one a check reads and which one a
# later layer (or a proxy) uses can differ.
SINGLE_HEADERS = (b"host", b"origin")
_HOST_NAME = re.compile(r"[a-z0-9.-]+")
_PORT = re.compile(r"(:[0-9]{0,5})?")


def is_loopback_host(host: str) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1)."""
    name = host.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if _HOST_NAME.fullmatch(name) and (name == "localhost" or name.endswith(".localhost")):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_of(value: str) -> str | None:
    """The host of a `host[:port]` value (a Host header, an origin's authority); None when it is not that shape.

    Strict on purpose: `127.0.0.1:80@evil`, `[::1]evil` or a bare `::1` would otherwise pass as loopback.
    """
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, port = value[: end + 1], value[end + 1 :]
    else:
        host, colon, digits = value.partition(":")
        port = colon + digits
    if not host or not _PORT.fullmatch(port):
        return None
    return host


def origin_host(origin: str) -> str | None:
    """The host of an `Origin` value (`http[s]://host[:port]`); None for `null` or any other shape."""
    scheme, sep, authority = origin.strip().partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        return None
    return host_of(authority[:-1] if authority.endswith("/") else authority)


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
        raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope.get("headers", [])]
        counts = Counter(name for name, _ in raw_headers if name.encode() in SINGLE_HEADERS)
        repeated = sorted(name for name, n in counts.items() if n > 1)
        if repeated:
            names = " and ".join(name.capitalize() for name in repeated)
            await _refuse(
                scope, send, 400, "Bad Request", f"the request carries more than one {names} header; send one"
            )
            return
        headers = dict(raw_headers)
        host = host_of(headers.get("host", ""))
        if host is None or not self._host_allowed(host):
            await _refuse(
                scope,
                send,
                403,
                "Forbidden",
                f"Host {headers.get('host', '')!r} is not a loopback name; "
                "devhub refuses it (DNS-rebinding protection)",
            )
            return
        origin = headers.get("origin")
        if origin is not None:
            origin_name = origin_host(origin)
            if origin_name is None or not self._host_allowed(origin_name):
                await _refuse(
                    scope,
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
            await _refuse(
                scope,
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


async def _refuse(
    scope: Scope,
    send: Send,
    status: int,
    title: str,
    detail: str,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    log_refusal(scope.get("method", "WEBSOCKET"), scope.get("path", ""), status, detail)
    if _websocket_scope.get():
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra_headers or [])})
    await send({"type": "http.response.body", "body": body})
