"""The people's view of a `--dev-roundtrip` report: timings, one row per check, the verdict."""

from __future__ import annotations

import sys
from typing import Any

TIMING_LABELS = {
    "offline_ready_seconds": "dev hub start -> ready offline (GET /state/health)",
    "writes_seconds": "writes made offline",
    "upstream_ready_seconds": "fleet hub start -> answering",
    "first_delivery_seconds": "upstream answering -> first write on the fleet",
    "last_delivery_seconds": "upstream answering -> last write on the fleet",
    "drained_seconds": "upstream answering -> dev relay pending 0",
}


def render_roundtrip(report: dict[str, Any]) -> None:
    """Print the report for people: timings, one row per check, then the verdict."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120, highlight=False)
    counts, settings = report["counts"], report["settings"]
    console.print(Text(report["title"], style="bold"))
    console.print(
        f"{counts.get('accepted', 0)} writes ({counts.get('progress_events', 0)} progress events, "
        f"{counts.get('task_patches', 0)} task status changes on {counts.get('tasks', 0)} tasks); "
        f"relay backoff cap {settings['backoff_cap_seconds']:g}s; dev {settings['dev_url']}, "
        f"fleet {settings['fleet_url']}" + (" on PostgreSQL" if settings.get("fleet_store") == "postgresql" else ""),
        markup=False,
    )
    timings = Table(show_header=True)
    timings.add_column("timing")
    timings.add_column("seconds", justify="right")
    for key, label in TIMING_LABELS.items():
        value = report["timings"].get(key)
        timings.add_row(label, "—" if value is None else f"{value:.3f}")
    console.print(timings)
    checks = Table(show_lines=True)
    checks.add_column("check")
    checks.add_column("verdict")
    checks.add_column("observed")
    checks.add_column("required")
    for check in report["checks"]:
        holds = check["verdict"] == "pass"
        verdict = Text("PASS", style="green") if holds else Text("FAIL", style="bold red")
        checks.add_row(Text(check["name"]), verdict, Text(check["observed"]), Text(check["required"]))
    console.print(checks)
    if settings.get("workdir"):
        console.print(f"kept {settings['workdir']} (daemon logs in dev/ and fleet/)", markup=False)
    failed = report["failed"]
    if failed:
        console.print(
            Text(
                f"ROUND TRIP FAILS: {len(failed)} of {len(report['checks'])} checks failed: " + ", ".join(failed),
                style="bold red",
            )
        )
    else:
        console.print(Text(f"ROUND TRIP HOLDS: all {len(report['checks'])} checks pass", style="bold green"))
