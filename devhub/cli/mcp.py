"""The `devhub mcp` command: MCP over stdio (what stdio-only clients such as Claude Desktop launch)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--profile",
    "profile_name",
    default=None,
    help="dev: this data dir's daemon (started if needed); fleet: the profile's api_url.",
)
@click.pass_context
def mcp(ctx: click.Context, profile_name: str | None) -> None:
    """Serve the dev-hub MCP server over stdio, talking to the hub's REST API."""
    from devhub.adapters.mcp.stdio import serve

    serve(ctx.obj.config(), profile_name)
