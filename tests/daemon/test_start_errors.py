"""`devhub up` that cannot start says why in one line with an exit code; --detach shows only this start's log."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhub.errors import DaemonError, RegistryError, StorageFull
from tests.support.daemon import RunningDaemon, devhub_env, run_cli, start_daemon

FULL = Path("/dev/full")  # every write to it fails with ENOSPC: a real full disk, without mounting one
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="no /dev/full")


def _up(env: dict[str, str], *paths: Path) -> tuple[int, str]:
    done = run_cli("up", "--port", "0", "--no-relay", *map(str, paths), env=env, timeout=60)
    return done.returncode, done.stderr


def _one_clear_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    return errors[0]


@needs_dev_full
@pytest.mark.parametrize("name", ["daemon.lock", "daemon.json"])
def test_a_full_disk_at_start_is_one_line(tmp_path: Path, workspace: list[Path], name: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / name).symlink_to(FULL)
    code, stderr = _up(devhub_env(data, tmp_path / "config"), *workspace)
    line = _one_clear_line(stderr)
    assert code == StorageFull.exit_code
    assert "disk is full" in line and "No space left on device" in line and "free some space" in line
    assert line.count("disk is full") == 1 and line.count("free some space") == 1, line  # said once


def test_a_data_dir_that_cannot_be_created_is_one_line(tmp_path: Path, workspace: list[Path]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, stderr = _up(devhub_env(blocker / "data", tmp_path / "config"), *workspace)
    line = _one_clear_line(stderr)
    assert code == DaemonError.exit_code and str(blocker) in line


@pytest.mark.parametrize("part", ["journal", "readmodel.sqlite"])
def test_a_hub_that_cannot_open_its_storage_is_one_line(tmp_path: Path, workspace: list[Path], part: str) -> None:
    data = tmp_path / "data"
    data.mkdir()
    blocked = data / part
    if part == "journal":
        blocked.write_text("a file where the journal folder belongs")
    else:
        blocked.mkdir()  # a folder where the database file belongs
    code, stderr = _up(devhub_env(data, tmp_path / "config"), *workspace)
    line = _one_clear_line(stderr)
    assert code == DaemonError.exit_code and "could not start" in line and part in line
    assert not (data / "daemon.json").exists()
    # The lock was let go: once the obstacle is gone, up starts.
    blocked.unlink() if blocked.is_file() else blocked.rmdir()
    start_daemon(tmp_path / "home", data_dir=data, config_dir=tmp_path / "config").stop()


def test_an_unreadable_registry_at_start_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "repos.json").write_text("{ not json")
    code, stderr = _up(devhub_env(tmp_path / "data", config))
    line = _one_clear_line(stderr)
    assert code == RegistryError.exit_code and "registry is unreadable" in line


def test_a_registry_that_cannot_be_written_is_one_line(tmp_path: Path, workspace: list[Path]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = devhub_env(tmp_path / "data", blocker / "config")
    done = run_cli("register", str(workspace[0]), env=env)
    line = _one_clear_line(done.stderr)
    assert done.returncode == RegistryError.exit_code and "registry" in line and str(blocker) in line
    code, stderr = _up(env, *workspace)
    assert code == RegistryError.exit_code and _one_clear_line(stderr)


def _old_log(data_dir: Path) -> str:
    data_dir.mkdir(parents=True, exist_ok=True)
    old = "".join(f"an old run said line {n}\n" for n in range(40))
    (data_dir / "daemon.log").write_text(old)
    return old


def test_a_failed_detached_start_prints_only_its_own_log_lines(daemon: RunningDaemon, workspace: list[Path]) -> None:
    # Another daemon already serves this data dir: the detached child says so and exits.
    old = _old_log(daemon.data_dir)
    done = daemon.cli("up", "--port", "0", "--no-relay", "--detach", *map(str, workspace), timeout=60)
    assert done.returncode == DaemonError.exit_code, done.stdout
    assert "exited during start-up" in done.stderr and "already runs" in done.stderr, done.stderr
    assert "an old run said" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    log = (daemon.data_dir / "daemon.log").read_text()
    assert log.startswith(old) and len(log) > len(old), "the log keeps the old run and gains this one"


def test_a_detached_start_on_a_busy_port_shows_its_own_reason(
    daemon: RunningDaemon, tmp_path: Path, workspace: list[Path]
) -> None:
    data = tmp_path / "other-data"
    _old_log(data)
    env = devhub_env(data, tmp_path / "other-config")
    port = daemon.url.rsplit(":", 1)[1]
    done = run_cli("up", "--port", port, "--no-relay", "--detach", *map(str, workspace), env=env, timeout=60)
    assert done.returncode == DaemonError.exit_code
    assert port in done.stderr and "an old run said" not in done.stderr, done.stderr


def test_the_507_of_a_full_journal_says_it_once(tmp_path: Path, workspace: list[Path]) -> None:
    hub = start_daemon(tmp_path / "hub", workspace, env={"DEVHUB_JOURNAL_MAX_BYTES": "3000"})
    try:
        for n in range(50):
            response = hub.request("POST", "/progress/", json={"summary": f"event {n}"})
            if response.status_code != 201:
                break
        assert response.status_code == 507, response.text
        detail = response.json()["detail"]
    finally:
        hub.stop()
    assert detail.count("nothing was written") == 1, detail
    assert detail.count("devhub journal compact") == 1 and detail.count("DEVHUB_JOURNAL_MAX_BYTES") == 1, detail
    assert detail.count(" is full") == 1, detail


def test_the_507_of_a_full_disk_says_it_once() -> None:
    from devhub.service.hub import storage_full
    from relay.errors import DiskFull
    from relay.journal import Journal
    from relay.simfs import CrashSimFileLayer

    fs = CrashSimFileLayer()
    journal = Journal.open(Path("/sim/journal"), fs=fs)
    journal.append({"kind": "progress", "summary": "fits"})
    fs.capacity = fs.used_bytes() + 10
    with pytest.raises(DiskFull) as caught:
        journal.append({"kind": "progress", "summary": "does not fit"})
    error = storage_full(caught.value)
    assert isinstance(error, StorageFull) and error.status == 507
    assert error.detail.count("nothing was written") == 1, error.detail
    assert error.detail.count("full") == 1 and "Free some space" in error.detail, error.detail
