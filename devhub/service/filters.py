"""Read filters as the State Hub takes them: status words through the canon normaliser (aliases such as
`in_progress`, `blocked`, `completed` accepted, as upstream's `normalize_task_status` does in filters),
and `workstream_id` as the legacy name of `workplan_id`. Every adapter's filter goes through here."""

from __future__ import annotations

from devhub.errors import BadRequest
from devhub.model import (
    TASK_STATUS_ALIASES,
    TASK_STATUSES,
    WORKPLAN_STATUS_ALIASES,
    WORKPLAN_STATUSES,
    canonical_task_status,
    canonical_workplan_status,
)


def task_status_filter(value: str | None, name: str = "status") -> str | None:
    """The canonical task status a filter value means; BadRequest naming `name` for an unknown word."""
    if value is None:
        return None
    canonical = canonical_task_status(value)
    if canonical is None:
        words = ", ".join((*TASK_STATUSES, *TASK_STATUS_ALIASES))
        raise BadRequest(f"query parameter {name}: {value!r} is not one of {words}", {name: f"must be one of {words}"})
    return canonical


def workplan_status_filter(value: str | None, name: str = "status") -> str | None:
    """The canonical workplan status a filter value means; BadRequest naming `name` for an unknown word."""
    if value is None:
        return None
    canonical = canonical_workplan_status(value)
    if canonical is None:
        words = ", ".join((*WORKPLAN_STATUSES, *WORKPLAN_STATUS_ALIASES))
        raise BadRequest(f"query parameter {name}: {value!r} is not one of {words}", {name: f"must be one of {words}"})
    return canonical


def one_workplan_id(workplan_id: str | None, workstream_id: str | None) -> str | None:
    """`workplan_id`, or its legacy name `workstream_id`; two different values are refused, not guessed."""
    if workplan_id is not None and workstream_id is not None and workplan_id != workstream_id:
        raise BadRequest(
            f"workplan_id {workplan_id!r} and workstream_id {workstream_id!r} differ; they name the same "
            "thing (workstream is the legacy name): give one",
            {"workstream_id": "must equal workplan_id when both are given"},
        )
    return workplan_id if workplan_id is not None else workstream_id
