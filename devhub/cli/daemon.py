"""CLI commands for the daemon: up, down, status, demo, and the relay's status/now."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from devhub.cli import output
from devhub.cli.main import CliState
from devhub.errors import ConfigError, DaemonError, RegistryError
from devhub.settings import Settings

if TYPE_CHECKING:
    from relay.status import RelayStatus

START_TIMEOUT_SECONDS = 60.0


def _state(ctx: click.Context) -> CliState:
    state: CliState = ctx.obj
    return state


def _prepare_registration(config: Settings, paths: tuple[str, ...]) -> None:
    """SPEC §4: PATHs are registered first; else the current directory if it is a repo with workplans/."""
    from devhub.registry import Registry

    registry = Registry(config.registry_path)
    if paths:
        for outcome in registry.register(paths):
            for warning in outcome.warnings:
                click.echo(f"warning: {warning}", err=True)
            click.echo(f"registered {outcome.repo.slug} ({outcome.repo.path})", err=True)
    if registry.repos():
        return
    cwd = Path.cwd()
    if (cwd / "workplans").is_dir():
        outcome = registry.register([cwd])[0]
        click.echo(f"registered the current directory as {outcome.repo.slug}", err=True)
        return
    raise RegistryError(
        "nothing to serve: no repos are registered. Register checkouts with `devhub register PATH…` "
        "(a folder of repos works), pass them to `devhub up PATH…`, or run `devhub up` inside a repo "
        "that has a workplans/ folder"
    )


@click.command()
@click.argument("paths", nargs=-1)  # checked by the registry, as `devhub register` checks them
@click.option("--host", default=None, help="Address to bind (default 127.0.0.1; non-loopback needs DEVHUB_TOKEN).")
@click.option("--port", type=int, default=None, help="Port (default 8000; 0 picks a free one).")
@click.option("--profile", "profile_name", default=None, help="Profile: dev or fleet (or one of yours).")
@click.option(
    "--role", type=click.Choice(["dev", "fleet"]), default=None, help="dev relays upstream; fleet is authoritative."
)
@click.option("--upstream", default=None, help="Relay upstream URL (overrides the profile; env DEVHUB_UPSTREAM).")
@click.option("--no-relay", is_flag=True, help="Do not relay buffered writes upstream.")
@click.option("--detach", is_flag=True, help="Run in the background; logs go to the data dir's daemon.log.")
@click.option(
    "--database",
    default=None,
    metavar="postgresql://…",
    help="Fleet role: keep the authoritative state in this PostgreSQL (env DEVHUB_DATABASE_URL).",
)
@click.pass_context
def up(
    ctx: click.Context,
    paths: tuple[str, ...],
    host: str | None,
    port: int | None,
    profile_name: str | None,
    role: str | None,
    upstream: str | None,
    no_relay: bool,
    detach: bool,
    database: str | None,
) -> None:
    """Start the hub daemon (one per data directory)."""
    from devhub.daemon.run import Daemon

    state = _state(ctx)
    config = state.config(
        host=host,
        port=port,
        role=role,
        upstream=upstream,
        profile=profile_name,
        no_relay=no_relay or None,
        database_url=database,
    )
    if config.database_url and config.role != "fleet":
        raise ConfigError(
            "--database / DEVHUB_DATABASE_URL: only a fleet hub keeps its state in PostgreSQL; add --role fleet "
            "(a dev hub keeps its writes in its journal)"
        )
    _prepare_registration(config, paths)
    if detach:
        _detach(ctx, config)
        return
    code = Daemon(config).run()
    sys.exit(code)


def _detach(ctx: click.Context, config: Settings) -> None:
    """Re-run this `up` without --detach in a new session, and wait until it answers."""
    from devhub.daemon.spawn import DaemonExited, DaemonSilent, spawn_daemon

    args = [a for a in sys.argv[1:] if a != "--detach"]
    env = {**os.environ, "DEVHUB_DATA_DIR": str(config.data_dir), "DEVHUB_CONFIG_DIR": str(config.config_dir)}
    child = spawn_daemon(args, data_dir=config.data_dir, log_path=config.log_path, env=env, detach=True)
    try:
        url = child.wait_until_answering(START_TIMEOUT_SECONDS, token=config.token, poll=0.1, health_timeout=1.0)
    except DaemonExited:
        raise DaemonError("the daemon exited during start-up:\n" + _last_lines(child.log_since_start())) from None
    except DaemonSilent:
        child.proc.terminate()
        raise click.ClickException(
            f"the daemon did not answer within {START_TIMEOUT_SECONDS:.0f}s; see {config.log_path}"
        ) from None
    click.echo(f"devhub running in the background: pid {child.pid}, {url} (log: {config.log_path})")


def _last_lines(text: str, max_lines: int = 15) -> str:
    """The last lines of what this start wrote to its log."""
    return "\n".join(text.splitlines()[-max_lines:]) or "(it wrote nothing to its log)"


@click.command()
@click.option("--timeout", default=20.0, show_default=True, help="Seconds to wait for a graceful stop.")
@click.pass_context
def down(ctx: click.Context, timeout: float) -> None:
    """Stop the daemon gracefully (SIGTERM, then wait for it to let go of the data directory)."""
    from devhub.daemon.spawn import DaemonSilent, stop_running

    config = _state(ctx).config()
    try:
        pid = stop_running(config.data_dir, timeout)
    except DaemonSilent as silent:
        raise click.ClickException(f"the daemon (pid {silent.pid}) did not stop within {timeout:.0f}s") from None
    if pid is None:
        click.echo(f"no devhub daemon runs for {config.data_dir}")
        return
    click.echo(f"stopped devhub (pid {pid})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The daemon's URL, PID, repos, counts, watcher and relay state (exit 3 when not running)."""
    import asyncio

    from devhub.daemon.discovery import lock_holder
    from devhub.service.remote import RemoteHub

    config = _state(ctx).config()
    holder = lock_holder(config.data_dir)
    if not holder or not holder.get("url"):
        waiting = _relay_on_disk(config)
        if as_json:
            output.emit_json({"running": False, "data_dir": str(config.data_dir), "relay": waiting.to_json()})
        else:
            click.echo(f"devhub is not running for {config.data_dir} (start it with `devhub up`)")
            click.echo("relay: " + _relay_line(waiting))
        sys.exit(3)
    hub = RemoteHub(str(holder["url"]), config.token, timeout=5.0)

    async def ask() -> tuple[dict[str, Any], dict[str, Any]]:
        return await hub.daemon_status(), await hub.summary()

    daemon, summary = asyncio.run(ask())
    if as_json:
        output.emit_json({"running": True, "daemon": daemon, "summary": summary})
        return
    from relay.status import RelayStatus

    relay = RelayStatus.from_json(daemon["relay"])
    tasks = summary["tasks"]
    lines = [
        f"devhub {daemon['role']} hub running: {daemon['url']} (pid {daemon['pid']}, profile {daemon['profile']})",
        f"data dir: {daemon['data_dir']}",
        f"repos ({len(daemon['repos'])}): {', '.join(daemon['repos']) or '-'}" + _missing_text(daemon),
        f"workplans: {summary['workplans']['total']}  tasks: {tasks['total']} "
        f"({', '.join(f'{k} {v}' for k, v in tasks['by_status'].items())}; ready {tasks['ready']})",
        f"problems: {summary['problems']['errors']} errors, {summary['problems']['warnings']} warnings; "
        f"conflicts: {summary['conflicts']}",
        f"watcher: {daemon['watcher'].get('mode')} ({daemon['watcher'].get('roots', 0)} roots)"
        + (f" — {daemon['watcher']['warning']}" if daemon["watcher"].get("warning") else ""),
        "relay: " + _relay_line(relay),
    ]
    read_model = daemon.get("read_model") or {"state": "ok"}
    if read_model["state"] != "ok":
        lines.append(f"read model: {read_model['state']} — {read_model.get('reason')}")
    click.echo("\n".join(lines))


