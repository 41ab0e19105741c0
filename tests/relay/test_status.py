"""RelayStatus: the queue computed once (count_queue), read from disk with no daemon, and its JSON round trip."""

from __future__ import annotations

from pathlib import Path

from relay.dead_letters import DeadLetters
from relay.journal import Journal
from relay.position import Holds, Position, PositionFile
from relay.status import RelayActivity, RelayStatus, count_queue, read_queue
from tests.relay.helpers import make_fields

ACTIVITY = RelayActivity(
    last_success="2026-12-01T10:00:00.000Z",
    last_error="upstream answered 503",
    last_status=503,
    sent=7,
    delivered=5,
    retries=1,
    consecutive_failures=2,
    last_failure="upstream answered 503",
    last_failure_at="2026-12-01T10:00:01.000Z",
    failing_envelope_id="abc",
    failing_seq=4,
    failing_attempts=2,
    state_since="2026-12-01T09:00:00.000Z",
    backoff_cap_seconds=15.0,
)


def _data_dir(tmp_path: Path) -> Path:
    """Ten journaled envelopes; 1-3 finished, 5 and 7 delivered past a hold on 4, 2 a dead letter."""
    with Journal.open(tmp_path / "journal") as journal:
        for number in range(10):
            journal.append(make_fields(number))
    position = Position()
    for seq in (1, 2, 3, 5, 7):
        position.finish(seq)
    holds = Holds.of(2, {4: "no state_hub_task_id", 6: "waiting behind an earlier held write"})
    PositionFile(tmp_path / "relay" / "cursor").store(position.snapshot(), holds=holds)
    DeadLetters(tmp_path / "relay" / "dead_letters.jsonl").add({"seq": 2, "id": "dead-2"}, 422, "no")
    return tmp_path


def test_the_queue_on_disk_counts_what_was_delivered_past_a_hold(tmp_path: Path) -> None:
    data_dir = _data_dir(tmp_path)
    queue, problem = read_queue(data_dir / "journal", data_dir / "relay")
    assert problem is None
    assert (queue.pending, queue.held, queue.dead_letters) == (5, 2, 1)  # 4 6 8 9 10; 5 and 7 are finished
    assert (queue.cursor, queue.finished_above_cursor) == (3, 2)
    assert dict(queue.hold_reasons) == {4: "no state_hub_task_id", 6: "waiting behind an earlier held write"}
    assert queue.oldest_pending_age_seconds is not None and queue.oldest_pending_age_seconds >= 0
    assert queue.is_finished(5) and not queue.is_finished(4)


def test_nothing_on_disk_is_an_empty_queue(tmp_path: Path) -> None:
    queue, problem = read_queue(tmp_path / "journal", tmp_path / "relay")
    assert problem is None
    assert (queue.pending, queue.held, queue.dead_letters, queue.oldest_pending_age_seconds) == (0, 0, 0, None)


def test_held_never_exceeds_pending() -> None:
    queue = count_queue(
        last_seq=4, position=Position(4), dead_letters=0, holds=Holds(3, {2: "x"}), oldest_pending_ts=None
    )
    assert (queue.pending, queue.held, dict(queue.hold_reasons)) == (0, 0, {})


def test_the_json_keeps_the_get_relay_keys_and_reads_back(tmp_path: Path) -> None:
    data_dir = _data_dir(tmp_path)
    queue, _ = read_queue(data_dir / "journal", data_dir / "relay")
    live = RelayStatus(state="stuck", upstream="http://fleet", queue=queue, activity=ACTIVITY)
    document = live.to_json()
    assert list(document) == [
        "state", "upstream", "pending", "held", "dead_letters", "oldest_pending_age_seconds", "last_success",
        "last_error", "last_status", "sent", "delivered", "retries", "consecutive_failures", "last_failure",
        "last_failure_at", "failing_envelope_id", "failing_seq", "failing_attempts", "cursor",
        "finished_above_cursor", "state_since", "backoff_cap_seconds", "held_reasons",
    ]  # fmt: skip
    assert document["held_reasons"] == [
        {"seq": 4, "reason": "no state_hub_task_id"},
        {"seq": 6, "reason": "waiting behind an earlier held write"},
    ]
    assert RelayStatus.from_json(document).to_json() == document

    reason = "fleet role: this hub is authoritative"
    disabled = RelayStatus.disabled(reason, None)
    assert disabled.to_json() == {"state": "disabled", "reason": reason, "upstream": None}
    assert RelayStatus.from_json(disabled.to_json()) == disabled

    stopped = RelayStatus(state="stopped", reason="no daemon runs", queue=queue).to_json()
    assert "upstream" not in stopped and "sent" not in stopped
    assert (stopped["pending"], stopped["held"], stopped["dead_letters"], stopped["cursor"]) == (5, 2, 1, 3)
    assert RelayStatus.from_json(stopped).to_json() == stopped
