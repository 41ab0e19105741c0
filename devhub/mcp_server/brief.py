"""The brief://{repo} resource: the offline orientation brief for one registered repo.

When devhub.reconcile.brief (the `devhub brief` command) is installed its renderer is used;
otherwise the brief is rendered here from the repo's `orient` data, so the resource always works.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from devhub.errors import NotFound

if TYPE_CHECKING:
    from devhub.mcp_server.backend import Backend


async def brief_markdown(backend: Backend, repo: str) -> str:
    """The brief for `repo` (NotFound when no such repo is registered)."""
    slugs = sorted(r["slug"] for r in await backend.repos())
    if repo not in slugs:
        raise NotFound(f"no registered repo with slug {repo!r} (registered: {', '.join(slugs) or 'none'})")
    return render_from_orient(repo, await backend.orient(repo, None))


def _task_line(task: dict[str, Any]) -> str:
    note = f" — needs a person: {task['intervention_note']}" if task.get("needs_human") else ""
    return f"- `{task['id']}` [{task['priority'] or '-'}] {task['title']}{note}"


def render_from_orient(repo: str, data: dict[str, Any]) -> str:
    """A markdown brief built from one `orient` answer scoped to `repo`."""
    lines = [f"# Brief: {repo}", ""]
    lines += ["## Active workplans", ""]
    lines += [
        f"- `{w['id']}` {w['title']} ({w['status']}, {w['tasks_done']}/{w['tasks_total']} done)"
        for w in data["active_workplans"]
    ] or ["- none"]
    for title, key in (("In progress", "in_progress"), ("Ready to start", "ready"), ("Needs a person", "needs_human")):
        lines += ["", f"## {title}", ""]
        lines += [_task_line(t) for t in data[key]] or ["- none"]
    lines += ["", "## Recent progress", ""]
    lines += [
        f"- {p['created_at']} {p['event_type']}: {p['summary']}" + (f" ({p['task_id']})" if p.get("task_id") else "")
        for p in data["recent_progress"]
    ] or ["- none"]
    problems = data["problems"]
    lines += ["", "## Problems", "", f"{problems['errors']} error(s), {problems['warnings']} warning(s)"]
    lines += [f"- {p.get('location') or p.get('path')}: {p.get('message')}" for p in problems["items"]]
    if data["conflicts"]:
        lines += ["", "## Conflicts", ""]
        lines += [f"- {c['kind']} {c['id']}: {c['field']}" for c in data["conflicts"]]
    relay = data.get("relay") or {}
    lines += ["", "## Relay", "", f"state: {relay.get('state', 'unknown')}"]
    return "\n".join(lines) + "\n"
