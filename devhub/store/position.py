"""Where the read model stands in the journal, and whether the journal still holds that place.

The model records the seq **and** the envelope id of the last envelope it applied. A
journal that ends before that seq (a torn or cut tail, a deleted journal folder) or holds
another envelope there (an older copy put back) no longer describes the model: the
model shows writes the journal lost, and new writes would reuse seqs the model believes
it applied already, so they would never appear.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AppliedPosition:
    """The last journal envelope applied to a read model (seq 0: none yet)."""

    seq: int = 0
    envelope_id: str | None = None  # None in a model written before the id was recorded


def journal_divergence(position: AppliedPosition, records: Callable[[int], Iterable[Mapping[str, Any]]]) -> str | None:
    """Why the journal no longer holds `position` (None when it does, or nothing can be told).

    `records(after_seq)` yields the journal's envelopes after a seq, in seq order. A
    position inside a prefix removed by compaction (fully relayed segments) is trusted:
    compaction never removes the newest segment, so the journal still ends after it.
    """
    if position.seq == 0:
        return None
    at_or_after = next(iter(records(position.seq - 1)), None)
    if at_or_after is None:
        return f"the journal ends before seq {position.seq}, the last envelope this read model applied"
    if at_or_after["seq"] == position.seq:
        if position.envelope_id is not None and at_or_after.get("id") != position.envelope_id:
            return (
                f"the journal holds envelope {at_or_after.get('id')} at seq {position.seq}, not "
                f"{position.envelope_id} that this read model applied (an older or another journal)"
            )
        return None
    first = next(iter(records(0)), None)
    if first is not None and first["seq"] > position.seq:
        return None  # compacted away: the segments that held it were fully relayed
    return f"the journal no longer holds seq {position.seq}, the last envelope this read model applied"
