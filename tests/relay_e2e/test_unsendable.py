"""Envelopes that fail for a local reason are dead letters at once; one that keeps failing makes the relay `stuck`.

In-process: a real Journal (written as an older version could have written it), the real
Upstream over HTTP, a scripted upstream on loopback. Nothing behind a bad envelope may wait.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from relay.dead_letters import DeadLetters
from relay.errors import RouteUnavailable
from relay.forwarder import Forwarder, ForwarderTunables, Hold, Send
from relay.journal import Journal
from relay.position import PositionFile
from relay.upstream import Answer, Upstream, UpstreamRequest
from tests.relay_e2e.scripted_upstream import Reply, scripted_upstream

RouteFn = Any


async def _route_as_recorded(envelope: dict[str, Any]) -> Send | Hold:
    """The envelope's own method, path, body and key, as relay_wiring routes an unknown kind."""
    return Send(
        UpstreamRequest(
            envelope.get("method", "POST"), envelope.get("path", "/progress/"), envelope["body"], envelope["key"]
        )
    )


def _forwarder(
    tmp_path: Path,
    journal: Journal,
    url: str,
    *,
    route: RouteFn = _route_as_recorded,
    token: Any = lambda: None,
    on_ack: Any = None,
    states: list[tuple[str, int]] | None = None,
    in_flight: int = ForwarderTunables.max_in_flight,
) -> Forwarder:
    return Forwarder(
        journal=journal,
        position_file=PositionFile(tmp_path / "relay" / "cursor"),
        dead_letters=DeadLetters(tmp_path / "relay" / "dead.jsonl"),
        upstream=Upstream(url, timeout=2, token=token),
        route=route,
        order_key=lambda e: None,
        token=token,
        settings=ForwarderTunables(backoff_cap=0.3, max_in_flight=in_flight),
        on_ack=on_ack,
        on_change=(lambda status: states.append((status.state, status.to_json()["delivered"])))
        if states is not None
        else None,
    )


def _progress(summary: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"kind": "progress", "key": key, "body": {"summary": summary}, **extra}


def _append_ascii_escaped(journal_dir: Path, seq: int, fields: dict[str, Any]) -> None:
    """Append a record the way a writer with ensure_ascii=True would: escapes survive that UTF-8 cannot hold."""
    segment = sorted(journal_dir.glob("*.jsonl"))[-1]
    record = {**fields, "id": f"{seq:032x}", "seq": seq, "ts": "2026-01-01T00:00:00.000Z", "v": 1}
    prefix = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True)[:-1].encode()
    with segment.open("ab") as out:
        out.write(b'%s,"crc":"%08x"}\n' % (prefix, zlib.crc32(prefix)))


def _assert_never_online_while_nothing_moves(states: list[tuple[str, int]]) -> None:
    """Every state published after the relay got stuck, until something was delivered, is `stuck`."""
    names = [state for state, _ in states]
    assert "stuck" in names, f"never reported stuck: {names}"
    first = names.index("stuck")
    delivered_then = states[first][1]
    while_stuck = [state for state, delivered in states[first:] if delivered == delivered_then]
    assert set(while_stuck) == {"stuck"}, names


