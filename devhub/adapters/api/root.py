"""`GET /`: JSON API metadata for API clients (as the fleet hub's FastAPI root answers), the dashboard for browsers.

The fleet root's exact keys were not visible in its public pages (docs/compat.md): devhub answers
`name`, `service`, `version` and links to its docs, which is what such a root carries.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from devhub._version import __version__


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """True when the client prefers text/html over JSON (a browser); API clients and no Accept get JSON."""
    accept = request.headers.get("accept", "")
    if not accept:
        return False
    best = request.accept.best_match(["application/json", "text/html"], default="application/json")
    return best == "text/html"


def api_root_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the API is and where its docs are."""
    hub = request.app.state.hub
    return {
        "name": "devhub",
        "service": "devhub — local, offline-first State Hub",
        "version": __version__,
        "role": hub.config.role,
        "docs": "/schema",
        "openapi": "/schema/openapi.json",
        "health": "/state/health",
        "summary": "/state/summary",
        "mcp": "/mcp",
        "dashboard": "/",
    }
