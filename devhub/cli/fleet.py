"""`devhub fleet …`: check the register, plan drains, render and probe tunnels (SPEC §10)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from devhub.cli.fleet_accept import accept
from devhub.cli.fleet_db import db
from devhub.fleet.register import Register

REGISTER_OPTION = click.option(
    "--register",
    "register_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The register YAML (else fleet/register.yaml in the first registered repo that has one).",
)


def _load(ctx: click.Context, register_path: Path | None, *, echo_warnings: bool = True) -> Register:
    """Find and load the register; RegisterProblems (every problem, one per line) exit 2 via main."""
    from devhub.fleet.register import find_register, load_register

    if register_path is None:
        from devhub.registry import Registry

        roots = [repo.root for repo in Registry(ctx.obj.config().registry_path).repos()]
    else:
        roots = []
    register = load_register(find_register(register_path, roots))
    if echo_warnings:
        for warning in register.warnings:
            click.echo(f"warning: {warning}", err=True)
    return register


def _console() -> Any:
    """A rich console; 120 columns when piped, so tables stay readable in logs and pagers."""
    from rich.console import Console

    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=120)


def _echo_json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, sort_keys=False))


@click.group()
def fleet() -> None:
    """Fleet register: checks, drain plan, tunnels, acceptance."""


@fleet.command()
@REGISTER_OPTION
@click.option(
    "--scan",
    "scan_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="Also look for /home/<user>/ paths in every text file under PATH (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable findings.")
@click.pass_context
def check(ctx: click.Context, register_path: Path | None, scan_paths: tuple[Path, ...], as_json: bool) -> None:
    """Check the register: exit 0 clean (info allowed), 2 only warnings, 1 any error."""
    from devhub.fleet.checks import check_register, exit_code
    from devhub.fleet.checks import scan_paths as scan

    register = _load(ctx, register_path, echo_warnings=False)
    findings = check_register(register)
    if scan_paths:
        from devhub.fleet.checks import SEVERITY_RANK

        findings = sorted([*findings, *scan(scan_paths)], key=lambda f: SEVERITY_RANK[f.severity])
    code = exit_code(findings)
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    if as_json:
        _echo_json(
            {
                "register": str(register.source),
                "findings": [f.as_dict() for f in findings],
                "summary": counts,
                "exit_code": code,
            }
        )
    else:
        from rich.table import Table

        console = _console()
        if findings:
            table = Table(title=f"fleet check: {register.source}")
            for column in ("Severity", "Rule", "Row", "Problem → fix"):
                table.add_column(column, overflow="fold")
            colours = {"error": "red", "warning": "yellow", "info": "cyan"}
            for f in findings:
                row = f"{f.row}\n({f.file}:{f.line})" if f.line and not f.row.endswith(f":{f.line}") else f.row
                table.add_row(f"[{colours[f.severity]}]{f.severity}[/]", f.rule, row, f"{f.message}\n[dim]→ {f.fix}[/]")
            console.print(table)
        verdict = {0: "clean", 1: "failures", 2: "warnings only"}[code]
        console.print(f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} info: {verdict}")
    sys.exit(code)


@fleet.group()
def drain() -> None:
    """Plan the drain of a host (dry run)."""


@drain.command("plan")
@REGISTER_OPTION
@click.option("--host", "hosts", multiple=True, help="Host to drain (repeatable; default: every frozen host).")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "json", "dot", "mermaid"]),
    default="table",
    show_default=True,
)
@click.pass_context
def drain_plan(ctx: click.Context, register_path: Path | None, hosts: tuple[str, ...], output_format: str) -> None:
    """Workloads to move off the host(s) in waves; dependencies leave after their dependents."""
    from devhub.fleet.drain import plan_drain
    from devhub.fleet.drain_render import to_dot, to_mermaid, to_table

    plan = plan_drain(_load(ctx, register_path), list(hosts) or None)
    if output_format == "json":
        _echo_json(plan.as_dict())
    elif output_format == "dot":
        click.echo(to_dot(plan), nl=False)
    elif output_format == "mermaid":
        click.echo(to_mermaid(plan), nl=False)
    else:
        console = _console()
        console.print(to_table(plan))
        for note in plan.notes:
            console.print(f"note: {note}")


@fleet.group()
def tunnels() -> None:
    """Render and probe ops-bridge tunnels."""


def _recommend(register: Register, *, err: bool) -> str | None:
    from devhub.fleet.tunnels import mesh_recommendation

    text = mesh_recommendation(register)
    if text:
        click.echo(text, err=err)
    return text


@tunnels.command("render")
@REGISTER_OPTION
@click.option("--host", required=True, help="The origin host whose tunnels to render.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["systemd", "ops-bridge"]),
    default="systemd",
    show_default=True,
)
@click.option(
    "--output",
    "output_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write the files into DIR instead of printing them.",
)
@click.pass_context
def tunnels_render(
    ctx: click.Context, register_path: Path | None, host: str, output_format: str, output_dir: Path | None
) -> None:
    """systemd units (one per tunnel) or an ops-bridge tunnels.yaml for the tunnels leaving HOST."""
    from devhub.fleet.tunnels import render_ops_bridge, render_systemd

    register = _load(ctx, register_path)
    files = (
        [("tunnels.yaml", render_ops_bridge(register, host))]
        if output_format == "ops-bridge"
        else render_systemd(register, host)
    )
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        for name, text in files:
            (output_dir / name).write_text(text, encoding="utf-8")
            click.echo(f"wrote {output_dir / name}", err=True)
    else:
        for position, (name, text) in enumerate(files):
            click.echo(("\n" if position else "") + f"# file: {name}")
            click.echo(text, nl=False)
    if not files:
        click.echo(f"no tunnels originate at {host}", err=True)
    # Goes to stderr so the rendered files on stdout stay clean.
    _recommend(register, err=True)


@tunnels.command("probe")
@REGISTER_OPTION
@click.option("--tunnel", "names", multiple=True, help="Probe only this tunnel (repeatable).")
@click.option("--host", help="Probe only the tunnels originating at HOST.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable results.")
@click.pass_context
def tunnels_probe(
    ctx: click.Context, register_path: Path | None, names: tuple[str, ...], host: str | None, as_json: bool
) -> None:
    """Run each tunnel's health check concurrently; exit 0 when all are up, 1 otherwise."""
    from devhub.errors import RegisterError
    from devhub.fleet.probe import run_probes
    from devhub.fleet.tunnels import mesh_recommendation

    register = _load(ctx, register_path)
    unknown = [name for name in names if name not in register.tunnels]
    if unknown:
        raise RegisterError("--tunnel", f"unknown tunnel {', '.join(repr(n) for n in unknown)}")
    chosen = [
        t
        for name, t in sorted(register.tunnels.items())
        if (not names or name in names) and (host is None or t.origin_host == host)
    ]
    results = run_probes(chosen)
    counts = {s: sum(1 for r in results if r.state == s) for s in ("up", "down", "timeout")}
    code = 0 if counts["up"] == len(results) else 1
    if as_json:
        _echo_json(
            {
                "results": [r.as_dict() for r in results],
                "summary": counts,
                "recommendation": mesh_recommendation(register),
                "exit_code": code,
            }
        )
    else:
        from rich.table import Table

        table = Table(title=f"tunnel probes: {register.source}")
        for column in ("Tunnel", "Check", "State", "Latency", "Detail"):
            table.add_column(column, overflow="fold")
        colours = {"up": "green", "down": "red", "timeout": "yellow"}
        for r in results:
            table.add_row(r.tunnel, r.check, f"[{colours[r.state]}]{r.state}[/]", f"{r.latency_ms:.0f} ms", r.detail)
        console = _console()
        console.print(table)
        console.print(
            f"{counts['up']} up, {counts['down']} down, {counts['timeout']} timeout of {len(results)} tunnels"
        )
        _recommend(register, err=False)
    sys.exit(code)


# `accept` lives in its own module (another helper's capability); one `fleet` group serves both.
fleet.add_command(accept)
fleet.add_command(db)  # -- fleet database --
