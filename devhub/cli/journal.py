"""`devhub journal show | verify | compact`: inspect and maintain the durable write journal.

`show` and `verify` read the segment files without taking the journal's lock,
so they work while the daemon runs; they see a snapshot as of the moment they
read. `compact` needs the lock, so it refuses while the daemon holds it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from devhub.errors import DaemonError

if TYPE_CHECKING:
    from relay.position import Position

SECONDS_PER_DAY = 86400


class JournalInUse(DaemonError):
    """The journal's lock is held (normally by the running daemon)."""


def _position(config: Any) -> tuple[Position, str | None]:
    """The relay's position file (watermark and the seqs finished above it), and why it read as 0 if it did."""
    from relay.position import POSITION_FILE, PositionFile

    stored = PositionFile(config.relay_dir / POSITION_FILE)
    return stored.load(), stored.problem


def _dead_letter_ids(config: Any) -> set[str]:
    from relay.dead_letters import DEAD_LETTERS_FILE, DeadLetters

    entries = DeadLetters(config.relay_dir / DEAD_LETTERS_FILE).entries()
    return {entry.envelope_id for entry in entries if entry.envelope_id is not None}


def _relay_state(record: dict[str, Any], position: Position, dead: set[str]) -> str:
    if record.get("id") in dead:
        return "dead-letter"
    return "relayed" if position.is_done(record["seq"]) else "pending"


@click.group()
def journal() -> None:
    """Inspect, verify and compact the write journal."""


@journal.command()
@click.option("--pending", is_flag=True, help="Only envelopes the relay has not delivered yet.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (full envelopes) for scripts.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Newest N envelopes (with --pending: the next N to relay); 0 for all.",
)
@click.pass_context
def show(ctx: click.Context, pending: bool, as_json: bool, limit: int) -> None:
    """List journaled envelopes with their relay state (reads a snapshot; works while the daemon runs)."""
    from relay.journal import Journal
    from relay.status import count_queue

    config = ctx.obj.config()
    position, problem = _position(config)
    if problem:
        click.echo(f"warning: {problem}", err=True)
    cursor = position.watermark
    snapshot = Journal.open(config.journal_dir, read_only=True)
    records = list(snapshot.records(after_seq=cursor if pending else 0))
    if pending:
        records = [record for record in records if not position.is_done(record["seq"])]
    total = len(records)
    if limit:
        records = records[:limit] if pending else records[-limit:]
    dead = _dead_letter_ids(config)
    queue = count_queue(
        last_seq=snapshot.last_seq,
        position=position,
        dead_letters=len(dead),
        holds=position.holds,
        oldest_pending_ts=None,
    )
    pending_count = queue.pending
    if as_json:
        rows = [{**record, "relay_state": _relay_state(record, position, dead)} for record in records]
        document = {
            "journal": str(config.journal_dir),
            "last_seq": snapshot.last_seq,
            "cursor": cursor,
            "pending": pending_count,
            "shown": len(rows),
            "matching": total,
            "records": rows,
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    title = f"journal {config.journal_dir}: last seq {snapshot.last_seq}, relayed through {cursor}"
    table = Table(title=title, title_justify="left")
    for column in ("seq", "id", "ts", "method", "path", "idempotency key", "relay"):
        table.add_column(column, no_wrap=column in ("seq", "id", "ts"))
    for record in records:
        table.add_row(
            str(record["seq"]),
            str(record.get("id", "")),
            str(record.get("ts", "")),
            str(record.get("method", "")),
            str(record.get("path", "")),
            str(record.get("idempotency_key", "")),
            _relay_state(record, position, dead),
        )
    console = Console(width=200)
    console.print(table)
    shown = f"{len(records)} of {total}" if len(records) < total else str(total)
    console.print(f"{shown} envelope(s) shown; {pending_count} pending relay")


@journal.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Check every line's checksum and the seq sequence (read-only); exit 1 on bad lines or seq gaps."""
    from relay.journal import Journal

    config = ctx.obj.config()
    report = Journal.open(config.journal_dir, read_only=True).verify()
    if as_json:
        document = {
            "journal": str(config.journal_dir),
            "ok": report.ok,
            "ok_lines": report.ok_lines,
            "first_seq": report.first_seq,
            "last_seq": report.last_seq,
            "segments": report.segments,
            "bad_lines": [vars(bad) for bad in report.bad_lines],
            "gaps": [{"after": before, "before": after} for before, after in report.gaps],
            "in_flight_tail_bytes": report.tail_bytes,
            "quarantined_total": report.quarantined_total,
            "summary_problems": report.summary_problems,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        span = f"seq {report.first_seq}..{report.last_seq}" if report.first_seq is not None else "no records"
        click.echo(f"{config.journal_dir}: {report.ok_lines} good line(s), {span}, {report.segments} segment(s)")
        for bad in report.bad_lines:
            click.echo(f"bad line: {config.journal_dir / bad.segment}@{bad.offset} ({bad.length} bytes): {bad.reason}")
        for before, after in report.gaps:
            click.echo(f"seq gap: {before + 1}..{after - 1} missing (between seq {before} and {after})")
        for problem in report.summary_problems:
            click.echo(f"segment summary: {problem}")
        if report.tail_bytes:
            click.echo(f"note: {report.tail_bytes} byte(s) of an incomplete last line (a write in flight, or torn)")
        if report.quarantined_total:
            click.echo(f"note: {report.quarantined_total} corrupt line(s) in {config.journal_dir / 'quarantine.jsonl'}")
        click.echo("ok" if report.ok else "FAILED")
    ctx.exit(0 if report.ok else 1)


@journal.command()
@click.option(
    "--retention-days",
    type=click.FloatRange(min=0),
    default=7.0,
    show_default=True,
    help="Keep relayed segments younger than this.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def compact(ctx: click.Context, retention_days: float, as_json: bool) -> None:
    """Delete segments that are fully relayed and older than the retention (needs the daemon stopped)."""
    from relay.errors import JournalLocked
    from relay.journal import Journal

    config = ctx.obj.config()
    position, problem = _position(config)
    if problem:
        click.echo(f"warning: {problem}", err=True)
    cursor = position.watermark  # only segments wholly at or below it are removed
    try:
        opened = Journal.open(config.journal_dir, max_bytes=config.journal_max_bytes)
    except JournalLocked as exc:
        who = f"pid {exc.pid}" if exc.pid else "another process"
        raise JournalInUse(
            f"the daemon is running ({who}) and holds the journal {config.journal_dir}; "
            "run `devhub down` first, then `devhub journal compact` again"
        ) from None
    with opened:
        report = opened.compact(relayed_through_seq=cursor, older_than_seconds=retention_days * SECONDS_PER_DAY)
    if as_json:
        document = {
            "journal": str(config.journal_dir),
            "relayed_through": cursor,
            "removed": [
                {"segment": info.path.name, "first_seq": info.first_seq, "last_seq": info.last_seq, "bytes": info.bytes}
                for info in report.removed
            ],
            "freed_bytes": report.freed_bytes,
            "remaining_segments": report.remaining_segments,
            "remaining_bytes": report.remaining_bytes,
        }
        click.echo(json.dumps(document, indent=2))
        return
    for info in report.removed:
        click.echo(f"removed {info.path.name} (seq {info.first_seq}..{info.last_seq}, {info.bytes} bytes)")
    click.echo(
        f"compacted: {len(report.removed)} segment(s), {report.freed_bytes} bytes freed; "
        f"{report.remaining_segments} segment(s), {report.remaining_bytes} bytes remain (relayed through {cursor})"
    )
