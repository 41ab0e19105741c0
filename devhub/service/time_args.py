"""The bounds of the time reads' arguments, checked once for REST, the dashboard and any other caller."""

from __future__ import annotations

from devhub.errors import BadRequest
from devhub.service.relay_samples import HISTORY_HOURS_MAX
from devhub.store.timeline import ACTIVITY_GROUPINGS

ACTIVITY_DAYS_MAX = 366


def check_activity_args(days: int, by: str) -> None:
    """`days` within 1..366 and `by` one of workplan/domain, else a 400 naming the parameter."""
    if not 1 <= days <= ACTIVITY_DAYS_MAX:
        raise BadRequest(
            f"query parameter days: {days} is outside 1..{ACTIVITY_DAYS_MAX}",
            {"days": f"between 1 and {ACTIVITY_DAYS_MAX}"},
        )
    if by not in ACTIVITY_GROUPINGS:
        choices = ", ".join(ACTIVITY_GROUPINGS)
        raise BadRequest(f"query parameter by: {by!r} is not one of {choices}", {"by": f"must be one of {choices}"})


def check_relay_hours(hours: int) -> None:
    """`hours` within 1..24 (the samples are kept a day), else a 400."""
    if not 1 <= hours <= HISTORY_HOURS_MAX:
        raise BadRequest(
            f"query parameter hours: {hours} is outside 1..{HISTORY_HOURS_MAX} (samples are kept a day)",
            {"hours": f"between 1 and {HISTORY_HOURS_MAX}"},
        )
