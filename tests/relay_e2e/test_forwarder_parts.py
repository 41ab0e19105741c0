"""The relay's parts in-process: answer classification, Retry-After, the position file, token-change resume."""

from __future__ import annotations

import ast
import asyncio
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from relay.backoff import Backoff, CrashPlan
from relay.dead_letters import DeadLetters
from relay.forwarder import Forwarder, ForwarderTunables, Hold, Send
from relay.journal import Journal
from relay.position import Position, PositionFile
from relay.upstream import Answer, Upstream, UpstreamRequest, Verdict, classify, retry_after_seconds
from tests.relay_e2e.scripted_upstream import Reply, scripted_upstream


@pytest.mark.parametrize(
    ("status", "headers", "verdict"),
    [
        (200, {}, Verdict.ACK),
        (201, {}, Verdict.ACK),
        (204, {}, Verdict.ACK),
        (409, {"idempotent-replayed": "true"}, Verdict.ACK),
        (409, {}, Verdict.DEAD),
        (400, {}, Verdict.DEAD),
        (404, {}, Verdict.DEAD),
        (413, {}, Verdict.DEAD),
        (422, {}, Verdict.DEAD),
        (401, {}, Verdict.PAUSE),
        (403, {}, Verdict.PAUSE),
        (408, {}, Verdict.RETRY),
        (429, {}, Verdict.RETRY),
        (500, {}, Verdict.RETRY),
        (503, {}, Verdict.RETRY),
    ],
)
def test_answer_table(status: int, headers: dict[str, str], verdict: Verdict) -> None:
    assert classify(Answer(status, headers, "")) is verdict


def test_a_409_body_saying_replayed_is_an_acknowledgement() -> None:
    assert classify(Answer(409, {}, '{"code": "already_applied"}')) is Verdict.ACK
    assert classify(Answer(409, {}, '{"detail": "key reused with a different body"}')) is Verdict.DEAD


def test_retry_after_in_seconds_and_as_an_http_date() -> None:
    assert retry_after_seconds(Answer(503, {"retry-after": "7"})) == 7.0
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds(Answer(503, {"retry-after": later}), now=now.timestamp()) == pytest.approx(30)
    assert retry_after_seconds(Answer(503, {"retry-after": "soon"})) is None
    assert retry_after_seconds(Answer(503, {})) is None


def test_backoff_grows_and_never_passes_the_cap() -> None:
    backoff = Backoff(cap=2.0, initial=0.1)
    assert backoff.delay(0) == 0.0
    delays = [backoff.delay(n) for n in range(1, 30)]
    assert all(0 < d <= 2.0 for d in delays)
    assert max(delays[-10:]) > delays[0]


def test_crash_plan_rejects_bad_values() -> None:
    assert CrashPlan.parse("") is None
    assert CrashPlan.parse("after_ack:2") == CrashPlan("after_ack", 2)
    for bad in ("after_ack", "nowhere:1", "after_send:0", "after_send:x"):
        with pytest.raises(ValueError, match="expected <point>:<n>"):
            CrashPlan.parse(bad)


def test_position_survives_a_reload_and_the_journal_cli_reads_its_watermark(tmp_path: Path) -> None:
    position = Position()
    for seq in (1, 2, 4, 5, 7):
        position.finish(seq)
    assert position.snapshot() == (2, (4, 5, 7))
    stored = PositionFile(tmp_path / "cursor")
    stored.store(position.snapshot())
    again = stored.load()
    assert again.snapshot() == (2, (4, 5, 7)) and again.is_done(5) and not again.is_done(3)
    assert PositionFile(tmp_path / "cursor").load().watermark == 2  # what `devhub journal compact` relies on
    (tmp_path / "cursor").write_bytes(b"garbage\n")
    assert PositionFile(tmp_path / "cursor").load().snapshot() == (0, ())  # resend, never skip


def test_relay_package_imports_nothing_from_devhub() -> None:
    for path in Path("relay").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not any(n == "devhub" or n.startswith("devhub.") for n in names), path


async def _post_progress(envelope: dict[str, Any]) -> Send | Hold:
    return Send(UpstreamRequest("POST", "/progress/", envelope["body"], envelope["idempotency_key"]))


def _progress_forwarder(tmp_path: Path, journal: Journal, upstream_url: str, token: Any = lambda: None) -> Forwarder:
    """A forwarder relaying every envelope as POST /progress/, its files under tmp_path/relay."""
    return Forwarder(
        journal=journal,
        position_file=PositionFile(tmp_path / "relay" / "cursor"),
        dead_letters=DeadLetters(tmp_path / "relay" / "dead.jsonl"),
        upstream=Upstream(upstream_url, timeout=2, token=token),
        route=_post_progress,
        order_key=lambda e: None,
        token=token,
        settings=ForwarderTunables(backoff_cap=0.3),
    )


def test_a_changed_token_lifts_an_auth_pause_without_relay_now(tmp_path: Path) -> None:
    asyncio.run(_token_change(tmp_path))


