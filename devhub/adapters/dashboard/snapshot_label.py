"""The fleet snapshot's label on the overview's inbox and blocking-decisions panels.

"from the fleet, as of 14:02 UTC (3 min ago)", with `stale` set when the snapshot is older than
DEVHUB_SNAPSHOT_STALE_SECONDS, its last refresh failed, or the upstream is unreachable — the page
then says so, so a copy is never passed off as live. Read from GET /relay's `snapshot` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def age_text(seconds: float | None) -> str:
    """An age as people say it: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    if seconds is None:
        return "never"
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def snapshot_panel(summary: Mapping[str, Any]) -> dict[str, Any]:
    """`fleet_snapshot`: None when this hub keeps no snapshot, else its label, age and whether it is stale."""
    snapshot = (summary.get("relay") or {}).get("snapshot")
    if not isinstance(snapshot, Mapping):
        return {"fleet_snapshot": None}
    as_of = snapshot.get("as_of")
    shown = f"{as_of[:16].replace('T', ' ')} UTC" if isinstance(as_of, str) else "never fetched"
    label = f"from the fleet, as of {shown} ({age_text(snapshot.get('age_seconds'))})"
    return {
        "fleet_snapshot": {
            "label": label,
            "stale": bool(snapshot.get("stale")),
            "as_of": as_of,
            "last_error": snapshot.get("last_error"),
        }
    }
