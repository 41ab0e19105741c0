"""Named result shapes of the create-work-offline operations at the port boundary."""

from __future__ import annotations

from typing import TypedDict


class DependencyRecord(TypedDict, total=False):
    """One workplan dependency (GET /workplans/{id}/dependencies/): the real hub's from/to names, plus devhub's."""

    id: str  # the prerequisite's workplan id: a (workplan, prerequisite) pair is unique
    from_workstream_id: str  # the workplan that waits
    to_workstream_id: str  # the prerequisite
    workplan_id: str
    depends_on_id: str
    description: str | None
    to_title: str | None  # None when the prerequisite is in no registered repo
    to_status: str | None
    to_state_hub_workstream_id: str | None
    source: str  # file (its `## Dependencies` section) or local (added through the hub, not written back yet)
    line: int | None
    created_at: str | None