def _missing_text(daemon: dict[str, Any]) -> str:
    missing = daemon.get("missing_repos") or []
    if not missing:
        return ""
    names = ", ".join(f"{repo['slug']} ({repo['path']})" for repo in missing)
    return f"; missing: {names} — re-create the folder, or `devhub unregister SLUG`"


def _relay_line(relay: RelayStatus) -> str:
    """The relay's state on one line, for `devhub status` and `devhub relay status|now`."""
    queue, activity = relay.queue, relay.activity
    if queue is None:
        return f"{relay.state} ({relay.reason})"
    oldest = queue.oldest_pending_age_seconds
    if activity is None:  # no relay runs: what waits on disk
        held = f", held {queue.held}" if queue.held else ""
        age = f", oldest pending {oldest:.0f}s" if oldest is not None else ""
        return f"{relay.state}: {relay.reason}; pending {queue.pending}{held}{age}, dead letters {queue.dead_letters}"
    parts = [relay.state, f"pending {queue.pending}", f"held {queue.held}", f"dead letters {queue.dead_letters}"]
    if oldest is not None:
        parts.append(f"oldest pending {oldest:.0f}s")
    if activity.retries:
        parts.append(f"retries {activity.retries}")
    if activity.consecutive_failures:
        parts.append(f"failures in a row {activity.consecutive_failures}")
    if relay.upstream:
        parts.append(f"→ {relay.upstream}")
    if activity.last_error:
        parts.append(f"last error: {activity.last_error}")
    return ", ".join(parts)