async def _until(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


BAD = {
    "non-ascii key": (_progress("bad-key-utf8", "clé-ü"), "UnicodeEncodeError"),
    "newline in key": (_progress("bad-key-newline", "line\nbreak"), "Illegal header value"),
    "leading space in key": (_progress("bad-key-space", " lead"), "Illegal header value"),
    "method http forbids": (_progress("bad-method", "k-method", method="PA TCH"), "method"),
    "absolute path": (_progress("bad-path", "k-path", path="http://elsewhere.example/x"), "not relative"),
    "body not an object": ({"kind": "progress", "key": "k-list", "body": ["a", "b"]}, "ValueError"),
    "NaN in body": ({"kind": "progress", "key": "k-nan", "body": {"summary": "bad-nan"}}, "not JSON compliant"),
    "no key (a bug)": ({"kind": "progress", "body": {"summary": "bad-no-key"}}, "KeyError"),
}


def test_envelopes_that_cannot_be_sent_are_dead_letters_and_the_queue_moves_on(tmp_path: Path) -> None:
    asyncio.run(_unsendable(tmp_path))


async def _unsendable(tmp_path: Path) -> None:
    with scripted_upstream() as upstream:
        with Journal.open(tmp_path / "journal") as journal:
            journal.append(_progress("good-1", "k-good-1"))
            for envelope, _ in BAD.values():
                journal.append(envelope)
        # Written by an older version that escaped non-ASCII: a lone surrogate UTF-8 cannot encode.
        seq = 2 + len(BAD)
        _append_ascii_escaped(tmp_path / "journal", seq, _progress("bad-surrogate-\ud800", "k-surrogate"))
        with Journal.open(tmp_path / "journal") as journal:
            journal.append(_progress("good-2", "k-good-2"))
            nan_seq = 2 + list(BAD).index("NaN in body")
            assert journal.last_seq == seq + 1
            forwarder = _forwarder(tmp_path, journal, upstream.url, route=_nan_in(nan_seq))
            await forwarder.start()
            try:
                await _until(
                    lambda: forwarder.status().to_json()["pending"] == 0, "the queue to move past every bad envelope"
                )
                status = forwarder.status().to_json()
            finally:
                await forwarder.stop()

    assert [c.body["summary"] for c in upstream.calls] == ["good-1", "good-2"]  # none of the bad ones went out
    assert status["state"] == "idle" and status["delivered"] == 2
    assert status["dead_letters"] == len(BAD) + 1 and status["retries"] == 0
    # Calls on the wire at once come back in any order: dead letters are recorded as they do.
    entries = sorted(DeadLetters(tmp_path / "relay" / "dead.jsonl").list(), key=lambda e: e["envelope"]["seq"])
    assert len(entries) == len(BAD) + 1
    for entry, (name, (_, reason)) in zip(entries, BAD.items(), strict=False):
        assert entry["status"] is None, name  # never sent
        assert entry["response_body"].startswith("not sent:") and reason in entry["response_body"], (name, entry)
    surrogate = entries[-1]
    assert surrogate["escaped"] is True and "\\ud800" in surrogate["envelope"]["body"]["summary"]
    assert "dead-lettered without sending" in status["last_error"]


def _nan_in(seq: int) -> RouteFn:
    """A route that puts a float NaN into one body (JSON cannot carry it)."""

    async def route(envelope: dict[str, Any]) -> Send | Hold:
        sent = await _route_as_recorded(envelope)
        assert isinstance(sent, Send)
        if envelope["seq"] == seq:
            request = sent.request
            return Send(UpstreamRequest(request.method, request.path, {**request.body, "x": float("nan")}, "k-nan"))
        return sent

    return route


@pytest.mark.parametrize("in_flight", [1, 8])
def test_one_envelope_failing_again_and_again_makes_the_relay_stuck_never_online(
    tmp_path: Path, in_flight: int
) -> None:
    asyncio.run(_stuck_on_answers(tmp_path, in_flight))


async def _stuck_on_answers(tmp_path: Path, in_flight: int) -> None:
    failures = 6
    states: list[tuple[str, int]] = []
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        upstream.scripts["wedged"] = [Reply(503, {"Retry-After": "0"}, {"detail": "overloaded"})] * failures
        journal.append(_progress("before", "k-before"))
        journal.append(_progress("wedged", "k-wedged"))
        journal.append(_progress("after", "k-after"))
        forwarder = _forwarder(tmp_path, journal, upstream.url, states=states, in_flight=in_flight)
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["pending"] == 0, "the wedged envelope to go at last")
            status = forwarder.status().to_json()
        finally:
            await forwarder.stop()
    _assert_never_online_while_nothing_moves(states)
    calls = [c.body["summary"] for c in upstream.calls]
    if in_flight == 1:
        assert calls == ["before"] + ["wedged"] * (failures + 1) + ["after"]
    else:  # the three independent envelopes went out together; once one failed, nothing new went out
        assert sorted(calls[:3]) == ["after", "before", "wedged"] and calls[3:] == ["wedged"] * failures
    assert status["retries"] == failures and status["sent"] == failures + 3 and status["delivered"] == 3
    assert status["consecutive_failures"] == 0 and status["failing_envelope_id"] is None
    assert "503" in status["last_failure"] and status["last_failure_at"] is not None
    assert status["dead_letters"] == 0


def test_a_stuck_status_names_the_envelope_and_the_error(tmp_path: Path) -> None:
    asyncio.run(_stuck_status(tmp_path))


async def _stuck_status(tmp_path: Path) -> None:
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        upstream.scripts["wedged"] = [Reply(500, body={"detail": "boom"})] * 1000
        wedged = journal.append(_progress("wedged", "k-wedged"))
        forwarder = _forwarder(tmp_path, journal, upstream.url)
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["state"] == "stuck", "the relay to say it is stuck")
            status = forwarder.status().to_json()
        finally:
            await forwarder.stop()
        assert status["failing_envelope_id"] == wedged["id"] and status["failing_seq"] == 1
        assert status["failing_attempts"] >= 3 and status["consecutive_failures"] >= 3
        assert wedged["id"] in status["last_error"] and "500" in status["last_error"]
        assert status["pending"] == 1 and status["dead_letters"] == 0  # a passing failure is never dead


