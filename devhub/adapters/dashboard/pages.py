"""What each dashboard page shows, gathered from the same store queries the REST API serves."""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from devhub.adapters.dashboard import charts, markdown
from devhub.adapters.dashboard.graph import dependency_svg, short_id
from devhub.model import PRIORITIES, WORKPLAN_STATUSES
from devhub.service.hub import Hub
from devhub.service.local import LocalHub
from devhub.service.relay_samples import JournalBacklog, seconds_since
from relay.errors import JournalError
from relay.status import RelayQueue, RelayStatus

# Workplan ids and qualified task ids in running text (a display aid; the parser owns the real rules).
_MENTION = re.compile(
    r"(?<![A-Za-z0-9-])((?:[A-Z][A-Z0-9]*-)+WP-\d+|ADHOC-\d{4}-\d{2}-\d{2})(-(?:T\d+[A-Za-z]?|P\d+(?:\.\d+)+))?"
    r"(?![A-Za-z0-9])"
)
RELAY_ENVELOPES_SHOWN = 200


def workplan_href(ident: str, repo: str | None = None) -> str:
    query = f"?{urlencode({'repo': repo})}" if repo else ""
    return f"/ui/workplans/{quote(ident)}{query}"


def task_href(ident: str, repo: str | None = None) -> str:
    query = f"?{urlencode({'repo': repo})}" if repo else ""
    return f"/ui/tasks/{quote(ident)}{query}"


class IdLinker:
    """Turns workplan and task ids in escaped text into links, for ids whose workplan this hub knows."""

    def __init__(self, index: list[dict[str, Any]]) -> None:
        self.repos: dict[str, list[str]] = {}
        for workplan in index:
            self.repos.setdefault(workplan["id"], []).append(workplan["repo"])

    def href(self, target: str) -> str | None:
        """The page for a workplan or task id, or None when its workplan is not in this hub."""
        match = _MENTION.fullmatch(target)
        if not match or match[1] not in self.repos:
            return None
        repos = self.repos[match[1]]
        repo = repos[0] if len(repos) == 1 else None
        return task_href(target, repo) if match[2] else workplan_href(target, repo)

    def __call__(self, escaped_text: str) -> str:
        def link(match: re.Match[str]) -> str:
            href = self.href(match[0])
            return f'<a href="{escape(href)}">{match[0]}</a>' if href else match[0]

        return _MENTION.sub(link, escaped_text)


def age_text(seconds: float | None) -> str:
    """A duration for people: `42 s`, `7 min`, `3 h 5 min`, `2 d 4 h`."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 90:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def relay_overview(
    status: RelayStatus, pending_from_journal: int | None, oldest_ts: Any, journal_problem: str | None = None
) -> dict[str, Any]:
    """The relay box: state, why, queue depth and the oldest pending age, whether or not a relay runs."""
    queue, activity = status.queue, status.activity
    if queue is None:  # no relay counts: nothing was acknowledged, so the whole journal waits
        pending, held, dead = pending_from_journal, None, None
        oldest_age = seconds_since(oldest_ts) if pending else None
    else:
        pending, held, dead = queue.pending, queue.held, queue.dead_letters
        oldest_age = queue.oldest_pending_age_seconds
    return {
        "state": status.state,
        "disabled": status.state == "disabled",
        "reason": status.reason,
        "upstream": status.upstream,
        "pending": pending,
        "held": held,
        "dead_letters": dead,
        "oldest_pending_age": age_text(oldest_age) if pending else "—",
        "last_success": activity.last_success if activity else None,
        "last_error": activity.last_error if activity else None,
        "retries": activity.retries if activity else None,
        "consecutive_failures": activity.consecutive_failures if activity else None,
        "journal_problem": journal_problem,
    }


async def overview(port: LocalHub, backlog: JournalBacklog, by: str = "workplan") -> dict[str, Any]:
    """Everything the overview page shows."""
    hub = port.hub
    timeline = await time_panels(port, by)
    summary = await port.summary()
    workplans = await port.workplans({})
    ready = await port.tasks({"ready": True})
    in_progress = await port.tasks({"status": "progress"})
    needs_human = await port.tasks({"needs_human": True})
    errors = await port.errors()
    problems, conflicts = errors["problems"], errors["conflicts"]
    status = hub.relay_status()  # the typed record (the summary carries its JSON)
    journal_problem = None
    try:
        count, oldest = await asyncio.to_thread(backlog.measure, hub.journal)
    except (JournalError, OSError) as exc:  # the page still shows everything else
        count, oldest, journal_problem = None, None, f"the journal could not be read: {exc}"
    by_status = {state: [w for w in workplans if w["status"] == state] for state in WORKPLAN_STATUSES}
    others = [w for w in workplans if w["status"] not in WORKPLAN_STATUSES]
    if others:
        by_status["unknown"] = others
    ready_by_priority = {p: [t for t in ready if t["priority"] == p] for p in PRIORITIES}
    unprioritised = [t for t in ready if t["priority"] not in PRIORITIES]
    if unprioritised:
        ready_by_priority["none"] = unprioritised
    return {
        "summary": summary,
        "workplans_by_status": {state: items for state, items in by_status.items() if items},
        "ready_by_priority": {p: items for p, items in ready_by_priority.items() if items},
        "ready_count": len(ready),
        "in_progress": in_progress,
        "needs_human": needs_human,
        "problems": problems,
        "conflicts": conflicts,
        "relay": relay_overview(status, count, oldest, journal_problem),
        "conflict_ids": {c["id"] for c in conflicts},
        **timeline,
    }


async def workplan(port: LocalHub, ident: str, repo: str | None) -> dict[str, Any]:
    """One workplan: metadata, tasks with their status source, the graph, and links for its references."""
    plan = await port.workplan(ident, repo)
    linker = IdLinker(await port.workplan_index())
    graph = dependency_svg(plan["id"], plan["tasks"], plan["references"], lambda t: task_href(t["id"], t["repo"]))
    references = [
        ref | {"href": linker.href(ref["target_id"]), "source_short": short_id(ref["source_id"], plan["id"])}
        for ref in plan["references"]
        if ref["kind"] != "sequencing"
    ]
    history = await port.workplan_history(plan["id"], plan["repo"])
    return {
        "plan": plan,
        "graph": graph,
        "history": history,
        "history_svg": charts.history_svg(history),
        "references": references,
        "referenced_by": [ref | {"href": linker.href(ref["source_id"])} for ref in plan["referenced_by"]],
        "body_html": markdown.render(plan.get("body"), linker),
        "short": lambda task_id: short_id(task_id, plan["id"]),
    }


async def task(port: LocalHub, ident: str, repo: str | None) -> dict[str, Any]:
    """One task: body, effective values and their sources, local write history, progress events."""
    item = await port.task(ident, repo)
    events = await port.progress({"task_id": item["id"], "limit": 200})
    linker = IdLinker(await port.workplan_index())
    return {
        "task": item,
        "progress": events,
        "body_html": markdown.render(item.get("body"), linker),
        "workplan_href": workplan_href(item["workplan_id"], item["repo"]),
    }


def hit_href(hit: Mapping[str, Any]) -> str:
    """Where a search hit leads: its task or workplan page (a progress event leads to its workplan)."""
    if hit["kind"] == "task":
        return task_href(hit["id"], hit.get("repo"))
    if hit["kind"] == "workplan":
        return workplan_href(hit["id"], hit.get("repo"))
    return workplan_href(hit["workplan_id"]) if hit.get("workplan_id") else "/"


async def search(port: LocalHub, q: str) -> dict[str, Any]:
    hits = await port.search(q, 50) if q.strip() else []
    return {"q": q, "hits": [hit | {"href": hit_href(hit)} for hit in hits]}


def _journal_tail(journal: Any, queue: RelayQueue | None, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """How many journal envelopes are unfinished, and the newest `limit` of them (all are, without a relay)."""
    if journal is None:
        return 0, []
    tail: deque[dict[str, Any]] = deque(maxlen=limit)
    total = 0
    for record in journal.records(queue.cursor if queue else 0):
        if queue is not None and queue.is_finished(record["seq"]):
            continue
        total += 1
        tail.append(record)
    return total, list(tail)


def _hold_reason(record: Mapping[str, Any], queue: RelayQueue | None, ids_now: Mapping[str, Any]) -> str | None:
    """Why the envelope is held: the relay's own reason, or (no relay) a task without its upstream id."""
    if queue is not None:
        return queue.hold_reasons.get(record["seq"])
    target = record.get("target") or {}
    current = ids_now.get(target.get("id", "")) if target.get("kind") == "task" else None
    if target.get("kind") == "task" and not (current or {}).get("state_hub_task_id"):
        return f"task {target.get('id')} has no state_hub_task_id in its file yet"
    return None


