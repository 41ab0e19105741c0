"""`devhub fleet accept --evidence URL`: progress events read page by page from a real HTTP server."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from devhub.cli.fleet_accept import accept
from devhub.errors import DevhubError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "acceptance"
T10 = FIXTURES / "t10-spec.yaml"


class ProgressHub:
    """A small hub serving GET /progress/ (since, until, limit, offset; newest first) over fixed events."""

    def __init__(self, events: list[dict[str, Any]], fail_with: int | None = None) -> None:
        self.events = sorted(events, key=lambda e: _instant(e["created_at"]), reverse=True)
        self.fail_with = fail_with
        self.requests: list[dict[str, str]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                hub.requests.append({"path": parts.path, **query})
                if hub.fail_with is not None:
                    self._send(hub.fail_with, {"title": "boom"})
                elif parts.path != "/progress/":
                    self._send(404, {"title": "Not found"})
                else:
                    self._send(200, hub.page(query))

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def page(self, query: dict[str, str]) -> list[dict[str, Any]]:
        since, until = _instant(query["since"]), _instant(query["until"])
        limit, offset = int(query.get("limit", "100")), int(query.get("offset", "0"))
        chosen = [e for e in self.events if since <= _instant(e["created_at"]) <= until]
        return chosen[offset : offset + limit]

    def __enter__(self) -> ProgressHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def progress_events(jsonl: Path) -> list[dict[str, Any]]:
    """The well-formed events of a JSONL fixture as hub progress events, with varied timestamp spellings."""
    result = []
    for index, line in enumerate(jsonl.read_text(encoding="utf-8").splitlines()):
        try:
            event = json.loads(line)
            moment = datetime.fromisoformat(event["ts"])
        except (ValueError, TypeError):
            continue  # the fixture's malformed lines never reached a hub
        if not isinstance(event.get("host"), str):
            continue
        if index % 3 == 1:
            created = moment.astimezone(timezone(timedelta(hours=2))).isoformat()  # same instant, other offset
        elif index % 3 == 2:
            created = moment.astimezone(UTC).replace(tzinfo=None).isoformat()  # naive: the hub's UTC
        else:
            created = event["ts"]
        detail = {**event["detail"], "host": event["host"], "status": event["status"], "target": event["target"]}
        result.append(
            {
                "id": f"ev-{index}",
                "event_type": event["kind"],
                "summary": f"{event['kind']} on {event['host']}",
                "author": f"atm-{event['host']}",
                "workplan_id": "CUST-WP-0054",
                "task_id": "CUST-WP-0054-T10",
                "detail": detail,
                "created_at": created,
            }
        )
    # An agent's note without host or status: served, matched by no check.
    result.append(
        {
            "id": "note-1",
            "event_type": "note",
            "summary": "started T10",
            "author": "worsch",
            "workplan_id": "CUST-WP-0054",
            "task_id": None,
            "detail": {},
            "created_at": "2026-08-01T00:01:00Z",
        }
    )
    return result


def run(*args: str) -> tuple[int, str, str]:
    """Invoke the accept command; a DevhubError becomes its exit code and `error:` line, as the CLI's main does."""
    result = CliRunner().invoke(accept, list(args))
    if isinstance(result.exception, DevhubError):
        return result.exception.exit_code, result.output, f"error: {result.exception.detail}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output, ""


def comparable(doc: dict[str, Any]) -> list[tuple[str, str, list[tuple[str, Any, str]]]]:
    return [
        (c["name"], c["verdict"], [(t["name"], t["observed"], t["verdict"]) for t in c["tolerances"]])
        for c in doc["checks"]
    ]


@pytest.fixture
def hub_for() -> Iterator[Any]:
    hubs: list[ProgressHub] = []

    def start(fixture: str, fail_with: int | None = None) -> ProgressHub:
        hub = ProgressHub(progress_events(FIXTURES / fixture), fail_with).__enter__()
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        hub.__exit__()


