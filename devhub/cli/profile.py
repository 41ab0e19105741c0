"""`devhub profile list | show | env | use`: inspect profiles and point MCP clients at one."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import click

from devhub.agents.clients import CLIENTS, Outcome, apply_profile, client_configs, client_state
from devhub.agents.profiles import (
    Profile,
    active_profile_name,
    get_profile,
    read_profiles,
    record_active_profile,
)
from devhub.errors import ConfigError
from devhub.settings import Settings


def _config(ctx: click.Context) -> Settings:
    # Unresolved: these commands list, show and switch profiles, so a broken active one must not stop them.
    config: Settings = ctx.obj.config(resolve_profile=False)
    return config


def _home_relative(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _profile_json(profile: Profile, active: str) -> dict[str, Any]:
    return {
        "name": profile.name,
        "active": profile.name == active,
        "description": profile.description,
        "api_url": profile.api_url,
        "mcp": {
            "transport": profile.mcp.transport,
            "url": profile.mcp.url,
            "send_token": profile.mcp.send_token,
        },
        "relay": {"enabled": profile.relay.enabled, "upstream": profile.relay.upstream},
        "token_env": profile.token_env,
        "origin": profile.origin,
        "sources": [str(path) for path in profile.sources],
    }


@click.group("profile")
def profile() -> None:
    """List, show and switch dev/fleet profiles (see docs/profiles.md)."""


@profile.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def list_profiles(ctx: click.Context, as_json: bool) -> None:
    """List the shipped and user profiles; the active one is marked with '*'."""
    config = _config(ctx)
    profiles, problems = read_profiles(config)
    active = active_profile_name(config)
    if as_json:
        click.echo(json.dumps([_profile_json(p, active) for p in profiles.values()], indent=2))
    else:
        _print_profiles(profiles, active)
    if problems:  # the good profiles are listed; the broken ones fail the command, each named
        raise ConfigError("; ".join(problem.detail for problem in problems.values()))


def _print_profiles(profiles: dict[str, Profile], active: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("", "name", "api_url", "mcp", "relay", "token_env", "origin", "description")
    for item in profiles.values():
        relay = f"on → {item.relay.upstream}" if item.relay.enabled else "off"
        mcp = f"{item.mcp.transport} {item.mcp.url or 'devhub mcp'}"
        marker = "*" if item.name == active else ""
        table.add_row(marker, item.name, item.api_url, mcp, relay, item.token_env or "-", item.origin, item.description)
    Console(width=200).print(table)


@profile.command("show")
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    default=".",
    help="Project whose .mcp.json, .cursor/ and .vscode/ configs to read (default: cwd).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def show(ctx: click.Context, project: Path, as_json: bool) -> None:
    """Say which profile is active and which profile each MCP client config points at."""
    config = _config(ctx)
    profiles = list(read_profiles(config)[0].values())
    active = active_profile_name(config)
    targets = [t for t in client_configs(Path.home(), project.resolve(), config.env) if t.path.exists()]
    states = [client_state(target, profiles) for target in targets]
    if as_json:
        click.echo(json.dumps({"active": active, "clients": [s.as_json() for s in states]}, indent=2))
        return
    click.echo(f"active profile: {active}")
    if not states:
        click.echo("no MCP client configs found (create one with `devhub profile use NAME --client …`)")
    for state in states:
        if state.state == "profile":
            what = ", ".join(state.profiles)
        elif state.state in ("custom", "error", "legacy"):
            what = f"{state.state}: {state.detail}"
        else:
            what = state.state
        click.echo(f"{state.target.client:<15} {state.target.scope:<8} {_home_relative(state.target.path)}  {what}")


@profile.command("env")
@click.argument("name", required=False)
@click.pass_context
def env(ctx: click.Context, name: str | None) -> None:
    """Print eval-able `export` lines for shell agents: eval "$(devhub profile env fleet)"."""
    config = _config(ctx)
    chosen = get_profile(config, name or active_profile_name(config))
    lines = [
        f"export DEVHUB_PROFILE={shlex.quote(chosen.name)}",
        f"export API_BASE={shlex.quote(chosen.api_url)}",
    ]
    if chosen.mcp.url:
        lines.append(f"export STATE_HUB_MCP_URL={shlex.quote(chosen.mcp.url)}")
    else:
        lines.append(f"# MCP over stdio: devhub mcp --profile {shlex.quote(chosen.name)}")
    if chosen.token_env:
        lines.append(f"# token: read from ${chosen.token_env} (not printed)")
    click.echo("\n".join(lines))


def _describe(outcome: Outcome) -> str:
    parts: list[str] = [outcome.status]
    if outcome.detail:
        parts.append(outcome.detail)
    if outcome.backup:
        parts.append(f"backup {_home_relative(outcome.backup)}")
    return "; ".join(parts)


@profile.command("use")
@click.argument("name")
@click.option(
    "--client",
    "clients",
    multiple=True,
    type=click.Choice(CLIENTS),
    help="Only these clients; their config is created if missing. Repeatable.",
)
@click.option(
    "--project",
    type=click.Path(path_type=Path, file_okay=False),
    default=".",
    help="Project for the project-level configs (default: cwd).",
)
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def use(ctx: click.Context, name: str, clients: tuple[str, ...], project: Path, dry_run: bool, as_json: bool) -> None:
    """Point every existing (or each named) MCP client config's dev-hub entry at profile NAME."""
    config = _config(ctx)
    chosen = get_profile(config, name)
    targets = client_configs(Path.home(), project.resolve(), config.env)
    outcomes: list[Outcome] = []
    for client in clients or CLIENTS:
        own = [t for t in targets if t.client == client]
        existing = [t for t in own if t.path.exists()]
        if not existing and clients:  # named but absent: create its primary file
            existing = [t for t in own if t.primary]
        outcomes.extend(apply_profile(t, chosen, create=True, dry_run=dry_run) for t in existing)
    recorded = None if dry_run else record_active_profile(config, chosen.name)
    failed = [o for o in outcomes if o.status == "error"]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "profile": chosen.name,
                    "dry_run": dry_run,
                    "active_profile_file": str(recorded) if recorded else None,
                    "clients": [o.as_json() for o in outcomes],
                },
                indent=2,
            )
        )
    else:
        for outcome in outcomes:
            target = outcome.target
            click.echo(f"{target.client:<15} {target.scope:<8} {_home_relative(target.path)}  {_describe(outcome)}")
        if not outcomes:
            click.echo("no MCP client configs found; name one with --client to create it")
        if recorded:
            click.echo(f"active profile: {chosen.name} (recorded in {_home_relative(recorded)})")
    if failed:
        paths = ", ".join(str(o.target.path) for o in failed)
        raise ConfigError(f"{len(failed)} client config(s) left unchanged because of errors: {paths}")
