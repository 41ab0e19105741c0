"""`devhub writeback` and `devhub brief`: files reconcile the hubs."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from devhub.cli import output
from devhub.cli.main import CliState
from devhub.reconcile.writeback import Change
from devhub.settings import Settings

if TYPE_CHECKING:
    from devhub.service.port import HubPort

SETTLE_TIMEOUT_SECONDS = 15.0


def _config(ctx: click.Context) -> Settings:
    state: CliState = ctx.obj
    config: Settings = state.config()
    return config


async def _caught_up(hub: HubPort, change: Change) -> bool:
    from devhub.errors import DevhubError

    item: Mapping[str, Any]
    try:
        if change.kind == "task":
            item = await hub.task(change.id, change.repo)
        else:
            item = await hub.workplan(change.id, change.repo)
    except DevhubError:
        return False
    return bool(item.get("file_status") == change.new_word and item.get("status_source") == "file")


def settle(config: Settings, changes: list[Change], timeout: float) -> list[Change]:
    """Bring the read model up to the edited files; returns the changes the hub has not read yet.

    Opening the hub without a daemon syncs the read model from the files at once; a running
    daemon's watcher reads them on its own, so this waits (up to `timeout`) until it shows every
    new file value.
    """
    import asyncio

    from devhub.service.open import open_hub

    async def wait() -> list[Change]:
        waiting = list(changes)
        deadline = time.monotonic() + timeout
        async with open_hub(config) as hub:
            while True:
                waiting = [change for change in waiting if not await _caught_up(hub, change)]
                if not waiting or time.monotonic() >= deadline:
                    return waiting
                await asyncio.sleep(0.1)  # polling the hub, with the deadline above

    return asyncio.run(wait())


def _print_report(report: dict[str, Any]) -> None:
    verb = "would write" if report["dry_run"] else "wrote"
    for change in report["changes"]:
        click.echo(
            f"{verb} {change['repo']}/{change['path']}:{change['line']}  {change['id']}: "
            f"{change['old_word'] or '(none)'} -> {change['new_word']}"
        )
    for commit in report["commits"]:
        if commit["sha"]:
            click.echo(f"committed {commit['repo']} {commit['sha'][:12]}: {commit['message'].splitlines()[0]}")
        else:
            click.echo(f"not committed {commit['repo']}: {commit['error']}", err=True)
    for refusal in report["conflicts"]:
        where = f"{refusal['repo']}/{refusal['path']}" + (f":{refusal['line']}" if refusal["line"] else "")
        if not refusal["path"]:
            where = refusal["repo"]
        click.echo(
            f"conflict {where}  {refusal['kind']} {refusal['id']} (local {refusal['value']!r}): {refusal['reason']}",
            err=True,
        )
    for item in report["skipped"]:
        click.echo(f"skipped {item['kind']} {item['id']}: {item['reason']}", err=True)
    for change in report["not_settled"]:
        click.echo(f"note: the daemon has not read {change['id']}'s new value yet; its watcher will", err=True)
    if not (report["changes"] or report["conflicts"] or report["skipped"]):
        click.echo("nothing to write back: no pending local status changes")


@click.command()
@click.option("--dry-run", is_flag=True, help="Print the diff of every file that would change; write nothing.")
@click.option(
    "--commit", "do_commit", is_flag=True, help="Commit the edits, one commit per repo (GIT_CUSTODIAN_SYNC=1)."
)
@click.option("--repo", help="Only this registered repo (slug).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=SETTLE_TIMEOUT_SECONDS,
    show_default=True,
    help="With a daemon running: how long to wait for it to read the edited files.",
)
@click.pass_context
def writeback(
    ctx: click.Context, dry_run: bool, do_commit: bool, repo: str | None, as_json: bool, wait_seconds: float
) -> None:
    """Write pending local status changes into the workplan files (exit 0 done, 1 conflicts, 2 usage)."""
    from devhub.cli.hub import with_hub
    from devhub.reconcile import writeback as wb
    from devhub.reconcile import writeback_create as wbc

    if dry_run and do_commit:
        raise click.UsageError("--dry-run and --commit exclude each other")
    config = _config(ctx)

    async def pending(hub: HubPort) -> wb.PendingJson:
        return await hub.pending_writeback(repo)

    inputs = wbc.inputs_from_json(with_hub(ctx, pending))
    created = inputs.created
    plan = wb.plan_writeback(inputs.pending, max_file_bytes=config.max_workplan_bytes)
    commits: list[wb.CommitResult] = []
    not_settled: list[Change] = []
    if dry_run:
        created_plan = wbc.plan_created(created, inputs.uuid_of, max_file_bytes=config.max_workplan_bytes)
        dependency_plan = wbc.plan_dependencies(inputs.dependencies, max_file_bytes=config.max_workplan_bytes)
        changes = created_plan.changes + plan.changes + dependency_plan.changes
    else:
        written = wb.apply_plan(plan)
        created_plan = wbc.plan_created(
            created,
            inputs.uuid_of,
            max_file_bytes=config.max_workplan_bytes,
            just_written=[(edit.repo, edit.path) for edit in written],
        )
        written += wbc.apply_created(created_plan)
        dependency_plan = wbc.plan_dependencies(
            inputs.dependencies,
            max_file_bytes=config.max_workplan_bytes,
            just_written=[(edit.repo, edit.path) for edit in written],
        )
        written += wb.apply_plan(dependency_plan)
        changes = [change for edit in written for change in edit.changes]
        if do_commit and written:
            commits = wb.commit_edits(written)
        if written:
            # A dependency edit has no status to wait for; the watcher reads it with the rest.
            not_settled = settle(config, [c for c in changes if c.kind != "dependency"], wait_seconds)
    plan.refusals += created_plan.refusals + dependency_plan.refusals
    plan.edits += created_plan.edits + dependency_plan.edits
    failed_commits = [c for c in commits if c.error]
    code = 1 if plan.refusals or failed_commits else 0
    report = {
        "dry_run": dry_run,
        "changes": wb.as_dicts(changes),
        "conflicts": wb.as_dicts(plan.refusals),
        "skipped": plan.skipped,
        "commits": wb.as_dicts(commits),
        "not_settled": wb.as_dicts(not_settled),
        "exit_code": code,
    }
    if dry_run:
        report["diff"] = "".join(edit.diff() for edit in plan.edits)
    if as_json:
        output.emit_json(report)
    else:
        if dry_run and report["diff"]:
            click.echo(report["diff"], nl=False)
        _print_report(report)
    sys.exit(code)


@click.command()
@click.option("--repo", help="Only this registered repo (slug); default: every registered repo.")
@click.option("--write", "do_write", is_flag=True, help=f"Write <repo>/{'.custodian-brief.md'} (only when it changes).")
@click.pass_context
def brief(ctx: click.Context, repo: str | None, do_write: bool) -> None:
    """The offline orientation brief per repo: printed, or written to .custodian-brief.md with --write."""
    from devhub.cli.hub import with_hub
    from devhub.reconcile.brief import BRIEF_FILE, write_if_changed
    from devhub.reconcile.repos import UnknownRepo

    async def collect(hub: HubPort) -> list[tuple[str, str, str]]:
        paths = {row["slug"]: row["path"] for row in await hub.repos()}
        if repo is not None:
            if repo not in paths:
                raise UnknownRepo(
                    f"no registered repo with slug {repo!r} (registered: {', '.join(sorted(paths)) or 'none'})"
                )
            paths = {repo: paths[repo]}
        return [(slug, path, await hub.brief(slug)) for slug, path in sorted(paths.items())]

    briefs = with_hub(ctx, collect)
    for index, (slug, path, text) in enumerate(briefs):
        if do_write:
            target = Path(path) / BRIEF_FILE
            changed = write_if_changed(target, text)
            click.echo(f"{'wrote' if changed else 'unchanged'} {target} ({slug})")
        else:
            click.echo(("\n" if index else "") + text, nl=False)
