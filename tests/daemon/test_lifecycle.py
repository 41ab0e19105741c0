"""The daemon's lifecycle: one per data directory, busy port, graceful stop, kill -9 recovery, security."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.waiting import wait_for


def test_second_up_says_where_the_first_runs(daemon: RunningDaemon) -> None:
    second = daemon.cli("up", "--port", "0", "--no-relay")
    assert second.returncode != 0
    assert "already runs" in second.stderr and daemon.url in second.stderr


def test_busy_port_is_a_clear_error(tmp_path: Path, workspace: list[Path]) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        from tests.support.daemon import devhub_env, run_cli

        env = devhub_env(tmp_path / "d", tmp_path / "c")
        done = run_cli("up", "--port", str(port), "--no-relay", *map(str, workspace), env=env)
        assert done.returncode != 0
        assert f"port {port}" in done.stderr and "already in use" in done.stderr
        assert "pid" in done.stderr  # the owner is named when /proc can tell
    finally:
        holder.close()


def test_down_stops_gracefully_and_status_reports(daemon: RunningDaemon) -> None:
    status = daemon.cli("status")
    assert status.returncode == 0, status.stderr
    assert daemon.url in status.stdout and "watcher: inotify" in status.stdout and "relay: disabled" in status.stdout
    assert "the-custodian" in status.stdout
    down = daemon.cli("down")
    assert down.returncode == 0 and "stopped" in down.stdout
    assert daemon.proc.wait(timeout=10) == 0
    assert daemon.cli("status").returncode == 3


def test_sigterm_is_graceful(daemon: RunningDaemon) -> None:
    assert daemon.stop() == 0
    assert not (daemon.data_dir / "daemon.json").exists()


def test_kill9_then_up_recovers_with_nothing_lost(tmp_path: Path, workspace: list[Path]) -> None:
    first = start_daemon(tmp_path / "hub", workspace)
    written = first.request("PATCH", "/tasks/CUST-WP-0054-T05", json={"status": "progress", "note": "go"})
    assert written.status_code == 200
    event = first.request("POST", "/progress/", json={"summary": "before the crash", "task_id": "CUST-WP-0054-T05"})
    assert event.status_code == 201
    first.kill9()
    second = start_daemon(tmp_path / "hub", workspace)
    try:
        task = second.get("/tasks/CUST-WP-0054-T05").json()
        assert task["status"] == "progress" and task["status_source"] == "local"
        summaries = [e["summary"] for e in second.get("/progress/").json()]
        assert summaries == ["before the crash"]
    finally:
        second.stop()


def test_foreign_host_and_origin_are_refused(daemon: RunningDaemon) -> None:
    for headers in ({"Host": "evil.example"}, {"Origin": "http://evil.example"}, {"Origin": "null"}):
        response = daemon.get("/state/health", headers=headers)
        assert response.status_code == 403, headers
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "DNS-rebinding" in response.json()["detail"]
    port = daemon.url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
        assert daemon.get("/state/health", headers={"Host": host}).status_code == 200
    assert daemon.get("/state/health", headers={"Origin": f"http://localhost:{port}"}).status_code == 200


def test_token_required_on_writes_when_set(tmp_path: Path, workspace: list[Path]) -> None:
    hub = start_daemon(tmp_path / "hub", workspace, env={"DEVHUB_TOKEN": "s3cret"})
    try:
        assert hub.get("/state/health").status_code == 200  # reads stay open on loopback
        body = {"summary": "hello"}
        refused = hub.request("POST", "/progress/", json=body)
        assert refused.status_code == 401 and "bearer token" in refused.json()["detail"]
        wrong = hub.request("POST", "/progress/", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = hub.request("POST", "/progress/", json=body, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 201
        assert [e["summary"] for e in hub.get("/progress/").json()] == ["hello"]
    finally:
        hub.stop()


def test_non_loopback_bind_without_token_is_refused(tmp_path: Path, workspace: list[Path]) -> None:
    from tests.support.daemon import devhub_env, run_cli

    done = run_cli(
        "up",
        "--host",
        "0.0.0.0",
        "--port",
        "0",
        "--no-relay",
        *map(str, workspace),
        env=devhub_env(tmp_path / "d", tmp_path / "c"),
    )
    assert done.returncode != 0 and "DEVHUB_TOKEN" in done.stderr


def test_up_with_nothing_to_serve_says_how_to_register(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.daemon import devhub_env

    done = subprocess.run(
        [sys.executable, "-m", "devhub", "up", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=devhub_env(tmp_path / "d", tmp_path / "c"),
        timeout=30,
    )
    assert done.returncode == 2 and "devhub register" in done.stderr


def test_detach_runs_in_background(tmp_path: Path, workspace: list[Path]) -> None:
    from tests.support.daemon import devhub_env, run_cli

    env = devhub_env(tmp_path / "d", tmp_path / "c")
    started = run_cli("up", "--port", "0", "--no-relay", "--detach", *map(str, workspace), env=env)
    assert started.returncode == 0, started.stderr
    url = started.stdout.split(", ")[1].split(" ")[0]
    assert httpx.get(url + "/state/health").json()["status"] == "ok"
    assert run_cli("down", env=env).returncode == 0
    wait_for(lambda: run_cli("status", env=env).returncode == 3, timeout=10, what="the daemon to be gone")
