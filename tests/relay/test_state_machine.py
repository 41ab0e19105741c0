"""Property: under any sequence of appends, kills, power losses, full disks and reopens, nothing acked is lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from relay.errors import DiskFull
from relay.journal import Journal
from relay.simfs import CrashSimFileLayer

DIRECTORY = Path("/sim/journal")
SEGMENT_BYTES = 900

summaries = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)


class JournalMachine(RuleBasedStateMachine):
    """The model is the list of acknowledged envelopes; the journal must always hold exactly them."""

    def __init__(self) -> None:
        super().__init__()
        self.fs = CrashSimFileLayer()
        self.journal: Journal | None = Journal.open(DIRECTORY, fs=self.fs, segment_bytes=SEGMENT_BYTES)
        self.acked: list[dict[str, Any]] = []
        self.highest_seq = 0
        self.counter = 0

    def _fields(self, summary: str) -> dict[str, Any]:
        self.counter += 1
        return {
            "idempotency_key": f"k{self.counter}",
            "method": "POST",
            "path": "/progress/",
            "body": {"summary": summary, "n": self.counter},
            "origin": {"agent": "prop"},
            "observed": None,
        }

    def _open(self) -> None:
        self.journal = Journal.open(DIRECTORY, fs=self.fs, segment_bytes=SEGMENT_BYTES)
        assert self.journal.open_report.quarantined == 0  # nothing here corrupts: only torn tails may appear

    def _record(self, envelopes: list[dict[str, Any]]) -> None:
        for envelope in envelopes:
            assert envelope["seq"] > self.highest_seq
            self.highest_seq = envelope["seq"]
        self.acked += envelopes

    @precondition(lambda self: self.journal is not None)
    @rule(summary=summaries)
    def append(self, summary: str) -> None:
        assert self.journal is not None
        try:
            self._record([self.journal.append(self._fields(summary))])
        except DiskFull:
            pass

    @precondition(lambda self: self.journal is not None)
    @rule(summaries_list=st.lists(summaries, min_size=1, max_size=5))
    def append_many(self, summaries_list: list[str]) -> None:
        assert self.journal is not None
        try:
            self._record(self.journal.append_many([self._fields(s) for s in summaries_list]))
        except DiskFull:
            pass

    @precondition(lambda self: self.journal is not None)
    @rule()
    def kill(self) -> None:
        self.journal = None  # dropped without close, as a killed process would
        self.fs.kill_process()
        self._open()

    @precondition(lambda self: self.journal is not None)
    @rule()
    def power_loss(self) -> None:
        self.journal = None
        self.fs.crash()
        self._open()

    @precondition(lambda self: self.journal is not None)
    @rule()
    def reopen(self) -> None:
        assert self.journal is not None
        self.journal.close()
        self._open()

    @rule(room=st.integers(min_value=0, max_value=400))
    def disk_fills_up(self, room: int) -> None:
        self.fs.capacity = self.fs.used_bytes() + room

    @rule()
    def space_returns(self) -> None:
        self.fs.capacity = None

    @invariant()
    def everything_acknowledged_is_present_in_order_once(self) -> None:
        if self.journal is None:
            return
        assert list(self.journal.records()) == self.acked
        assert self.journal.last_seq == (self.acked[-1]["seq"] if self.acked else 0)


JournalMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestJournalMachine = JournalMachine.TestCase
