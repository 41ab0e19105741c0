"""CLI writes, through `open_hub`: to the running daemon when there is one, else straight into the journal.

Without a daemon the command holds the data-directory lock for the length of one write, so it
is the single writer of both the journal and the read model, exactly like the daemon.
"""

from __future__ import annotations

import getpass
import socket
from typing import Any

import click


def default_agent() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _writer(agent: str | None, idempotency_key: str | None) -> tuple[str, str | None]:
    """Who writes (default $USER@host) and the Idempotency-Key, refused here by the daemon's own rule."""
    from devhub.service.idempotency import checked_key

    return agent or default_agent(), checked_key(idempotency_key, reserve_separator=False)


@click.command("set")
@click.argument("ident")
@click.argument("status")
@click.option("--note", help="A note recorded with the change.")
@click.option("--blocking-reason", help="What the task waits for (needed for status wait unless it has one).")
@click.option("--repo")
@click.option("--agent", default=None, help="Who makes the change (default: $USER@host).")
@click.pass_context
def task_set(
    ctx: click.Context,
    ident: str,
    status: str,
    note: str | None,
    blocking_reason: str | None,
    repo: str | None,
    agent: str | None,
) -> None:
    """Set a task's status: through the daemon when it runs, else straight into the journal.

    The status canon holds here too: cancel is final, done does not reopen, wait needs a reason.
    """
    from devhub.cli.hub import with_hub

    who, key = _writer(agent, None)
    body: dict[str, Any] = {"status": status}
    if note:
        body["note"] = note
    if blocking_reason is not None:
        body["blocking_reason"] = blocking_reason
    body["agent"] = who
    result = with_hub(ctx, lambda hub: hub.patch_task(ident, repo, body, key, who)).body
    click.echo(
        f"{result.get('id', ident)}: status {result.get('status')} (pending relay: {result.get('pending_relay')})"
    )


@click.command()
@click.argument("summary")
@click.option("--task", "task_id", help="The task this is about (file id or State Hub UUID).")
@click.option("--workplan", "workplan_id", help="The workplan this is about.")
@click.option("--type", "event_type", default="note", show_default=True, help="note, milestone, blocker, insight…")
@click.option("--author", default=None, help="Who reports it (default: $USER@host).")
@click.option("--idempotency-key", default=None, help="Makes a retried command a no-op.")
@click.pass_context
def progress(
    ctx: click.Context,
    summary: str,
    task_id: str | None,
    workplan_id: str | None,
    event_type: str,
    author: str | None,
    idempotency_key: str | None,
) -> None:
    """Record a progress event (journaled; relayed upstream when online)."""
    from devhub.cli.hub import with_hub

    who, key = _writer(author, idempotency_key)
    body: dict[str, Any] = {"summary": summary, "event_type": event_type}
    if task_id:
        body["task_id"] = task_id
    if workplan_id:
        body["workplan_id"] = workplan_id
    body["author"] = who
    event = with_hub(ctx, lambda hub: hub.add_progress(body, key, who)).body
    click.echo(f"recorded {event['event_type']} {event['id']} (pending relay: {event.get('pending_relay')})")
