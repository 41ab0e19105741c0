"""Capped, jittered exponential backoff (tenacity's wait strategies) and the crash-test hook.

"Equal jitter": half of each delay grows exponentially, the other half is random, and
the sum never exceeds the cap — so after the upstream comes back the relay notices it
within `cap` seconds, while many laptops do not probe in lockstep.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import tenacity

CRASH_POINTS = ("after_send", "after_ack", "cursor_write")


class Backoff:
    """Delays for attempt 1, 2, 3… growing from `initial` to at most `cap` seconds; attempt 0 is immediate."""

    def __init__(self, cap: float, initial: float = 0.1) -> None:
        self.cap = max(0.0, cap)
        half = self.cap / 2
        self._wait = tenacity.wait_exponential(multiplier=initial, max=half) + tenacity.wait_random_exponential(
            multiplier=initial, max=half
        )
        self._state = tenacity.RetryCallState(retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={})

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt number `attempt` (0 means at once)."""
        if attempt <= 0 or self.cap == 0:
            return 0.0
        self._state.attempt_number = attempt
        return float(min(self.cap, self._wait(self._state)))


@dataclass
class CrashPlan:
    """Test hook: exit the process (status 137, like kill -9) the `at`-th time `point` is reached."""

    point: str
    at: int
    _seen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> CrashPlan | None:
        """`after_send:3` -> CrashPlan; None for an empty value; ValueError naming the problem otherwise."""
        if not text:
            return None
        point, _, count = text.partition(":")
        if point not in CRASH_POINTS or not count.isdigit() or int(count) < 1:
            raise ValueError(
                f"crash hook {text!r}: expected <point>:<n> with point one of {', '.join(CRASH_POINTS)} and n >= 1"
            )
        return cls(point, int(count))

    def reached(self, point: str) -> None:
        """Count one pass through `point`; on the chosen one, die without cleanup."""
        if point != self.point:
            return
        self._seen[point] = self._seen.get(point, 0) + 1
        if self._seen[point] == self.at:
            # Straight to stderr: a log record may sit in a queue that os._exit never drains.
            print(f"relay test hook: crashing at {point} #{self.at}", file=sys.stderr, flush=True)
            os._exit(137)
