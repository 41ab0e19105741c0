"""CLI writes: through the running daemon when there is one, else straight into the journal.

Without a daemon the command takes the data-directory lock for the length of one write,
so it is the single writer of both the journal and the read model, exactly like the daemon.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click

from devhub.cli.main import CliState
from devhub.daemon.lockfile import FileLock, FileLockHeld
from devhub.errors import AlreadyRunning, BadRequest
from devhub.settings import Settings


def default_agent() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def submit(
    config: Settings,
    method: str,
    path: str,
    body: dict[str, Any],
    *,
    agent: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Send one write to the daemon if it runs, else apply it locally; returns the REST answer."""
    from devhub.service.idempotency import checked_key
    from devhub.service.local import daemon_holder
    from devhub.service.remote import DaemonClient

    # urllib would send a non-ASCII key as latin-1 bytes; refuse it here with the daemon's own rule.
    idempotency_key = checked_key(idempotency_key, reserve_separator=False)
    agent = agent or default_agent()
    body.setdefault("agent" if method == "PATCH" else "author", agent)
    holder = daemon_holder(config)
    if holder and holder.get("url"):
        headers = {"X-Agent": agent}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        answer: dict[str, Any] = DaemonClient(str(holder["url"]), config.token).request(method, path, body, headers)
        return answer
    return asyncio.run(_submit_locally(config, method, path, body, agent, idempotency_key))


async def _submit_locally(
    config: Settings, method: str, path: str, body: dict[str, Any], agent: str, idempotency_key: str | None
) -> dict[str, Any]:
    from devhub.service.hub import Hub
    from devhub.service.writes import WriteContext

    lock = FileLock(config.lock_path)
    try:
        lock.acquire({"pid": None, "purpose": "cli write"})
    except FileLockHeld as held:
        raise AlreadyRunning(f"another devhub process holds {config.data_dir} ({held.holder}); try again") from None
    hub = Hub(config)
    try:
        await hub.start(serve=False)
        ctx = WriteContext(idempotency_key=idempotency_key, agent=agent, session=None)
        split = urlsplit(path)
        repo = parse_qs(split.query).get("repo", [None])[0]
        parts = [p for p in split.path.split("/") if p]
        if method == "PATCH" and parts[:1] == ["tasks"] and len(parts) == 2:
            outcome = await hub.writes.patch_task(parts[1], repo, body, ctx)
        elif method == "POST" and parts == ["progress"]:
            outcome = await hub.writes.add_progress(body, ctx)
        elif method == "PATCH" and parts[:1] == ["workplans"] and len(parts) == 2:
            outcome = await hub.writes.patch_workplan(parts[1], repo, body, ctx)
        else:
            raise BadRequest(f"the CLI cannot write {method} {path} without a daemon")
        return outcome.body
    finally:
        await hub.stop()
        lock.release()


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
    state: CliState = ctx.obj
    body: dict[str, Any] = {"summary": summary, "event_type": event_type}
    if task_id:
        body["task_id"] = task_id
    if workplan_id:
        body["workplan_id"] = workplan_id
    if author:
        body["author"] = author
    event = submit(state.config(), "POST", "/progress/", body, agent=author, idempotency_key=idempotency_key)
    click.echo(f"recorded {event['event_type']} {event['id']} (pending relay: {event.get('pending_relay')})")
