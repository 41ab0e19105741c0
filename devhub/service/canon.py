"""The task status canon's transition rules, checked when a write is made (not when the fleet refuses it).

State Hub's canon page (docs/task-state-canon-migration.md, 2026-05-25): `cancel` is final;
`done` reopens only by an explicit workflow/profile rule; `blocking_reason` explains a `wait`.
devhub has no reopen rule over the API: a `done` task reopens by editing its workplan file,
which is the truth (docs/decisions.md, "Status canon"). The fleet's error codes for these
refusals were not seen on the public pages; 409 for a forbidden transition and 422 naming
`blocking_reason` are what tests/support/strict_statehub.py answers and what devhub answers.
"""

from __future__ import annotations

from devhub.errors import Conflict

# Statuses a task never leaves through a write, and the one word it may be set to again (a no-op).
FINAL_STATUSES = frozenset({"cancel"})
# `done` reopens only by an explicit rule; devhub knows none, so these targets are all it allows.
DONE_REOPENS_TO: frozenset[str] = frozenset()


def check_transition(task_id: str, current: str | None, target: str) -> None:
    """Refuse (409) a status change the canon forbids; setting the same status again is allowed."""
    if current is None or current == target:
        return
    if current in FINAL_STATUSES:
        raise Conflict(
            f"task {task_id}: cancel is final; it cannot move cancel -> {target} (create a new task for new work)",
            current_status=current,
            requested_status=target,
        )
    if current == "done" and target not in DONE_REOPENS_TO:
        raise Conflict(
            f"task {task_id}: done reopens only by an explicit rule, and done -> {target} is not one; "
            "to reopen it, change its status in the workplan file",
            current_status=current,
            requested_status=target,
        )


def wait_reason_problem(target: str, given: object, existing: str | None) -> str | None:
    """Why a move to `wait` lacks its blocking_reason (None when it has one, here or already on the task)."""
    if target != "wait":
        return None
    if isinstance(given, str) and given.strip():
        return None
    if given is None and existing and existing.strip():
        return None
    return "required for status wait: say what the task waits for"
