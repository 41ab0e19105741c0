"""The fleet dashboard's panels on the overview: blocking decisions, blocked tasks, open workplans by domain
and topic, and recent events — shaped from the real State Hub keys of `GET /state/summary`, so a panel's
numbers are the API's numbers."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from devhub.adapters.dashboard.pages import task_href, workplan_href

NO_GROUP = "(none)"  # a workplan without a domain or topic in its frontmatter


def is_overdue(deadline: str | None, now: datetime) -> bool:
    """True when the deadline (an ISO date or timestamp, as the decision write accepts) has passed.

    A date-only deadline is due at the end of that day (UTC); a timestamp without a zone is read as UTC.
    """
    if not deadline:
        return False
    try:
        when = datetime.fromisoformat(deadline.replace("Z", "+00:00"))
    except ValueError:
        try:
            return date.fromisoformat(deadline) < now.date()
        except ValueError:
            return False
    if len(deadline) == 10:  # fromisoformat also reads a bare date as midnight
        return when.date() < now.date()
    return (when if when.tzinfo else when.replace(tzinfo=UTC)) < now


def event_href(event: Mapping[str, Any]) -> str | None:
    """The page an event is about: its task, else its workplan, else none."""
    if event.get("task_id"):
        return task_href(event["task_id"])
    if event.get("workplan_id"):
        return workplan_href(event["workplan_id"])
    return None


def group_open_workplans(workstreams: list[Mapping[str, Any]]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
    """Open workplans as {domain: {topic: [workplans]}}, both levels sorted, `(none)` last."""
    grouped: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for w in workstreams:
        topics = grouped.setdefault(w.get("domain") or NO_GROUP, {})
        topics.setdefault(w.get("topic_slug") or NO_GROUP, []).append(w)

    def order(name: str) -> tuple[bool, str]:
        return (name == NO_GROUP, name)

    return {
        domain: {topic: grouped[domain][topic] for topic in sorted(grouped[domain], key=order)}
        for domain in sorted(grouped, key=order)
    }


def fleet_panels(summary: Mapping[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """What the four panels show, from the summary the overview already read."""
    now = now or datetime.now(UTC)
    decisions = [d | {"overdue": is_overdue(d.get("deadline"), now)} for d in summary.get("blocking_decisions", [])]
    events = [e | {"href": event_href(e)} for e in summary.get("recent_events", [])]
    open_workplans = summary.get("open_workstreams", [])
    return {
        "blocking_decisions": decisions,
        "overdue_count": sum(1 for d in decisions if d["overdue"]),
        "blocked_tasks": summary.get("blocked_tasks", []),
        "open_by_domain": group_open_workplans(open_workplans),
        "open_count": len(open_workplans),
        "recent_events": events,
    }
