"""Host and Origin checks at the edges, through a real daemon and raw sockets (no client tidies the headers).

Duplicated headers (where one check reads one value and a later layer may use another), names that only look
like loopback, and foreign origins on every REST write: each refused, and nothing written.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

T05 = "CUST-WP-0054-T05"
MCP_LIST = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}})
# (method, path, body) for every kind of route: REST reads and writes, MCP, the dashboard.
ROUTES = [
    ("GET", "/state/health", None),
    ("GET", "/tasks/?ready=true", None),
    ("GET", "/search?q=phoenix", None),
    ("PATCH", f"/tasks/{T05}", json.dumps({"status": "progress"})),
    ("POST", "/progress/", json.dumps({"summary": "should never be written"})),
    ("POST", "/mcp", MCP_LIST),
    ("GET", "/", None),
    ("GET", "/ui/search?q=phoenix", None),
]
WRITES = [
    ("PATCH", f"/tasks/{T05}", {"status": "progress"}),
    ("POST", "/tasks/bulk-status-sync", {"updates": [{"task_id": T05, "status": "done"}]}),
    ("PATCH", "/workplans/CUST-WP-0054", {"status": "done"}),
    ("POST", "/progress/", {"summary": "from a foreign page"}),
    ("POST", "/messages/", {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "hi"}),
]
LOOKALIKE_HOSTS = [
    "127.0.0.1.evil.example",
    "localhost-evil.example",
    "localhost.evil",
    "localhost.evil.example",
    "evil.example",
    "127.0.0.1:80@evil.example",
    "evil.example:80@127.0.0.1",
    "localhost:8000@evil.example",
    "127.0.0.1 evil.example",
    "localhost:abc",
    "127.0.0.1:99999999",
    "[::1].evil.example",
    "[::1]evil.example",
    "[::1]:80@evil.example",
    "::1",
    "[::1",
    "0x7f.0.0.1",
    "2130706433",
    "",
]
FOREIGN_ORIGINS = [
    "http://evil.example",
    "null",
    "",
    "http://127.0.0.1.evil.example",
    "http://localhost.evil",
    "http://localhost-evil.example",
    "http://127.0.0.1:80@evil.example",
    "http://evil.example#@127.0.0.1",
    "https://evil.example:443",
    "http://[::1].evil.example",
    "file://",
    "chrome-extension://abcdefghijklmnop",
    "127.0.0.1",
]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    home = tmp_path_factory.mktemp("security")
    running = start_daemon(home / "hub", make_workspace(home / "ws"))
    try:
        yield running
    finally:
        running.stop()


def raw_request(
    daemon: RunningDaemon, method: str, path: str, headers: list[tuple[str, str]], body: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these header lines (duplicates and odd values included); (status, headers, body)."""
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers), "Connection: close"]
    payload = (body or "").encode()
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        if path == "/mcp":
            lines.append("Accept: application/json, text/event-stream")
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), parsed, content


def _journal_size(daemon: RunningDaemon) -> int:
    return sum(p.stat().st_size for p in (daemon.data_dir / "journal").glob("*.jsonl"))


def _loopback(daemon: RunningDaemon) -> str:
    return f"127.0.0.1:{daemon.port}"


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_second_host_or_origin_header_is_refused_on_every_route(
    daemon: RunningDaemon, method: str, path: str, body: str | None
) -> None:
    here = _loopback(daemon)
    before = _journal_size(daemon)
    cases = [
        ([("Host", "evil.example"), ("Host", here)], "Host"),
        ([("Host", here), ("Host", "evil.example")], "Host"),
        ([("Host", here), ("Host", here)], "Host"),  # even two equal values: one request, one Host
        ([("Host", here), ("Origin", "http://evil.example"), ("Origin", f"http://{here}")], "Origin"),
        ([("Host", here), ("Origin", f"http://{here}"), ("Origin", "http://evil.example")], "Origin"),
        ([("Host", here), ("Origin", f"http://{here}"), ("origin", f"http://{here}")], "Origin"),
        ([("Host", here), ("HOST", here), ("Origin", "null"), ("Origin", "null")], "Host and Origin"),
    ]
    for headers, named in cases:
        status, response_headers, content = raw_request(daemon, method, path, headers, body)
        assert status == 400, (headers, content)
        assert response_headers["content-type"].startswith("application/problem+json")
        problem = json.loads(content)
        assert problem["status"] == 400 and f"more than one {named} header" in problem["detail"], problem
    assert _journal_size(daemon) == before
    # The same request with one of each is served (the route itself is fine).
    ok_status, _, ok_content = raw_request(daemon, method, path, [("Host", here), ("Origin", f"http://{here}")], body)
    assert ok_status < 400, ok_content


@pytest.mark.parametrize("host", LOOKALIKE_HOSTS)
def test_a_host_that_only_looks_like_loopback_is_refused(daemon: RunningDaemon, host: str) -> None:
    for method, path, body in (ROUTES[0], ROUTES[3], ROUTES[5]):
        status, _, content = raw_request(daemon, method, path, [("Host", host)], body)
        assert status == 403, (host, path, content)
        assert "DNS-rebinding" in json.loads(content)["detail"]


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "127.1.2.3", "[::1]", "x.localhost"]
)
def test_real_loopback_names_are_served_with_or_without_a_port(daemon: RunningDaemon, host: str) -> None:
    for value in (host, f"{host}:{daemon.port}"):
        status, _, content = raw_request(daemon, "GET", "/state/health", [("Host", value)])
        assert status == 200, (value, content)


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_a_foreign_origin_on_any_rest_write_is_refused_and_writes_nothing(daemon: RunningDaemon, origin: str) -> None:
    before, status_before = _journal_size(daemon), daemon.get(f"/tasks/{T05}").json()["status"]
    for method, path, body in WRITES:
        status, _, content = raw_request(
            daemon, method, path, [("Host", _loopback(daemon)), ("Origin", origin)], json.dumps(body)
        )
        assert status == 403, (origin, path, content)
        assert "DNS-rebinding" in json.loads(content)["detail"]
    assert _journal_size(daemon) == before
    assert daemon.get(f"/tasks/{T05}").json()["status"] == status_before


def test_a_loopback_origin_may_write(daemon: RunningDaemon) -> None:
    for origin in (f"http://127.0.0.1:{daemon.port}", f"http://localhost:{daemon.port}", "http://[::1]"):
        status, _, content = raw_request(
            daemon,
            "POST",
            "/progress/",
            [("Host", _loopback(daemon)), ("Origin", origin)],
            json.dumps({"summary": f"from {origin}"}),
        )
        assert status == 201, (origin, content)
