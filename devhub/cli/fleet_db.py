"""`devhub fleet db check`: the fleet's PostgreSQL store — reachable, schema version, replicas' lag (exit 0/1)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from devhub.service.fleet_db import DatabaseCheck


@click.group("db")
def db() -> None:
    """The fleet hub's PostgreSQL store."""


@db.command("check")
@click.option(
    "--database",
    default=None,
    metavar="postgresql://…",
    help="The fleet database (else DEVHUB_DATABASE_URL).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def check(ctx: click.Context, database: str | None, as_json: bool) -> None:
    """Connectivity, schema version and lag: exit 0 when reachable with this devhub's schema, else 1.

    Lag is counted in writes: how many committed writes each running fleet hub's read model had not
    applied at its last report (every catch-up, and at least every 5 s)."""
    from devhub.service.fleet_db import check_database

    config = ctx.obj.config(database_url=database)
    if not config.database_url:
        raise click.UsageError("no fleet database: pass --database postgresql://… or set DEVHUB_DATABASE_URL")
    report = check_database(config.database_url)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _render(report)
    ctx.exit(report["exit_code"])


def _render(data: DatabaseCheck) -> None:
    click.echo(f"database   {data['url']}")
    if not data["reachable"]:
        click.echo(f"connect    FAILED: {data['error']}")
        return
    role = "standby (read-only)" if data["standby"] else "primary"
    click.echo(f"server     PostgreSQL {data['server_version']}, {role}, round trip {data['latency_ms']} ms")
    click.echo(f"schema     version {data['schema_version']} (this devhub: {data['code_schema_version']})")
    click.echo(f"writes     {data['head_seq'] if data['head_seq'] is not None else '-'} committed")
    for replica in data["replicas"]:
        state = "gone" if replica["gone"] else f"lag {replica['lag_writes']} writes"
        click.echo(
            f"replica    {replica['node']}: applied {replica['applied_seq']}, {state}, "
            f"seen {replica['seen_seconds_ago']}s ago (devhub {replica['version']})"
        )
    for standby in data["standbys"]:
        click.echo(f"standby    {standby['name']} {standby['state']}, replay lag {standby['replay_lag_seconds']}s")
    if data["replay_delay_seconds"] is not None:
        click.echo(f"replay     this standby is {data['replay_delay_seconds']}s behind its primary")
    for problem in data["problems"]:
        click.echo(f"problem    {problem}")
