"""CLI commands for the daemon: up, down, status, demo, and the relay's status/now."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from devhub.cli import output
from devhub.cli.main import CliState
from devhub.errors import DaemonError, NotRunning, RegistryError
from devhub.settings import Settings

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
) -> None:
    """Start the hub daemon (one per data directory)."""
    from devhub.daemon.run import Daemon

    state = _state(ctx)
    config = state.config(
        host=host, port=port, role=role, upstream=upstream, profile=profile_name, no_relay=no_relay or None
    )
    _prepare_registration(config, paths)
    if detach:
        _detach(ctx, config)
        return
    code = Daemon(config).run()
    sys.exit(code)


def _detach(ctx: click.Context, config: Settings) -> None:
    """Re-run this `up` without --detach in a new session, and wait until it answers."""
    from devhub.service.local import daemon_holder

    args = [a for a in sys.argv[1:] if a != "--detach"]
    config.data_dir.mkdir(parents=True, exist_ok=True)
    log = open(config.log_path, "ab")  # noqa: SIM115 - handed to the child
    this_start = log.seek(0, os.SEEK_END)  # what is before is an earlier run's
    child = subprocess.Popen(
        [sys.executable, "-m", "devhub", *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
        env={**os.environ, "DEVHUB_DATA_DIR": str(config.data_dir), "DEVHUB_CONFIG_DIR": str(config.config_dir)},
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise DaemonError("the daemon exited during start-up:\n" + _log_since(config.log_path, this_start))
        holder = daemon_holder(config)
        # Only our child counts: another daemon answering for this data dir is why the child fails.
        if holder and holder.get("pid") == child.pid and holder.get("url") and _answers(str(holder["url"]), config):
            click.echo(f"devhub running in the background: pid {child.pid}, {holder['url']} (log: {config.log_path})")
            return
        time.sleep(0.1)
    child.terminate()
    raise click.ClickException(f"the daemon did not answer within {START_TIMEOUT_SECONDS:.0f}s; see {config.log_path}")


def _log_since(path: Path, offset: int, max_lines: int = 15) -> str:
    """The last lines the log gained after `offset` (this start's, not an earlier run's)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    return "\n".join(lines[-max_lines:]) or "(it wrote nothing to its log)"


def _answers(url: str, config: Settings) -> bool:
    from devhub.service.remote import DaemonClient

    try:
        DaemonClient(url, config.token, timeout=1.0).get("/state/health")
        return True
    except Exception:
        return False


@click.command()
@click.option("--timeout", default=20.0, show_default=True, help="Seconds to wait for a graceful stop.")
@click.pass_context
def down(ctx: click.Context, timeout: float) -> None:
    """Stop the daemon gracefully (SIGTERM, then wait for it to let go of the data directory)."""
    from devhub.service.local import daemon_holder

    config = _state(ctx).config()
    holder = daemon_holder(config)
    if not holder:
        click.echo(f"no devhub daemon runs for {config.data_dir}")
        return
    pid = holder.get("pid")
    if not isinstance(pid, int):
        raise NotRunning(f"the daemon lock for {config.data_dir} is held but names no pid; is a CLI command running?")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not daemon_holder(config):
            click.echo(f"stopped devhub (pid {pid})")
            return
        time.sleep(0.05)
    raise click.ClickException(f"the daemon (pid {pid}) did not stop within {timeout:.0f}s")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The daemon's URL, PID, repos, counts, watcher and relay state (exit 3 when not running)."""
    from devhub.service.local import daemon_holder
    from devhub.service.remote import DaemonClient

    config = _state(ctx).config()
    holder = daemon_holder(config)
    if not holder or not holder.get("url"):
        if as_json:
            output.emit_json({"running": False, "data_dir": str(config.data_dir)})
        else:
            click.echo(f"devhub is not running for {config.data_dir} (start it with `devhub up`)")
        sys.exit(3)
    client = DaemonClient(str(holder["url"]), config.token, timeout=5.0)
    daemon = client.get("/state/daemon")
    summary = client.get("/state/summary")
    if as_json:
        output.emit_json({"running": True, "daemon": daemon, "summary": summary})
        return
    relay = daemon["relay"]
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


