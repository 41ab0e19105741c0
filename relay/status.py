"""The relay's status, one typed record for every surface: GET /relay, MCP, the CLI, the dashboard.

Two parts. The *queue* — pending, held, dead letters, oldest pending age, the position —
is what the journal, the position file and the dead-letter store say; `count_queue` is
the one computation of it, fed from memory by the running Forwarder and from disk by
`read_queue` when no daemon runs. The *activity* — counters, last success and error, the
failing envelope — exists only while a Forwarder runs and is added by it.

Pending counts every envelope not yet finished (acknowledged or dead-lettered), held
ones included: held is a subset of pending.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from relay.dead_letters import DEAD_LETTERS_FILE, DeadLetters
from relay.journal import Journal
from relay.position import HOLD_REASONS_KEPT, POSITION_FILE, Holds, Position, PositionFile

# idle/online/offline/stuck/auth_failed: a running relay (SPEC §7); stopped: a relay that ended, or no
# daemon runs (the queue waits on disk); disabled: this hub does not relay (fleet role, --no-relay, no upstream).
RelayState = Literal["idle", "online", "offline", "stuck", "auth_failed", "stopped", "disabled"]
RELAY_STATES: tuple[str, ...] = ("idle", "online", "offline", "stuck", "auth_failed", "stopped", "disabled")


@dataclass(frozen=True)
class RelayQueue:
    """What waits: pending (held included), held with reasons, dead letters, oldest pending age, the position."""

    pending: int
    held: int
    hold_reasons: Mapping[int, str]  # seq -> why (every held seq while a relay runs; the first few from disk)
    dead_letters: int
    oldest_pending_age_seconds: float | None
    cursor: int  # every envelope with seq <= cursor is finished
    finished_above_cursor: int
    finished_above: frozenset[int] = frozenset()  # the finished seqs above the cursor (not in the JSON)

    def is_finished(self, seq: int) -> bool:
        """True when the envelope at `seq` was acknowledged or dead-lettered."""
        return seq <= self.cursor or seq in self.finished_above


@dataclass(frozen=True)
class RelayActivity:
    """What only a running relay knows: counters, last success and errors, the envelope that keeps failing."""

    last_success: str | None
    last_error: str | None
    last_status: int | None
    sent: int
    delivered: int
    retries: int
    consecutive_failures: int
    last_failure: str | None
    last_failure_at: str | None
    failing_envelope_id: str | None
    failing_seq: int | None
    failing_attempts: int
    state_since: str | None
    backoff_cap_seconds: float
    next_attempt_in_seconds: float | None = None


@dataclass(frozen=True)
class RelayStatus:
    """The relay's state; `queue` is None when this hub does not relay, `activity` None when no relay runs."""

    state: RelayState
    upstream: str | None = None
    reason: str | None = None  # why no relay runs (disabled, or no daemon)
    queue: RelayQueue | None = None
    activity: RelayActivity | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys a newer daemon sent that this one does not know

    @classmethod
    def disabled(cls, reason: str, upstream: str | None) -> RelayStatus:
        return cls(state="disabled", upstream=upstream, reason=reason)

    def to_json(self) -> dict[str, Any]:
        """The GET /relay document (its keys and their order are the API; the dashboard lists them in order)."""
        if self.queue is None:
            return {"state": self.state, "reason": self.reason, "upstream": self.upstream, **self.extra}
        queue, activity = self.queue, self.activity
        document: dict[str, Any] = {"state": self.state}
        if self.reason is not None:
            document["reason"] = self.reason
        if activity is not None or self.upstream is not None:
            document["upstream"] = self.upstream
        document |= {
            "pending": queue.pending,
            "held": queue.held,
            "dead_letters": queue.dead_letters,
            "oldest_pending_age_seconds": queue.oldest_pending_age_seconds,
        }
        if activity is not None:
            document |= {
                "last_success": activity.last_success,
                "last_error": activity.last_error,
                "last_status": activity.last_status,
                "sent": activity.sent,
                "delivered": activity.delivered,
                "retries": activity.retries,
                "consecutive_failures": activity.consecutive_failures,
                "last_failure": activity.last_failure,
                "last_failure_at": activity.last_failure_at,
                "failing_envelope_id": activity.failing_envelope_id,
                "failing_seq": activity.failing_seq,
                "failing_attempts": activity.failing_attempts,
            }
        document |= {"cursor": queue.cursor, "finished_above_cursor": queue.finished_above_cursor}
        if activity is not None:
            document |= {"state_since": activity.state_since, "backoff_cap_seconds": activity.backoff_cap_seconds}
            if activity.next_attempt_in_seconds is not None:
                document["next_attempt_in_seconds"] = activity.next_attempt_in_seconds
        if queue.hold_reasons:
            document["held_reasons"] = [
                {"seq": seq, "reason": reason} for seq, reason in sorted(queue.hold_reasons.items())[:HOLD_REASONS_KEPT]
            ]
        return document | dict(self.extra)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> RelayStatus:
        """The record behind a GET /relay document (as a daemon's HTTP answer carries it)."""
        known = set(_QUEUE_KEYS) | set(_ACTIVITY_KEYS) | {"state", "upstream", "reason", "held_reasons"}
        state = str(document.get("state"))
        queue = None
        if "pending" in document:
            reasons = {
                int(item["seq"]): str(item["reason"])
                for item in document.get("held_reasons") or []
                if isinstance(item, Mapping) and isinstance(item.get("seq"), int)
            }
            queue = RelayQueue(
                pending=int(document["pending"]),
                held=int(document.get("held") or 0),
                hold_reasons=reasons,
                dead_letters=int(document.get("dead_letters") or 0),
                oldest_pending_age_seconds=document.get("oldest_pending_age_seconds"),
                cursor=int(document.get("cursor") or 0),
                finished_above_cursor=int(document.get("finished_above_cursor") or 0),
            )
        activity = None
        if "sent" in document:
            activity = RelayActivity(**{key: document.get(key, default) for key, default in _ACTIVITY_KEYS.items()})
        return cls(
            state=cast(RelayState, state if state in RELAY_STATES else "stopped"),
            upstream=document.get("upstream"),
            reason=document.get("reason"),
            queue=queue,
            activity=activity,
            extra={key: value for key, value in document.items() if key not in known},
        )