async def _token_change(tmp_path: Path) -> None:
    tokens = ["old"]
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        upstream.scripts["first"] = [Reply(401, body={"detail": "token expired"})]
        journal.append({"kind": "progress", "idempotency_key": "k1", "body": {"summary": "first"}})

        forwarder = _progress_forwarder(tmp_path, journal, upstream.url, token=lambda: tokens[0])
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["state"] == "auth_failed")
            tokens[0] = "new"  # rotated: no `relay now`, no new write
            await _until(lambda: forwarder.status().to_json()["pending"] == 0)
            calls = upstream.calls_for("first")
            assert [c.headers["authorization"] for c in calls] == ["Bearer old", "Bearer new"]
        finally:
            await forwarder.stop()
        assert PositionFile(tmp_path / "relay" / "cursor").load().watermark == 1


async def _until(condition: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def test_a_journal_cut_below_the_cursor_does_not_hide_new_writes(tmp_path: Path) -> None:
    """An acknowledged, relayed last line lost to bit rot: its seq is not reused, and new writes go out."""
    asyncio.run(_cut_tail(tmp_path))


async def _cut_tail(tmp_path: Path) -> None:
    with scripted_upstream() as upstream:
        with Journal.open(tmp_path / "journal") as journal:
            for n in (1, 2):
                journal.append({"kind": "progress", "idempotency_key": f"old-{n}", "body": {"summary": f"old-{n}"}})
        PositionFile(tmp_path / "relay" / "cursor").store((2, ()))  # both were relayed
        segment = sorted((tmp_path / "journal").glob("*.jsonl"))[-1]
        data = segment.read_bytes()
        last = data.rstrip(b"\n").rfind(b"\n") + 1
        segment.write_bytes(data[:last] + data[last:].replace(b"old-2", b"old-X"))  # a bit rot in the last line
        with Journal.open(tmp_path / "journal") as journal:
            assert journal.last_seq == 2  # the damaged last line was cut at open, its seq kept burned
            fresh = journal.append({"kind": "progress", "idempotency_key": "new", "body": {"summary": "new"}})
            assert fresh["seq"] == 3

            forwarder = _progress_forwarder(tmp_path, journal, upstream.url)
            await forwarder.start()
            try:
                await _until(
                    lambda: len(upstream.calls_for("new")) == 1 and forwarder.status().to_json()["pending"] == 0
                )
            except AssertionError:
                raise AssertionError(f"{forwarder.status()} calls={upstream.calls_for('new')}") from None
            finally:
                await forwarder.stop()
            assert upstream.calls_for("old-1") == []  # relayed before: not sent again


def test_a_cursor_ahead_of_the_journal_rewinds_instead_of_skipping(tmp_path: Path) -> None:
    """The journal lost records the cursor had passed (restored from an older copy): writes made from then on
    still go out, although their seqs are at or below the old cursor."""
    asyncio.run(_cursor_ahead(tmp_path))


async def _cursor_ahead(tmp_path: Path) -> None:
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        PositionFile(tmp_path / "relay" / "cursor").store((5, ()))

        forwarder = _progress_forwarder(tmp_path, journal, upstream.url)
        await forwarder.start()
        try:
            envelope = journal.append(
                {"kind": "progress", "idempotency_key": "after-restore", "body": {"summary": "after-restore"}}
            )
            assert envelope["seq"] == 1
            forwarder.offer([envelope])
            await _until(
                lambda: len(upstream.calls_for("after-restore")) == 1 and forwarder.status().to_json()["pending"] == 0
            )
        finally:
            await forwarder.stop()
        assert PositionFile(tmp_path / "relay" / "cursor").load().watermark == 1


@pytest.mark.parametrize("same_journal", [True, False])
def test_the_cursor_knows_which_envelope_it_stopped_at(tmp_path: Path, same_journal: bool) -> None:
    """A journal replaced by an old copy is noticed by the envelope id at the cursor: everything is resent."""
    asyncio.run(_diverged(tmp_path, same_journal))


async def _diverged(tmp_path: Path, same_journal: bool) -> None:
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        first = journal.append({"kind": "progress", "idempotency_key": "k1", "body": {"summary": "one"}})
        second = journal.append({"kind": "progress", "idempotency_key": "k2", "body": {"summary": "two"}})
        delivered_id = second["id"] if same_journal else "01a2277d43933d83e8d73e0d612fc2f1"
        PositionFile(tmp_path / "relay" / "cursor").store((2, ()), watermark_id=delivered_id)
        assert PositionFile(tmp_path / "relay" / "cursor").load().watermark_id == delivered_id

        forwarder = _progress_forwarder(tmp_path, journal, upstream.url)
        await forwarder.start()
        try:
            third = journal.append({"kind": "progress", "idempotency_key": "k3", "body": {"summary": "three"}})
            forwarder.offer([third])
            await _until(lambda: len(upstream.calls_for("three")) == 1 and forwarder.status().to_json()["pending"] == 0)
        finally:
            await forwarder.stop()
        resent = 0 if same_journal else 1
        assert (len(upstream.calls_for("one")), len(upstream.calls_for("two"))) == (resent, resent)
        assert first["seq"] == 1
        position = PositionFile(tmp_path / "relay" / "cursor").load()
        assert (position.watermark, position.watermark_id) == (3, third["id"])
