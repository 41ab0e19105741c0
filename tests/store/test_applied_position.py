"""journal_divergence: when a journal still holds the read model's applied position, and when not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devhub.store.position import AppliedPosition, journal_divergence


def _journal(*seqs_and_ids: tuple[int, str]) -> Any:
    def records(after_seq: int) -> Iterator[dict[str, Any]]:
        return iter([{"seq": seq, "id": ident} for seq, ident in seqs_and_ids if seq > after_seq])

    return records


@pytest.mark.parametrize(
    ("position", "journal", "needle"),
    [
        (AppliedPosition(0), _journal(), None),
        (AppliedPosition(2, "b"), _journal((1, "a"), (2, "b"), (3, "c")), None),
        (AppliedPosition(2, None), _journal((1, "a"), (2, "x")), None),  # a model from before ids were kept
        (AppliedPosition(2, "b"), _journal((5, "e"), (6, "f")), None),  # compacted: a relayed prefix went
        (AppliedPosition(3, "c"), _journal((1, "a"), (2, "b")), "ends before seq 3"),
        (AppliedPosition(3, "c"), _journal(), "ends before seq 3"),
        (AppliedPosition(2, "b"), _journal((1, "a"), (2, "other")), "holds envelope other at seq 2"),
        (AppliedPosition(2, "b"), _journal((1, "a"), (3, "c")), "no longer holds seq 2"),  # a hole
    ],
)
def test_divergence(position: AppliedPosition, journal: Any, needle: str | None) -> None:
    reason = journal_divergence(position, journal)
    if needle is None:
        assert reason is None
    else:
        assert reason is not None and needle in reason