_QUEUE_KEYS = ("pending", "held", "dead_letters", "oldest_pending_age_seconds", "cursor", "finished_above_cursor")
_ACTIVITY_KEYS: dict[str, Any] = {
    "last_success": None,
    "last_error": None,
    "last_status": None,
    "sent": 0,
    "delivered": 0,
    "retries": 0,
    "consecutive_failures": 0,
    "last_failure": None,
    "last_failure_at": None,
    "failing_envelope_id": None,
    "failing_seq": None,
    "failing_attempts": 0,
    "state_since": None,
    "backoff_cap_seconds": 0.0,
    "next_attempt_in_seconds": None,
}


def count_queue(
    *,
    last_seq: int,
    position: Position,
    dead_letters: int,
    holds: Holds,
    oldest_pending_ts: float | None,
    now: float | None = None,
) -> RelayQueue:
    """The queue's figures from the journal's last seq, the position, the dead-letter count and the holds."""
    finished_above = frozenset(seq for seq in position.done_above if seq <= last_seq)
    pending = max(0, last_seq - position.watermark - len(finished_above))
    age = None
    if pending and oldest_pending_ts is not None:
        age = round((time.time() if now is None else now) - oldest_pending_ts, 3)
    return RelayQueue(
        pending=pending,
        held=min(holds.count, pending),
        hold_reasons=dict(holds.reasons) if pending else {},
        dead_letters=dead_letters,
        oldest_pending_age_seconds=age,
        cursor=position.watermark,
        finished_above_cursor=len(finished_above),
        finished_above=finished_above,
    )


def read_queue(journal_dir: Path, relay_dir: Path) -> tuple[RelayQueue, str | None]:
    """The queue as the files say while no relay runs, and a problem reading the position (None when fine).

    The held figures are those of the relay's last pass before it stopped.
    """
    position_file = PositionFile(relay_dir / POSITION_FILE)
    position = position_file.load()
    dead = len(DeadLetters(relay_dir / DEAD_LETTERS_FILE))
    last_seq, oldest = 0, None
    if journal_dir.exists():
        with Journal.open(journal_dir, read_only=True) as journal:
            last_seq = journal.last_seq
            oldest = first_pending_ts(journal.records(position.watermark), position)
    queue = count_queue(
        last_seq=last_seq, position=position, dead_letters=dead, holds=position.holds, oldest_pending_ts=oldest
    )
    return queue, position_file.problem


def first_pending_ts(records: Iterable[Mapping[str, Any]], position: Position) -> float | None:
    """The write time of the first envelope in `records` the position does not mark finished."""
    for record in records:
        if not position.is_done(int(record["seq"])):
            return parse_ts(record.get("ts"))
    return None


def parse_ts(value: Any) -> float | None:
    """An envelope's ISO timestamp as epoch seconds (None when absent or unreadable)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def iso(moment: float | None) -> str | None:
    """Epoch seconds as an ISO timestamp with milliseconds and Z (None stays None)."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
