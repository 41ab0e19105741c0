"""`devhub fleet accept`: judge an acceptance spec from evidence alone (exit 0 holds, 1 fails, 2 unusable)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from devhub.fleet.accept import AcceptReport


ROUNDTRIP_OPTIONS = ("writes", "backoff_cap", "dev_port", "fleet_port", "keep", "fleet_database")


@click.command("accept")
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Acceptance spec (YAML): window, preconditions, probes. Required unless --dev-roundtrip.",
)
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    metavar="PATH|GLOB|URL",
    help="JSONL file, directory, glob (quoted) or hub URL; repeat for several.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run's journal as JSON.")
@click.option(
    "--dev-roundtrip",
    is_flag=True,
    help="Instead: start a fresh dev hub offline, write, start a fleet hub, check the relay delivers.",
)
@click.option(
    "--writes",
    type=click.IntRange(min=1, max=10_000),
    default=100,
    show_default=True,
    help="--dev-roundtrip: writes made offline (half progress events, half task status changes).",
)
@click.option(
    "--backoff-cap",
    type=click.FloatRange(min=0.05, max=60),
    default=1.0,
    show_default=True,
    help="--dev-roundtrip: the dev relay's backoff cap in seconds.",
)
@click.option(
    "--dev-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="--dev-roundtrip: the dev hub's port (default: a free one).",
)
@click.option(
    "--fleet-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="--dev-roundtrip: the fleet hub's port (default: a free one; it must be free).",
)
@click.option("--keep", is_flag=True, help="--dev-roundtrip: keep the temporary directory (workspaces, logs).")
@click.option(
    "--fleet-database",
    default=None,
    metavar="postgresql://…",
    help="--dev-roundtrip: run the fleet hub on this (empty) PostgreSQL database.",
)
@click.pass_context
def accept(
    ctx: click.Context,
    spec_path: Path | None,
    evidence: tuple[str, ...],
    as_json: bool,
    dev_roundtrip: bool,
    writes: int,
    backoff_cap: float,
    dev_port: int | None,
    fleet_port: int | None,
    keep: bool,
    fleet_database: str | None,
) -> None:
    """Evaluate an acceptance spec from evidence: exit 0 when everything holds, 1 when a check fails,
    2 when the spec or the evidence is unusable. With --dev-roundtrip, run the offline-then-reconnect
    round trip on this machine instead (same exit codes; 2 when it could not run)."""
    if dev_roundtrip:
        if spec_path is not None or evidence:
            raise click.UsageError("--dev-roundtrip takes no --spec or --evidence")
        from devhub.testing.roundtrip import run_dev_roundtrip
        from devhub.testing.roundtrip_render import render_roundtrip

        result = run_dev_roundtrip(
            ctx.obj.config(),
            writes=writes,
            backoff_cap=backoff_cap,
            keep=keep,
            dev_port=dev_port,
            fleet_port=fleet_port,
            fleet_database=fleet_database,
        )
        if as_json:
            import json

            click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        else:
            render_roundtrip(result)
        ctx.exit(0 if result["verdict"] == "pass" else 1)
    stray = [
        f"--{name.replace('_', '-')}"
        for name in ROUNDTRIP_OPTIONS
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]
    if stray:
        raise click.UsageError(f"{', '.join(stray)}: only with --dev-roundtrip")
    if spec_path is None:
        raise click.UsageError("--spec is required (or run --dev-roundtrip)")
    from devhub.fleet.accept import evaluate
    from devhub.fleet.accept_spec import load_spec
    from devhub.fleet.evidence import EvidenceReader, resolve_sources

    spec = load_spec(spec_path)
    sources = resolve_sources(evidence)
    reader = EvidenceReader(sources, spec.start, spec.end)
    report = evaluate(spec, reader.events(), reader.stats)
    if as_json:
        import json

        click.echo(json.dumps(report.as_journal(), indent=2, ensure_ascii=False))
    else:
        render(report)
    ctx.exit(0 if report.holds else 1)


def render(report: AcceptReport) -> None:
    """Print the report for people: one row per check, tolerances with observed values, then evidence."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from devhub.fleet.accept_spec import format_duration
    from devhub.fleet.evidence import iso_z

    # Pipes get a wide fixed width so lines do not wrap mid-value in logs.
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 140, highlight=False)
    spec = report.spec
    console.print(Text(spec.title, style="bold"))
    console.print(
        f"window {iso_z(spec.start)} → {iso_z(spec.end)} ({format_duration(spec.duration)})",
        f" spec {spec.source}",
        markup=False,
    )
    table = Table(show_lines=True)
    table.add_column("check")
    table.add_column("verdict")
    table.add_column("observed vs required")
    for check in report.checks:
        label = check.name if check.kind == "probe" else f"{check.name} ({check.kind})"
        verdict = Text("PASS", style="green") if check.holds else Text("FAIL", style="bold red")
        detail = Text()
        for index, tolerance in enumerate(check.tolerances):
            if index:
                detail.append("\n")
            detail.append(tolerance.text)
            if not tolerance.holds:
                detail.append(" FAIL", style="bold red")
        for note in check.notes:
            detail.append(f"\n  {note}", style="dim" if check.holds else "yellow")
        table.add_row(Text(label), verdict, detail)
    console.print(table)

    stats = report.stats
    sources = []
    if stats.files:
        sources.append(f"{stats.files} file{'s' if stats.files != 1 else ''}, {stats.lines} lines")
    if stats.urls:
        sources.append(
            f"{stats.urls} hub{'s' if stats.urls != 1 else ''}, {stats.pages} page{'s' if stats.pages != 1 else ''}"
        )
    outside = stats.before_window + stats.after_window
    console.print(
        f"evidence: {'; '.join(sources)}; {stats.in_window} events in window, "
        f"{outside} outside (ignored), {stats.malformed} malformed"
    )
    for example in stats.malformed_examples:
        console.print(f"  malformed {example}", markup=False)
    if stats.malformed > len(stats.malformed_examples):
        console.print(f"  … and {stats.malformed - len(stats.malformed_examples)} more malformed")
    failed = report.failed
    if failed:
        names = ", ".join(check.name for check in failed)
        console.print(
            Text(
                f"ACCEPTANCE FAILS: {len(failed)} of {len(report.checks)} checks failed: {names}",
                style="bold red",
            )
        )
    else:
        console.print(Text(f"ACCEPTANCE HOLDS: all {len(report.checks)} checks pass", style="bold green"))
