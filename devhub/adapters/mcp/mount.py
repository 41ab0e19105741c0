"""Mounts the MCP server on the daemon at /mcp (streamable HTTP), as an extension composed in devhub.daemon.app.

Sessions are stateless and answers are plain JSON: every agent call is one short POST,
nothing is kept per client, and a client keeps working across a daemon restart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devhub.adapters.extension import Extension

if TYPE_CHECKING:
    from devhub.service.hub import Hub

MCP_PATH = "/mcp"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def transport_security(host: str, port: int) -> Any:
    """The SDK's own DNS-rebinding check: loopback Host/Origin only (any port, and this port by name)."""
    from mcp.server.transport_security import TransportSecuritySettings

    from devhub.adapters.api.security import is_loopback_host

    names = list(LOOPBACK_NAMES)
    if not is_loopback_host(host) and host not in ("0.0.0.0", "::", ""):
        names.append(f"[{host}]" if ":" in host else host)
    hosts = [*names, *(f"{n}:*" for n in names), *(f"{n}:{port}" for n in names)]
    origins = [f"{scheme}://{h}" for scheme in ("http", "https") for h in hosts]
    # A wildcard bind answers to any name; the daemon then requires a bearer token on every request.
    enabled = host not in ("0.0.0.0", "::")
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=enabled, allowed_hosts=hosts, allowed_origins=origins
    )


def extension(hub: Hub) -> Extension:
    """The /mcp mount and the session manager's lifespan, for devhub.daemon.app.compose_app."""
    from litestar.handlers import asgi

    from devhub.adapters.mcp.server import build_server
    from devhub.service.local import LocalHub

    server = build_server(LocalHub(hub))  # the same port methods the REST routes call
    # Builds the session manager; the Starlette app it returns is not needed, the mount below serves it.
    server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(hub.config.host, hub.config.port),
        host=hub.config.host,
    )
    manager = server.session_manager

    @asgi(MCP_PATH, is_mount=True, copy_scope=True)
    async def mcp_endpoint(scope: Any, receive: Any, send: Any) -> None:
        await manager.handle_request(scope, receive, send)

    return Extension(
        route_handlers=[mcp_endpoint],
        lifespan=manager.run,
        name="mcp",
        info={"path": MCP_PATH, "transport": "streamable-http", "stateless": True, "json_response": True},
    )