@pytest.mark.parametrize("fixture", ["evidence-pass.jsonl", "evidence-probe-failures.jsonl"])
def test_a_hub_gives_the_same_verdict_as_the_jsonl_file(hub_for: Any, fixture: str) -> None:
    hub = hub_for(fixture)
    file_code, file_out, _ = run("--spec", str(T10), "--evidence", str(FIXTURES / fixture), "--json")
    hub_code, hub_out, err = run("--spec", str(T10), "--evidence", hub.url + "/", "--json")
    assert err == ""
    file_doc, hub_doc = json.loads(file_out), json.loads(hub_out)
    assert hub_code == file_code
    assert comparable(hub_doc) == comparable(file_doc)
    assert hub_doc["evidence"]["events_in_window"] == file_doc["evidence"]["events_in_window"] + 1  # the note
    assert hub_doc["evidence"]["malformed"] == 0 and hub_doc["evidence"]["urls"] == 1
    # Paged with the documented contract: window bounds, limit 1000, offsets advancing until a short page.
    assert [r["offset"] for r in hub.requests] == ["0", "1000"]
    assert hub_doc["evidence"]["pages"] == 2
    assert {(r["path"], r["since"], r["limit"]) for r in hub.requests} == {
        ("/progress/", "2026-08-01T00:00:00Z", "1000")
    }
    # The upper bound is the moment the read began (late-relayed events count), the same on every page.
    assert len({r["until"] for r in hub.requests}) == 1
    assert _instant(hub.requests[0]["until"]) >= _instant("2026-08-02T02:00:00Z")


def test_detail_ts_overrides_created_at_and_bad_items_are_counted(tmp_path: Path) -> None:
    events = [
        # Recorded inside the window but happened before it: ignored as outside.
        {
            "id": 1,
            "event_type": "heartbeat",
            "detail": {"host": "workstation", "ts": "2026-07-31T23:00:00Z"},
            "created_at": "2026-08-01T01:00:00Z",
        },
        {"id": 2, "event_type": "heartbeat", "detail": {"host": 5}, "created_at": "2026-08-01T01:00:00Z"},
        {"id": 3, "event_type": "heartbeat", "detail": [], "created_at": "2026-08-01T01:00:00Z"},
        {"id": 4, "event_type": "heartbeat", "detail": {"ts": "soon"}, "created_at": "2026-08-01T01:00:00Z"},
        {
            "id": 5,
            "event_type": "triage.run",
            "detail": {"host": "railiance01", "status": "ok"},
            "created_at": "2026-08-01T02:00:00Z",
        },
    ]
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        'title: t\nwindow: {start: "2026-08-01T00:00:00Z", end: "2026-08-01T03:00:00Z"}\n'
        "preconditions: [{name: workstation offline, absent: {host: workstation}}]\n"
        "probes: [{name: triage, match: {kind: triage.run, status: ok}, tolerance: {min_count: 1}}]\n",
        encoding="utf-8",
    )
    with ProgressHub(events) as hub:
        code, out, _ = run("--spec", str(spec), "--evidence", hub.url, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verdict"] == "pass"
    assert doc["evidence"]["events_before_window"] == 1 and doc["evidence"]["events_in_window"] == 1
    assert doc["evidence"]["malformed"] == 3
    assert [e.split(": ", 1)[1] for e in doc["evidence"]["malformed_examples"]] == [
        "detail.host: must be text, got 5",
        "detail: must be an object, got []",
        "detail.ts: not an ISO-8601 timestamp: 'soon'",
    ]
    assert doc["evidence"]["malformed_examples"][0].startswith(f"{hub.url}/progress/#2")


def test_an_unreachable_hub_exits_2_with_a_clear_message() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    code, _, err = run("--spec", str(T10), "--evidence", f"http://127.0.0.1:{port}")
    assert code == 2
    assert f"http://127.0.0.1:{port}/progress/: cannot reach the hub" in err


def test_a_failing_hub_exits_2_naming_the_status(hub_for: Any) -> None:
    hub = hub_for("evidence-pass.jsonl", fail_with=500)
    code, _, err = run("--spec", str(T10), "--evidence", hub.url)
    assert code == 2
    assert "HTTP 500" in err and "/progress/?offset=0" in err