def _relay_line(relay: dict[str, Any]) -> str:
    if relay.get("state") == "disabled":
        return f"disabled ({relay.get('reason')})"
    if relay.get("state") == "stopped":
        age = relay.get("oldest_pending_age_seconds")
        oldest = f", oldest pending {age:.0f}s" if age is not None else ""
        return (
            f"stopped: {relay.get('reason')}; pending {relay['pending']}{oldest}, dead letters {relay['dead_letters']}"
        )
    parts = [str(relay.get("state"))]
    for key in ("pending", "held", "dead_letters"):
        if key in relay:
            parts.append(f"{key.replace('_', ' ')} {relay[key]}")
    if relay.get("oldest_pending_age_seconds") is not None:
        parts.append(f"oldest pending {relay['oldest_pending_age_seconds']:.0f}s")
    if relay.get("retries"):
        parts.append(f"retries {relay['retries']}")
    if relay.get("consecutive_failures"):
        parts.append(f"failures in a row {relay['consecutive_failures']}")
    if relay.get("upstream"):
        parts.append(f"→ {relay['upstream']}")
    if relay.get("last_error"):
        parts.append(f"last error: {relay['last_error']}")
    return ", ".join(parts)


@click.group()
def relay() -> None:
    """The relay of buffered writes to the upstream State Hub."""


@relay.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def relay_status(ctx: click.Context, as_json: bool) -> None:
    """State, pending, held, dead letters, oldest pending age, last success and error, upstream."""
    from devhub.service.local import daemon_holder
    from devhub.service.remote import DaemonClient

    config = _state(ctx).config()
    holder = daemon_holder(config)
    if holder and holder.get("url"):
        data = DaemonClient(str(holder["url"]), config.token).get("/relay")
    else:
        data = _relay_on_disk(config)
    if as_json:
        output.emit_json(data)
    else:
        click.echo(_relay_line(data))
        for key in ("last_success", "last_error"):
            if data.get(key):
                click.echo(f"{key.replace('_', ' ')}: {data[key]}")
        if data.get("last_failure") and data.get("last_failure") != data.get("last_error"):
            click.echo(f"last failure ({data.get('last_failure_at')}): {data['last_failure']}")


def _relay_on_disk(config: Settings) -> dict[str, Any]:
    """What the journal and the relay cursor say when no daemon runs: the queue waiting for the next `up`."""
    from datetime import UTC, datetime

    from relay.cursor import Cursor, DeadLetters

    delivered_through = Cursor(config.relay_dir / "cursor").load()
    dead = len(DeadLetters(config.relay_dir / "dead_letters.jsonl").list())
    pending, oldest = 0, None
    if config.journal_dir.exists():
        from relay.journal import Journal

        with Journal.open(config.journal_dir, read_only=True) as journal:
            for record in journal.records(delivered_through):
                pending += 1
                oldest = oldest or record.get("ts")
    age = None
    if oldest:
        age = (datetime.now(UTC) - datetime.fromisoformat(oldest.replace("Z", "+00:00"))).total_seconds()
    return {
        "state": "stopped",
        "reason": f"no daemon runs for {config.data_dir}; `devhub up` relays the queue",
        "pending": pending,
        "dead_letters": dead,
        "oldest_pending_age_seconds": age,
        "cursor": delivered_through,
    }


@relay.command("now")
@click.pass_context
def relay_now(ctx: click.Context) -> None:
    """Wake the relay now (also resumes it after an auth failure)."""
    from devhub.service.remote import DaemonClient

    data = DaemonClient.for_running(_state(ctx).config()).request("POST", "/relay/now", {})
    click.echo(_relay_line(data))


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