async def relay(hub: Hub) -> dict[str, Any]:
    """The relay page: state, and each pending, held and dead envelope with its details."""
    status = hub.relay_status()
    queue = status.queue
    journal_problem = None
    try:
        total, tail = await asyncio.to_thread(_journal_tail, hub.journal, queue, RELAY_ENVELOPES_SHOWN)
    except (JournalError, OSError) as exc:
        total, tail, journal_problem = 0, [], f"the journal could not be read: {exc}"
    ids_now = {t["id"]: t for t in await LocalHub(hub).tasks({})} if tail and not queue else {}
    envelopes = []
    for record in tail:
        reason = _hold_reason(record, queue, ids_now)
        envelopes.append(
            {
                "record": record,
                "target": record.get("target") or {},
                "held": reason is not None,
                "hold_reason": reason,
                "age": age_text(seconds_since(record.get("ts"))),
            }
        )
    dead = await asyncio.to_thread(hub.relay_dead_letters)
    return {
        "status": status,
        "facts": status.to_json(),
        "disabled": status.state == "disabled",
        "pending_total": total,
        "envelopes": envelopes,
        "shown": len(envelopes),
        "held_count": sum(1 for e in envelopes if e["held"]),
        "dead_letters": dead,
        "acknowledged_seq": queue.cursor if queue else 0,
        "journal_problem": journal_problem,
    }


# -- time and inbox panels (charts.py draws; the numbers are the time reads' JSON) --

INBOX_SHOWN = 20


async def time_panels(port: LocalHub, by: str) -> dict[str, Any]:
    """The activity chart (last 30 days), the relay queue charts (last day) and the unread inbox."""
    activity = await port.activity(30, by)
    relay_history = await port.relay_history(24)
    unread = await port.messages({"unread_only": True, "limit": 200})
    unread.sort(key=lambda m: m.get("created_at") or "", reverse=True)
    groups = activity["groups"]
    return {
        "activity": activity,
        "activity_svg": charts.activity_svg(activity),
        "activity_legend": [(group, charts.series_class(group, groups)) for group in groups],
        "relay_history": relay_history,
        "relay_depth_svg": charts.relay_svg(relay_history, "pending", "Relay queue depth", "writes"),
        "relay_age_svg": charts.relay_svg(
            relay_history, "oldest_pending_age_seconds", "Oldest pending write's age", "seconds"
        ),
        "inbox": unread[:INBOX_SHOWN],
        "inbox_total": len(unread),
    }
