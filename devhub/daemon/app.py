"""The daemon's ASGI app, composed explicitly from its parts: REST, with the MCP and dashboard mounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litestar import Litestar

    from devhub.service.hub import Hub


def compose_app(hub: Hub) -> Litestar:
    """The REST app for `hub` with /mcp and the dashboard mounted."""
    from devhub.adapters.api.app import create_app
    from devhub.adapters.dashboard.mount import extension as dashboard
    from devhub.adapters.mcp.mount import extension as mcp

    return create_app(hub, [mcp(hub), dashboard(hub)])