def test_no_answer_to_one_envelope_while_the_health_probe_answers_is_stuck_not_online(tmp_path: Path) -> None:
    asyncio.run(_stuck_on_resets(tmp_path))


async def _stuck_on_resets(tmp_path: Path) -> None:
    states: list[tuple[str, int]] = []
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        upstream.scripts["wedged"] = [Reply(fault="reset")] * 5
        journal.append(_progress("wedged", "k-wedged"))
        journal.append(_progress("after", "k-after"))
        forwarder = _forwarder(tmp_path, journal, upstream.url, states=states)
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["state"] == "stuck", "the relay to say it is stuck")
            assert (
                "reset" in forwarder.status().to_json()["last_error"]
                or "unreachable" in forwarder.status().to_json()["last_error"]
            )
            await _until(
                lambda: forwarder.status().to_json()["pending"] == 0, "the envelope to go once the resets stop"
            )
            status = forwarder.status().to_json()
        finally:
            await forwarder.stop()
    _assert_never_online_while_nothing_moves(states)
    assert len(upstream.calls_for("wedged")) == 6 and len(upstream.calls_for("after")) == 1
    assert status["retries"] == 5 and status["sent"] == 7


def test_routing_that_cannot_read_yet_is_retried_and_reported_stuck_not_dead(tmp_path: Path) -> None:
    asyncio.run(_route_unavailable(tmp_path))


async def _route_unavailable(tmp_path: Path) -> None:
    broken = {"reads left to fail": 5}

    async def route(envelope: dict[str, Any]) -> Send | Hold:
        if envelope["body"]["summary"] == "needs-read" and broken["reads left to fail"]:
            broken["reads left to fail"] -= 1
            raise RouteUnavailable("the read model could not be read: disk I/O error")
        return await _route_as_recorded(envelope)

    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        envelope = journal.append(_progress("needs-read", "k-read"))
        forwarder = _forwarder(tmp_path, journal, upstream.url, route=route)
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["state"] == "stuck", "the relay to say it is stuck")
            stuck = forwarder.status().to_json()
            await _until(lambda: forwarder.status().to_json()["pending"] == 0, "the envelope to go once reads work")
            status = forwarder.status().to_json()
        finally:
            await forwarder.stop()
    assert stuck["failing_envelope_id"] == envelope["id"] and "disk I/O error" in stuck["last_error"]
    assert len(upstream.calls_for("needs-read")) == 1 and status["dead_letters"] == 0
    assert status["state"] == "idle"


def test_a_failing_acknowledgement_hook_does_not_resend_a_delivered_envelope(tmp_path: Path) -> None:
    asyncio.run(_ack_hook_fails(tmp_path))


async def _ack_hook_fails(tmp_path: Path) -> None:
    async def on_ack(envelope: dict[str, Any], answer: Answer) -> None:
        raise OSError("No space left on device")

    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        journal.append(_progress("one", "k-one"))
        journal.append(_progress("two", "k-two"))
        forwarder = _forwarder(tmp_path, journal, upstream.url, on_ack=on_ack)
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["pending"] == 0, "both envelopes to be delivered")
            status = forwarder.status().to_json()
        finally:
            await forwarder.stop()
    assert [c.body["summary"] for c in upstream.calls] == ["one", "two"]
    assert status["delivered"] == 2 and "No space left" in status["last_error"]


def test_a_token_that_cannot_go_in_a_header_pauses_instead_of_dead_lettering(tmp_path: Path) -> None:
    asyncio.run(_bad_token(tmp_path))


async def _bad_token(tmp_path: Path) -> None:
    tokens = ["tøken"]
    with scripted_upstream() as upstream, Journal.open(tmp_path / "journal") as journal:
        journal.append(_progress("one", "k-one"))
        forwarder = _forwarder(tmp_path, journal, upstream.url, token=lambda: tokens[0])
        await forwarder.start()
        try:
            await _until(lambda: forwarder.status().to_json()["state"] == "auth_failed", "the relay to pause")
            assert "visible ASCII" in forwarder.status().to_json()["last_error"]
            tokens[0] = "token"
            await _until(lambda: forwarder.status().to_json()["pending"] == 0, "the write to go with the fixed token")
            status = forwarder.status().to_json()
        finally:
            await forwarder.stop()
    assert status["dead_letters"] == 0 and [c.headers["authorization"] for c in upstream.calls] == ["Bearer token"]
