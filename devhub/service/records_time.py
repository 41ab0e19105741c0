"""Named shapes of the time reads: activity per day, a workplan's done/total history, relay queue samples."""

from __future__ import annotations

from typing import TypedDict


class ActivityBucket(TypedDict):
    """What one group (a workplan id or a domain) did on one UTC day."""

    day: str
    group: str
    progress_events: int
    status_changes: int


class ActivityTotals(TypedDict):
    progress_events: int
    status_changes: int


# "from" is a keyword; the functional form lets the TypedDict carry it.
ActivityReport = TypedDict(
    "ActivityReport",
    {
        "days": int,
        "by": str,  # "workplan" or "domain"
        "from": str,
        "to": str,
        "dates": list[str],  # every day of the window, oldest first
        "groups": list[str],  # busiest first
        "buckets": list[ActivityBucket],  # one per (day, group) that saw anything
        "totals": ActivityTotals,
    },
)


class HistoryPoint(TypedDict):
    """The workplan's done/total right after one local status write."""

    ts: str
    done: int
    total: int
    task_id: str
    status: str
    seq: int
    agent: str | None


class WorkplanHistory(TypedDict):
    """GET /workplans/{id}/history."""

    id: str
    repo: str
    tasks_done: int
    tasks_total: int
    done_before_first_write: int
    points: list[HistoryPoint]


class RelaySample(TypedDict):
    ts: str
    state: str
    pending: int | None
    oldest_pending_age_seconds: float | None


class RelayHistory(TypedDict):
    """GET /relay/history: the sampled queue, oldest first."""

    hours: int
    interval_seconds: float
    samples: list[RelaySample]