def _snapshot_line(snapshot: dict[str, Any]) -> str:
    """The fleet snapshot's age and counts on one line (devhub/service/fleet_snapshot.py)."""
    age = snapshot.get("age_seconds")
    when = f"as of {snapshot.get('as_of')} ({age:.0f}s ago)" if age is not None else "never fetched"
    counts = snapshot.get("counts") or {}
    line = f"fleet snapshot {when}, {'STALE' if snapshot.get('stale') else 'fresh'}"
    line += ", " + ", ".join(f"{name} {n}" for name, n in counts.items())
    if snapshot.get("last_error"):
        line += f"; last error: {snapshot['last_error']}"
    return line


@click.group()
def relay() -> None:
    """The relay of buffered writes to the upstream State Hub."""


@relay.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def relay_status(ctx: click.Context, as_json: bool) -> None:
    """State, pending, held, dead letters, oldest pending age, last success and error, upstream."""
    import asyncio

    from devhub.daemon.discovery import lock_holder
    from devhub.service.remote import RemoteHub
    from relay.status import RelayStatus

    config = _state(ctx).config()
    holder = lock_holder(config.data_dir)
    if holder and holder.get("url"):
        status = RelayStatus.from_json(asyncio.run(RemoteHub(str(holder["url"]), config.token, timeout=10.0).relay()))
    else:
        status = _relay_on_disk(config)
    if as_json:
        output.emit_json(status.to_json())
        return
    click.echo(_relay_line(status))
    if isinstance(status.extra.get("snapshot"), dict):  # -- fleet snapshot --
        click.echo(_snapshot_line(status.extra["snapshot"]))
    activity = status.activity
    if activity is None:
        return
    if activity.last_success:
        click.echo(f"last success: {activity.last_success}")
    if activity.last_error:
        click.echo(f"last error: {activity.last_error}")
    if activity.last_failure and activity.last_failure != activity.last_error:
        click.echo(f"last failure ({activity.last_failure_at}): {activity.last_failure}")


def _relay_on_disk(config: Settings) -> RelayStatus:
    """What the journal, the position file and the dead letters say when no daemon runs: the queue for `up`."""
    from relay.status import RelayStatus, read_queue

    queue, problem = read_queue(config.journal_dir, config.relay_dir)
    if problem:
        click.echo(f"warning: {problem}", err=True)
    reason = f"no daemon runs for {config.data_dir}; `devhub up` relays the queue"
    return RelayStatus(state="stopped", reason=reason, queue=queue)


@relay.command("now")
@click.pass_context
def relay_now(ctx: click.Context) -> None:
    """Wake the relay now (also resumes it after an auth failure)."""
    import asyncio

    from devhub.service.remote import RemoteHub
    from relay.status import RelayStatus

    data = asyncio.run(RemoteHub.for_running(_state(ctx).config(), timeout=10.0).relay_now())
    click.echo(_relay_line(RelayStatus.from_json(data)))


@click.command()
@click.argument("repos", nargs=-1, type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workspace", type=click.Path(path_type=Path), default=Path("demo-workspace"), show_default=True)
@click.pass_context
def demo(ctx: click.Context, repos: tuple[Path, ...], port: int, workspace: Path) -> None:
    """Serve a demo workspace built from fixtures/ (relay off), or your REPOS (your profile's relay)."""
    if repos:
        # Real checkouts: the user's own data and config dirs, and the relay as the profile says.
        args = [sys.executable, "-m", "devhub", "up", "--port", str(port), *[str(p) for p in repos]]
    else:
        from devhub.cli.demo import build_demo_workspace

        workspace = workspace.resolve()
        paths = build_demo_workspace(workspace)
        # Fixture data must never be relayed to a real fleet hub: own dirs, relay off.
        data_dir, config_dir = workspace / ".devhub" / "data", workspace / ".devhub" / "config"
        click.echo(f"demo workspace: {workspace} ({len(paths)} repos; relay off)", err=True)
        args = [
            sys.executable,
            "-m",
            "devhub",
            "--data-dir",
            str(data_dir),
            "--config-dir",
            str(config_dir),
            "up",
            "--port",
            str(port),
            "--no-relay",
            *[str(p) for p in paths],
        ]
    os.execv(sys.executable, args)
