"""What has been failing: consecutive failed calls upstream, and the envelope that keeps failing.

A flaky link shows a few failures in a row that a success resets; a dead one shows them
growing while the relay is offline; an envelope that fails attempt after attempt while the
upstream answers its health probe is *stuck* — the relay reports it by id with the error,
rather than `online` while nothing moves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Failures:
    """Failure counts for the relay status; `stuck` once one envelope failed `stuck_after` attempts in a row."""

    stuck_after: int
    consecutive: int = 0  # failed calls (sends, probes, routing) since the last one that succeeded
    last_reason: str | None = None  # kept after a success: a flaky link stays visible
    last_at: float | None = None
    envelope_seq: int | None = None  # the envelope whose attempts are failing, if any
    envelope_id: str | None = None
    envelope_attempts: int = 0

    def failed(self, reason: str, envelope: dict[str, Any] | None = None) -> None:
        """One failed call (or routing attempt), on `envelope` when it was about one."""
        self.consecutive += 1
        self.last_reason, self.last_at = reason, time.time()
        if envelope is None:
            return
        if envelope.get("seq") != self.envelope_seq:
            self.envelope_seq, self.envelope_id, self.envelope_attempts = envelope.get("seq"), envelope.get("id"), 0
        self.envelope_attempts += 1

    def succeeded(self) -> None:
        """A call got a usable answer: the link works."""
        self.consecutive = 0

    def finished(self, seq: int) -> None:
        """The envelope at `seq` is acknowledged, dead-lettered or held: it no longer fails."""
        if seq == self.envelope_seq:
            self.envelope_seq, self.envelope_id, self.envelope_attempts = None, None, 0

    @property
    def stuck(self) -> bool:
        return self.envelope_attempts >= self.stuck_after

    def stuck_error(self) -> str:
        return (
            f"stuck on envelope {self.envelope_id} (seq {self.envelope_seq}): {self.envelope_attempts} attempts in a "
            f"row failed; last: {self.last_reason}"
        )


def short(text: str, limit: int = 300) -> str:
    """`text` on one line, cut to `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def paused_text(problem: str) -> str:
    """The error of an auth pause: what went wrong, and what resumes the relay."""
    return (
        f"{problem} — relay paused; fix the token (the profile's token environment variable) or the upstream's "
        "grant, then run `devhub relay now`"
    )
