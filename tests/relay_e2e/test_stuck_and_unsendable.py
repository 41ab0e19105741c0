"""Real daemons: a journal from an older version holding an unsendable key does not block the relay, and a
relay stuck on one envelope says so — naming it — on every surface (GET /relay, the CLI, the dashboard)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from relay.codec import decode_line, encode_line
from relay.dead_letters import DeadLetters
from tests.relay_e2e.helpers import progress_summaries, relay, start_dev, start_fleet, wait_drained, write_progress
from tests.relay_e2e.scripted_upstream import Reply, scripted_upstream
from tests.support.daemon import start_daemon
from tests.support.repos import make_workspace
from tests.support.waiting import wait_for

UNSENDABLE_KEYS = {"legacy-utf8": "clé-ü", "legacy-newline": "two\nlines"}


def _rewrite_keys(journal_dir: Path, keys_by_summary: dict[str, str]) -> None:
    """Give journaled envelopes the keys an older devhub accepted (the line stays checksummed and valid)."""
    for segment in journal_dir.glob("*.jsonl"):
        lines = []
        for line in segment.read_bytes().splitlines():
            record = decode_line(line)
            summary = (record.get("body") or {}).get("summary")
            if summary in keys_by_summary:
                record["idempotency_key"] = keys_by_summary[summary]
            record.pop("crc")
            lines.append(encode_line(record))
        segment.write_bytes(b"".join(lines))


def test_an_unsendable_envelope_from_an_older_version_is_a_dead_letter_and_the_rest_flows(tmp_path: Path) -> None:
    dev_ws = make_workspace(tmp_path / "dev-ws", ["the-custodian"])
    writer = start_daemon(tmp_path / "dev", dev_ws)  # relay off: the journal fills as an older version's did
    try:
        with writer.client() as client:
            for summary in ["legacy-before", *UNSENDABLE_KEYS, "legacy-after"]:
                answer = client.post("/progress/", json={"summary": summary}, headers={"Idempotency-Key": summary})
                assert answer.status_code == 201, answer.text
    finally:
        writer.stop()
    _rewrite_keys(writer.data_dir / "journal", UNSENDABLE_KEYS)

    fleet = start_fleet(tmp_path / "fleet", make_workspace(tmp_path / "fleet-ws", ["the-custodian"]))
    dev = start_dev(tmp_path / "dev", dev_ws, fleet.url, data_dir=writer.data_dir)
    try:
        status = wait_drained(dev, timeout=20)
        assert progress_summaries(fleet, "legacy-") == ["legacy-before", "legacy-after"]
        assert status["dead_letters"] == len(UNSENDABLE_KEYS) and status["state"] == "idle"
        entries = DeadLetters(dev.data_dir / "relay" / "dead_letters.jsonl").list()
        assert {e["envelope"]["idempotency_key"] for e in entries} == set(UNSENDABLE_KEYS.values())
        assert all(e["status"] is None and e["response_body"].startswith("not sent:") for e in entries)
        shown = dev.cli("relay", "status", check=True).stdout
        assert "dead letters 2" in shown and "dead-lettered without sending" in shown
        page = dev.get("/ui/relay").text
        dead = page.split('id="relay-dead"', 1)[1]
        assert dead.count("<li data-dead-seq=") == 2 and "not sent" in dead
        journal = json.loads(dev.cli("journal", "show", "--json", "--limit", "0", check=True).stdout)
        assert sum(r["relay_state"] == "dead-letter" for r in journal["records"]) == 2
    finally:
        dev.stop()
        fleet.stop()


def test_a_stuck_relay_names_the_envelope_on_every_surface(tmp_path: Path) -> None:
    with scripted_upstream() as upstream:
        upstream.scripts["wedged"] = [Reply(503, body={"detail": "overloaded"})] * 10_000
        dev = start_dev(tmp_path / "dev", make_workspace(tmp_path / "ws", ["the-custodian"]), upstream.url)
        try:
            with dev.client() as client:
                write_progress(client, "wedged")
                write_progress(client, "behind")
            stuck = wait_for(
                lambda: (s := relay(dev))["state"] == "stuck" and s, timeout=15, what="the relay to say it is stuck"
            )
            envelope_id = stuck["failing_envelope_id"]
            assert envelope_id and stuck["failing_seq"] == 1 and stuck["failing_attempts"] >= 3
            assert envelope_id in stuck["last_error"] and "503" in stuck["last_error"]
            assert stuck["pending"] == 2 and stuck["consecutive_failures"] >= 3

            shown = dev.cli("relay", "status", check=True).stdout
            assert shown.startswith("stuck") and envelope_id in shown and "503" in shown
            as_json = json.loads(dev.cli("relay", "status", "--json", check=True).stdout)
            assert as_json["state"] == "stuck" and as_json["failing_envelope_id"] == envelope_id
            assert "relay: stuck" in dev.cli("status", check=True).stdout
            page = dev.get("/ui/relay").text
            assert 'data-relay-state="stuck"' in page and envelope_id in page
            assert html.escape("stuck") in dev.get("/", headers={"Accept": "text/html"}).text

            upstream.scripts["wedged"].clear()  # the upstream recovers: the envelope goes, then the next
            drained = wait_drained(dev, timeout=15)
            assert drained["state"] == "idle" and drained["failing_envelope_id"] is None
            assert [c.body["summary"] for c in upstream.calls][-2:] == ["wedged", "behind"]
            assert drained["retries"] == len(upstream.calls_for("wedged")) - 1
        finally:
            dev.stop()
