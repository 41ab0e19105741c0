"""`devhub fleet tunnels probe` against real loopback servers: up, HTTP 500, a hang cut off at its timeout, refused."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devhub.fleet.probe import run_probes
from devhub.fleet.register import load_register

HANG_TIMEOUT = 1.0


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/state/health" else 500
        body = b'{"ok": true}' if status == 200 else b"broken"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass  # keep test output quiet


@pytest.fixture
def servers() -> Iterator[dict[str, int]]:
    """One HTTP server (healthy path and a 500 path), a socket that accepts and never answers, a closed port."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    # A listening socket nobody accepts on: the kernel completes the handshake, then silence.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()
    try:
        yield {"http": http.server_address[1], "silent": silent.getsockname()[1], "closed": closed_port}
    finally:
        http.shutdown()
        http.server_close()
        silent.close()


def write_register(tmp_path: Path, ports: dict[str, int]) -> Path:
    def tunnel(name: str, local_port: int, check: str) -> str:
        return (
            f"  {name}: {{origin_host: railiance01, target_host: coulombcore, direction: local, "
            f"local_port: {local_port}, remote_port: 30080, env: prod, actor: atm-railiance01, "
            f"owner: CUST-WP-0054-T02{check}}}\n"
        )

    http, silent, closed = ports["http"], ports["silent"], ports["closed"]
    text = (
        "hosts:\n  railiance01: {role: production}\n  coulombcore: {role: legacy, status: frozen}\n"
        "tunnels:\n"
        + tunnel("hub-up", http, f", health_check: {{url: 'http://127.0.0.1:{http}/state/health', timeout_seconds: 5}}")
        + tunnel("hub-500", http, f", health_check: {{url: 'http://127.0.0.1:{http}/broken', timeout_seconds: 5}}")
        + tunnel(
            "hub-hangs",
            silent,
            f", health_check: {{url: 'http://127.0.0.1:{silent}/state/health', timeout_seconds: {HANG_TIMEOUT}}}",
        )
        + tunnel("tcp-open", silent, ", health_check: {timeout_seconds: 2}")
        + tunnel("tcp-closed", closed, "")
    )
    path = tmp_path / "register.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_probe_states_and_timeout_bound(servers: dict[str, int], tmp_path: Path) -> None:
    register = load_register(write_register(tmp_path, servers))
    started = time.monotonic()
    results = {r.tunnel: r for r in run_probes(sorted(register.tunnels.values(), key=lambda t: t.name))}
    elapsed = time.monotonic() - started
    assert {name: r.state for name, r in results.items()} == {
        "hub-up": "up",
        "hub-500": "down",
        "hub-hangs": "timeout",
        "tcp-open": "up",
        "tcp-closed": "down",
    }
    assert results["hub-up"].detail == "HTTP 200"
    assert results["hub-500"].detail == "HTTP 500"
    assert results["tcp-open"].check == f"tcp://127.0.0.1:{servers['silent']}"
    assert results["tcp-closed"].detail  # e.g. "Connection refused"
    # The hang is cut off at its own timeout, and the checks ran concurrently: the whole run
    # takes about one timeout, not the sum of them.
    assert HANG_TIMEOUT * 0.9 <= results["hub-hangs"].latency_ms / 1000 < HANG_TIMEOUT + 0.5
    assert elapsed < HANG_TIMEOUT + 1.0


def test_probe_cli_json_and_exit_codes(servers: dict[str, int], tmp_path: Path, run_fleet) -> None:
    register = write_register(tmp_path, servers)
    result = run_fleet("tunnels", "probe", "--register", str(register), "--json")
    assert result.code == 1, result.stderr
    report = result.json()
    assert report["summary"] == {"up": 2, "down": 2, "timeout": 1}
    assert report["recommendation"] is not None  # 5 tunnels for 2 hosts
    healthy = run_fleet("tunnels", "probe", "--register", str(register), "--tunnel", "hub-up", "--tunnel", "tcp-open")
    assert healthy.code == 0, healthy.stdout
    assert "2 up, 0 down, 0 timeout of 2 tunnels" in healthy.stdout
    assert "WireGuard mesh" in healthy.stdout
    unknown = run_fleet("tunnels", "probe", "--register", str(register), "--tunnel", "nope")
    assert unknown.code == 2 and "unknown tunnel 'nope'" in unknown.stderr
