"""Evidence read from a real devhub daemon gives the same verdict as the JSONL file it was seeded from."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from devhub.fleet.evidence import event_from_record
from tests.support.daemon import RunningDaemon, run_cli

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "acceptance"
SPEC = FIXTURES / "t10-spec.yaml"


def _seed(daemon: RunningDaemon, evidence: Path) -> int:
    """POST every well-formed evidence line as a progress event (kind -> event_type, the rest in detail)."""
    seeded = 0
    with httpx.Client(base_url=daemon.url, timeout=30) as client:
        for line in evidence.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the fixture's deliberately malformed lines
            if isinstance(event_from_record(event, "seed"), str):
                continue  # malformed for the file reader too: not evidence
            detail = {
                **(event.get("detail") or {}),
                "ts": event["ts"],
                "host": event.get("host"),
                "status": event.get("status"),
                "target": event.get("target"),
            }
            body = {
                "summary": f"{event.get('kind')} on {event.get('host')}",
                "event_type": event.get("kind"),
                "author": event.get("host"),
                "detail": {k: v for k, v in detail.items() if v is not None},
            }
            answer = client.post("/progress/", json=body)
            assert answer.status_code == 201, answer.text
            seeded += 1
    return seeded


def _verdict(args: list[str], daemon: RunningDaemon) -> tuple[int, dict]:  # type: ignore[type-arg]
    done = run_cli("fleet", "accept", "--spec", str(SPEC), *args, "--json", env=daemon.env)
    return done.returncode, json.loads(done.stdout)


def _checks(report: dict) -> list[tuple[str, str, list[str]]]:  # type: ignore[type-arg]
    return [(c["name"], c["verdict"], [t["text"] for t in c["tolerances"]]) for c in report["checks"]]


@pytest.mark.parametrize("fixture", ["evidence-pass.jsonl", "evidence-sweep-gap.jsonl"])
def test_a_seeded_daemon_gives_the_jsonl_verdict(daemon: RunningDaemon, fixture: str) -> None:
    evidence = FIXTURES / fixture
    seeded = _seed(daemon, evidence)
    file_code, file_report = _verdict(["--evidence", str(evidence)], daemon)
    hub_code, hub_report = _verdict(["--evidence", daemon.url], daemon)
    assert hub_code == file_code == (0 if fixture == "evidence-pass.jsonl" else 1)
    assert _checks(hub_report) == _checks(file_report)
    assert hub_report["failed"] == file_report["failed"]
    stats = hub_report["evidence"]
    assert stats["events_in_window"] + stats["events_before_window"] + stats["events_after_window"] == seeded
    assert stats["events_in_window"] == file_report["evidence"]["events_in_window"]
    assert stats["urls"] == 1 and stats["pages"] >= 2 and stats["malformed"] == 0
