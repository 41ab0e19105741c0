"""The one daemon lifecycle (devhub.daemon.spawn / discovery): readiness needs this pid, failures are typed."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhub.daemon import discovery
from devhub.daemon.lockfile import FileLock
from devhub.daemon.spawn import DaemonExited, DaemonProcess, DaemonSilent, spawn_daemon, stop_running
from tests.support.daemon import devhub_env

SLEEPER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


class _Healthy(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/state/health" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def stubborn(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A process that ignores SIGTERM, standing in for a daemon whose readiness we fake."""
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    process = DaemonProcess(proc, tmp_path, tmp_path / "daemon.log")
    yield process
    process.kill()
    proc.stdout.close()


def test_a_start_that_exits_is_reported_with_its_code_and_only_its_own_log_lines(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    log_path = tmp_path / "daemon.log"
    log_path.write_text("an earlier run's line\n")
    process = spawn_daemon(
        ["no-such-command"], data_dir=data_dir, log_path=log_path, env=devhub_env(data_dir, tmp_path / "config")
    )
    with pytest.raises(DaemonExited) as exited:
        process.wait_until_answering(30)
    assert exited.value.code == 2
    assert "no-such-command" in process.log_since_start()
    assert "an earlier run" not in process.log_since_start()


def test_only_info_naming_this_pid_counts_and_then_its_url_is_returned(
    tmp_path: Path, health_url: str, stubborn: DaemonProcess
) -> None:
    info = tmp_path / "daemon.json"
    info.write_text(json.dumps({"pid": stubborn.pid + 1, "url": health_url}))  # another daemon answering
    with pytest.raises(DaemonSilent):
        stubborn.wait_until_answering(0.3)
    info.write_text(json.dumps({"pid": stubborn.pid, "url": health_url}))
    assert stubborn.wait_until_answering(5) == health_url == stubborn.url


def test_stop_kills_a_process_that_ignores_sigterm_after_the_timeout(stubborn: DaemonProcess) -> None:
    assert stubborn.stop(timeout=0.3) == -9


def test_discovery_reads_the_lock_holder_and_ignores_half_written_info(tmp_path: Path, health_url: str) -> None:
    assert discovery.lock_holder(tmp_path) is None
    assert stop_running(tmp_path, timeout=1) is None
    (tmp_path / "daemon.json").write_text('{"pid": 1, "ur')
    assert discovery.read_info(tmp_path) is None
    with FileLock(tmp_path / "daemon.lock").acquire({"pid": 123, "url": health_url}):
        assert discovery.running_url(tmp_path) == health_url
    assert discovery.running_url(tmp_path) is None
    assert discovery.answers(health_url) is True
    assert discovery.answers(health_url + "/nothing-here") is False
    assert discovery.answers("http://127.0.0.1:9", timeout=0.5) is False
