"""CLI commands over the read model: registration, rebuild/verify, listings, search, orient, check."""

from __future__ import annotations

import sys
from typing import Any

import click

from devhub.cli import output
from devhub.cli.main import CliState
from devhub.cli.write import task_set


def _state(ctx: click.Context) -> CliState:
    state: CliState = ctx.obj
    return state


@click.command()
@click.argument("paths", nargs=-1, required=True)  # strings: Path("") would quietly mean "."
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def register(ctx: click.Context, paths: tuple[str, ...], as_json: bool) -> None:
    """Register repo checkouts; a folder of repos registers each repo one level down (all or nothing)."""
    from devhub.registry import Registry

    config = _state(ctx).config()
    outcomes = Registry(config.registry_path).register(paths)
    if as_json:
        output.emit_json([{"repo": _repo_dict(o.repo), "warnings": list(o.warnings)} for o in outcomes])
        return
    for outcome in outcomes:
        for warning in outcome.warnings:
            click.echo(f"warning: {warning}", err=True)
        repo = outcome.repo
        click.echo(f"registered {repo.slug}  {repo.path}  ({repo.branch or '-'} @ {(repo.head or '-')[:10]})")


def _repo_dict(repo: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(repo)


@click.command()
@click.argument("slug")
@click.pass_context
def unregister(ctx: click.Context, slug: str) -> None:
    """Forget a registered repo (its files are not touched)."""
    from devhub.registry import Registry

    repo = Registry(_state(ctx).config().registry_path).unregister(slug)
    click.echo(f"unregistered {repo.slug} ({repo.path})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def repos(ctx: click.Context, as_json: bool) -> None:
    """Registered repos with their git state and what the read model holds of each."""
    from devhub.cli.hub import with_hub

    rows = with_hub(ctx, lambda hub: hub.repos())
    if as_json:
        output.emit_json(rows)
        return
    if not rows:
        click.echo("no repos registered; run `devhub register PATH…`")
        return
    output.table(
        "Repos",
        ["slug", "branch", "head", "dirty", "workplans", "tasks", "errors", "warnings", "path"],
        [
            [
                r["slug"],
                r["branch"],
                (r["head"] or "")[:10] or None,
                "yes" if r["dirty"] else "no",
                r["workplans"],
                r["tasks"],
                r["errors"],
                r["warnings"],
                r["path"] + (" (missing)" if r.get("missing") else ""),
            ]
            for r in rows
        ],
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def rebuild(ctx: click.Context, as_json: bool) -> None:
    """Rebuild the read model from registered repos plus the journal (nothing is lost by deleting it)."""
    import time

    from devhub.service.local import rebuild_read_model

    config = _state(ctx).config()
    started = time.perf_counter()
    repos_list, report = rebuild_read_model(config)
    elapsed = time.perf_counter() - started
    result = {"repos": len(repos_list), "files": report.seen, "parsed": report.parsed, "seconds": round(elapsed, 3)}
    if as_json:
        output.emit_json(result)
    else:
        click.echo(
            f"rebuilt {config.database_path}: {report.seen} files from {len(repos_list)} repos in {elapsed:.2f}s"
        )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Rebuild into a scratch database and compare it with the live one (exact-count restore)."""
    from devhub.service.local import sync_read_model
    from devhub.service.verify import verify_read_model

    config = _state(ctx).config()
    sync_read_model(config)
    report = verify_read_model(config)
    if as_json:
        output.emit_json(report)
    else:
        output.table(
            "Counts (live vs scratch rebuild)",
            ["what", "live", "rebuilt", "same"],
            [
                [c["what"], c["live"], c["rebuilt"], "yes" if c["live"] == c["rebuilt"] else "NO"]
                for c in report["counts"]
            ],
        )
        if report["drift"]:
            click.echo(f"{len(report['drift'])} row(s) differ:")
            for item in report["drift"][:50]:
                click.echo(f"  {item['table']} {item['key']}: {item['change']}")
        else:
            click.echo("no drift: the live read model equals a rebuild from files + journal")
    sys.exit(1 if report["drift"] else 0)


@click.command()
@click.option("--status")
@click.option("--repo")
@click.option("--domain")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def workplans(ctx: click.Context, status: str | None, repo: str | None, domain: str | None, as_json: bool) -> None:
    """Workplans with done/total task counts."""
    from devhub.cli.hub import with_hub

    rows = with_hub(ctx, lambda hub: hub.workplans({"status": status, "repo": repo, "domain": domain}))
    if as_json:
        output.emit_json(rows)
        return
    output.table(
        f"Workplans ({len(rows)})",
        ["id", "status", "done/total", "repo", "title"],
        [[w["id"], w["status"], f"{w['tasks_done']}/{w['tasks_total']}", w["repo"], w["title"]] for w in rows],
    )


@click.command()
@click.option("--status")
@click.option("--ready", is_flag=True, help="Only ready tasks (todo, workplan active/ready, deps settled).")
@click.option("--workplan", "workplan_id")
@click.option("--repo")
@click.option("--needs-human", is_flag=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def tasks(
    ctx: click.Context,
    status: str | None,
    ready: bool,
    workplan_id: str | None,
    repo: str | None,
    needs_human: bool,
    as_json: bool,
) -> None:
    """Tasks with their effective status (file, or a local write on top)."""
    from devhub.cli.hub import with_hub

    rows = with_hub(
        ctx,
        lambda hub: hub.tasks(
            {
                "status": status,
                "workplan_id": workplan_id,
                "repo": repo,
                "ready": True if ready else None,
                "needs_human": True if needs_human else None,
            }
        ),
    )
    if as_json:
        output.emit_json(rows)
        return
    output.table(
        f"Tasks ({len(rows)})",
        ["id", "status", "source", "priority", "ready", "title"],
        [
            [t["id"], t["status"], t["status_source"], t["priority"], "yes" if t["ready"] else "", t["title"]]
            for t in rows
        ],
    )


@click.group()
def task() -> None:
    """Show or set one task."""


task.add_command(task_set)  # a write: it lives with the other writes in devhub.cli.write


@task.command("show")
@click.argument("ident")
@click.option("--repo")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def task_show(ctx: click.Context, ident: str, repo: str | None, as_json: bool) -> None:
    """One task by file id or State Hub UUID, with where its values came from."""
    from devhub.cli.hub import with_hub

    item = with_hub(ctx, lambda hub: hub.task(ident, repo))
    if as_json:
        output.emit_json(item)
        return
    output.echo(f"[bold]{item['id']}[/bold]  {item['title']}")
    output.echo(f"status: {item['status']} (from {item['status_source']}; file says {item['file_status']})")
    for key in ("priority", "assignee", "state_hub_task_id", "workplan_id", "repo", "ready", "needs_human"):
        output.echo(f"{key}: {item[key]}")
    output.echo(f"file: {item['path']}:{item['line']}")
    if item["depends_on"]:
        output.echo(f"depends on: {', '.join(item['depends_on'])}")
    for conflict in item["conflicts"]:
        output.echo(
            f"[red]conflict[/red] {conflict['field']}: local {conflict['local']!r} vs file {conflict['file']!r}"
        )
    if item["body"]:
        output.echo("")
        output.echo(item["body"])


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def search(ctx: click.Context, query: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Full-text search over workplan and task titles and bodies, and progress summaries."""
    from devhub.cli.hub import with_hub

    text = " ".join(query)
    hits = with_hub(ctx, lambda hub: hub.search(text, limit))
    if as_json:
        output.emit_json(hits)
        return
    output.table(
        f"Search: {text}",
        ["kind", "id", "title", "snippet"],
        [[h["kind"], h["id"], h["title"], h["snippet"]] for h in hits],
    )


@click.command()
@click.option("--repo")
@click.option("--domain")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def orient(ctx: click.Context, repo: str | None, domain: str | None, as_json: bool) -> None:
    """Session start: active workplans, in-progress and ready tasks, flags, conflicts, problems."""
    from devhub.cli.hub import with_hub

    data = with_hub(ctx, lambda hub: hub.orient(repo, domain))
    if as_json:
        output.emit_json(data)
        return
    output.table(
        "Active workplans",
        ["id", "status", "done/total", "title"],
        [[w["id"], w["status"], f"{w['tasks_done']}/{w['tasks_total']}", w["title"]] for w in data["active_workplans"]],
    )
    output.table(
        "In progress", ["id", "priority", "title"], [[t["id"], t["priority"], t["title"]] for t in data["in_progress"]]
    )
    output.table(
        "Ready (by priority)",
        ["id", "priority", "title"],
        [[t["id"], t["priority"], t["title"]] for t in data["ready"]],
    )
    if data["needs_human"]:
        output.table("Needs a human", ["id", "note"], [[t["id"], t["intervention_note"]] for t in data["needs_human"]])
    if data["conflicts"]:
        output.table(
            "Conflicts",
            ["id", "field", "local", "file"],
            [[c["id"], c["field"], c["local_value"], c["file_value_now"]] for c in data["conflicts"]],
        )
    problems = data["problems"]
    click.echo(f"problems: {problems['errors']} errors, {problems['warnings']} warnings (devhub check for details)")


@click.command()
@click.option("--repo")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def check(ctx: click.Context, repo: str | None, as_json: bool) -> None:
    """Local consistency checks; exit 0 clean, 2 warnings only, 1 errors."""
    from devhub.cli.hub import with_hub

    report = with_hub(ctx, lambda hub: hub.check_consistency(repo))
    findings, code = report["findings"], report["exit_code"]
    if as_json:
        output.emit_json(report)
    else:
        if findings:
            output.table(
                f"Findings ({len(findings)})",
                ["rule", "severity", "where", "message", "fix"],
                [
                    [
                        f["rule"],
                        f["severity"],
                        f"{f['repo']}:{f['location']}" if f["location"] else f["repo"],
                        f["message"],
                        f["fix"],
                    ]
                    for f in findings
                ],
            )
        else:
            click.echo("clean: no findings")
    sys.exit(code)
