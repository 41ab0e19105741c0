"""SPEC §7's answer table, end to end: a dev hub relays to a scripted upstream that answers each status."""

from __future__ import annotations

import time
from pathlib import Path

from relay.dead_letters import DeadLetters
from tests.relay_e2e.helpers import BACKOFF_CAP, relay, start_dev, wait_drained, write_progress
from tests.relay_e2e.scripted_upstream import Reply, ScriptedUpstream, scripted_upstream
from tests.support.daemon import RunningDaemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

PROBLEM = {"title": "scripted", "detail": "scripted refusal"}
ACKED = {
    "200": [Reply(200, body={"ok": True})],
    "204": [Reply(204)],
    "409-replayed": [Reply(409, {"Idempotent-Replayed": "true"}, {"title": "already applied"})],
}
DEAD = {
    "400": [Reply(400, body=PROBLEM)],
    "404": [Reply(404, body=PROBLEM)],
    "409": [Reply(409, body={"title": "Conflict", "detail": "key used with a different body"})],
    "413": [Reply(413, body=PROBLEM)],
    "422": [Reply(422, body=PROBLEM)],
}
RETRIED = {
    "408": [Reply(408, body=PROBLEM)],
    "429": [Reply(429, {"Retry-After": "1"}, PROBLEM)],
    "500": [Reply(500, body=PROBLEM)],
    "502": [Reply(502, body=PROBLEM)],
    "503": [Reply(503, {"Retry-After": "0"}, PROBLEM)],
    "504": [Reply(504, body=PROBLEM)],
    "timeout": [Reply(fault="timeout")],
    "reset": [Reply(fault="reset")],
}
TOKEN = "relay-test-token"


def test_every_answer_leads_to_its_action_and_the_queue_moves_on(tmp_path: Path) -> None:
    with scripted_upstream(timeout_sleep=1.6) as upstream:
        cases = {**ACKED, **DEAD, **RETRIED}
        for name, replies in cases.items():
            upstream.scripts[f"case-{name}"] = list(replies)
        env = {"STATE_HUB_TOKEN": TOKEN, "DEVHUB_RELAY_TIMEOUT": "1"}
        dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), upstream.url, env=env)
        try:
            with dev.client() as client:
                for name in cases:
                    answer = client.post(
                        "/progress/", json={"summary": f"case-{name}"}, headers={"Idempotency-Key": f"key-{name}"}
                    )
                    assert answer.status_code == 201
                write_progress(client, "case-last")
            status = wait_drained(dev, timeout=40)
            assert status["dead_letters"] == len(DEAD)
            assert status["delivered"] == len(ACKED) + len(RETRIED) + 1

            for name in ACKED:
                assert len(upstream.calls_for(f"case-{name}")) == 1, name
            for name in RETRIED:
                calls = upstream.calls_for(f"case-{name}")
                assert len(calls) == 2, f"{name}: expected one retry, saw {len(calls)} call(s)"
                assert {c.headers["idempotency-key"] for c in calls} == {f"key-{name}"}
            dead = {
                e["envelope"]["body"]["summary"]: e
                for e in DeadLetters(dev.data_dir / "relay" / "dead_letters.jsonl").list()
            }
            assert set(dead) == {f"case-{name}" for name in DEAD}
            for name in DEAD:
                assert len(upstream.calls_for(f"case-{name}")) == 1, name
                entry = dead[f"case-{name}"]
                assert entry["status"] == int(name)
                assert "different body" in entry["response_body"] or "scripted refusal" in entry["response_body"]
                assert entry["envelope"]["idempotency_key"] == f"key-{name}"
            assert len(upstream.calls_for("case-last")) == 1  # later envelopes still go after dead letters
            for call in upstream.calls:
                assert call.headers.get("authorization") == f"Bearer {TOKEN}"
            journal = dev.cli("journal", "show", "--json", "--limit", "0", check=True).stdout
            assert journal.count('"relay_state": "dead-letter"') == len(DEAD)

            for code in (401, 403):
                _paused_then_resumed(dev, upstream, code)
        finally:
            dev.stop()


def _paused_then_resumed(dev: RunningDaemon, upstream: ScriptedUpstream, code: int) -> None:
    """401/403 pauses the relay (no retries), later writes wait, `devhub relay now` resumes it."""
    upstream.scripts[f"auth-{code}"] = [Reply(code, body={"title": "Unauthorized", "detail": "bad token"})]
    with dev.client() as client:
        write_progress(client, f"auth-{code}")
        paused = wait_for(
            lambda: (s := relay(dev))["state"] == "auth_failed" and s, timeout=10, what=f"the relay to pause on {code}"
        )
        assert str(code) in paused["last_error"] and "devhub relay now" in paused["last_error"]
        write_progress(client, f"after-{code}")
    # Paused means paused: over two backoff caps, no retry and nothing behind it goes out.
    watch_until = time.monotonic() + 2 * BACKOFF_CAP
    while time.monotonic() < watch_until:
        assert len(upstream.calls_for(f"auth-{code}")) == 1
        assert upstream.calls_for(f"after-{code}") == []
        assert relay(dev)["state"] == "auth_failed"
        time.sleep(0.1)
    assert relay(dev)["pending"] == 2
    # The grant is fixed upstream (the script's next answer is 201); `relay now` resumes.
    dev.cli("relay", "now", check=True)
    wait_drained(dev, timeout=15)
    assert len(upstream.calls_for(f"auth-{code}")) == 2
    assert len(upstream.calls_for(f"after-{code}")) == 1
