"""The `devhub` command line: a thin layer that turns flags into calls.

Commands live in their own modules and are imported only when invoked, so
`devhub --help` never pays for litestar, mcp or sqlite-utils.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from devhub.errors import DevhubError

# name -> (module, attribute, one-line help shown by --help without importing the module)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "register": ("devhub.cli.read", "register", "Register repo checkouts (or a folder of repos)."),
    "unregister": ("devhub.cli.read", "unregister", "Forget a registered repo by slug."),
    "repos": ("devhub.cli.read", "repos", "List registered repos with their git state."),
    "rebuild": ("devhub.cli.read", "rebuild", "Rebuild the read model from files and the journal."),
    "verify": ("devhub.cli.read", "verify", "Rebuild into a scratch database and compare counts."),
    "workplans": ("devhub.cli.read", "workplans", "List workplans."),
    "tasks": ("devhub.cli.read", "tasks", "List tasks."),
    "task": ("devhub.cli.read", "task", "Show or set one task."),
    "search": ("devhub.cli.read", "search", "Full-text search over workplans, tasks and progress."),
    "orient": ("devhub.cli.read", "orient", "One-call session start: what is active, ready, stuck."),
    "check": ("devhub.cli.read", "check", "Local consistency checks (exit 0 clean, 2 warnings, 1 errors)."),
    "progress": ("devhub.cli.write", "progress", "Record a progress event."),
    "journal": ("devhub.cli.journal", "journal", "Inspect, verify and compact the write journal."),
    "up": ("devhub.cli.daemon", "up", "Start the hub daemon."),
    "down": ("devhub.cli.daemon", "down", "Stop the hub daemon gracefully."),
    "status": ("devhub.cli.daemon", "status", "Show the daemon's URL, PID, repos, counts, watcher and relay."),
    "demo": ("devhub.cli.daemon", "demo", "Build a demo workspace from fixtures/ and serve it (make dev-hub)."),
    "relay": ("devhub.cli.daemon", "relay", "Relay status, and `relay now` to wake it."),
    "mcp": ("devhub.cli.mcp", "mcp", "Serve MCP over stdio, talking to the local daemon."),
    "profile": ("devhub.cli.profile", "profile", "List, show and switch dev/fleet profiles."),
    "writeback": ("devhub.cli.reconcile", "writeback", "Write pending local status changes into workplan files."),
    "brief": ("devhub.cli.reconcile", "brief", "Produce the offline orientation brief (.custodian-brief.md)."),
    "fleet": ("devhub.cli.fleet", "fleet", "Fleet register: checks, drain plan, tunnels, acceptance."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module_name, attribute, _ = LAZY_COMMANDS[cmd_name]
            module = importlib.import_module(module_name)
            command: click.Command = getattr(module, attribute)
            _accept_directory_options(command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(LAZY_COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


_DIRECTORY_HELP = {
    "data_dir": "Data directory (else DEVHUB_DATA_DIR); same as before the command.",
    "config_dir": "Config directory (else DEVHUB_CONFIG_DIR); same as before the command.",
}


def _set_directory(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None and param.name is not None:
        setattr(ctx.find_object(CliState), param.name, value)


def _accept_directory_options(command: click.Command) -> None:
    """Let `devhub CMD --data-dir D` mean `devhub --data-dir D CMD` (SPEC §4), on every (sub)command."""
    names = {param.name for param in command.params}
    for name, help_text in _DIRECTORY_HELP.items():
        if name not in names:
            flag = "--" + name.replace("_", "-")
            command.params.append(
                click.Option(
                    [flag],
                    type=click.Path(path_type=Path),
                    expose_value=False,
                    callback=_set_directory,
                    help=help_text,
                )
            )
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_directory_options(sub)


class CliState:
    """What the top-level options decided, handed to every command through the click context."""

    def __init__(self, data_dir: Path | None, config_dir: Path | None) -> None:
        self.data_dir = data_dir  # also set by a command's own --data-dir (see _accept_directory_options)
        self.config_dir = config_dir
        self._config: Any = None

    def config(self, **overrides: object) -> Any:
        """The Settings, built once from the environment, the directory options, the given overrides and the
        resolved profile (a command with flags of its own, such as `up`, passes them here)."""
        from devhub.settings import load_settings

        if self._config is None or overrides:
            self._config = load_settings(None, data_dir=self.data_dir, config_dir=self.config_dir, **overrides)  # type: ignore[arg-type]
        return self._config


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(path_type=Path), help="Data directory (else DEVHUB_DATA_DIR).")
@click.option("--config-dir", type=click.Path(path_type=Path), help="Config directory (else DEVHUB_CONFIG_DIR).")
@click.version_option(package_name="devhub")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_dir: Path | None) -> None:
    """devhub: an offline-first local State Hub for workplan files."""
    ctx.obj = CliState(data_dir, config_dir)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: DevhubErrors become one clear line and their exit code."""
    try:
        code = cli.main(args=argv, prog_name="devhub", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except DevhubError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
