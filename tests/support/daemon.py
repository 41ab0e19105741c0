"""Start the real devhub daemon as a subprocess on a free loopback port, and talk to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from devhub.daemon.spawn import DaemonExited, DaemonProcess, DaemonSilent, spawn_daemon


class RunningDaemon:
    """A daemon process plus the directories and environment it runs with."""

    def __init__(self, process: DaemonProcess, config_dir: Path, env: dict[str, str]) -> None:
        self.process = process
        self.proc = process.proc
        self.data_dir = process.data_dir
        self.config_dir = config_dir
        self.env = env
        self.log_path = process.log_path
        self.url = ""

    @property
    def port(self) -> int:
        """The loopback port the daemon listens on."""
        return int(self.url.rsplit(":", 1)[1])

    @property
    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data_dir / "daemon.json").read_text())
        return data

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            return c.get(path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, **kwargs)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cli(self, *args: str, check: bool = False, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `devhub ARGS` against this daemon's data and config directories."""
        return run_cli(*args, env=self.env, check=check, timeout=timeout)

    def stop(self, timeout: float = 20.0) -> int:
        return self.process.stop(timeout)

    def kill9(self) -> None:
        self.process.kill()


def devhub_env(data_dir: Path, config_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEVHUB_")}
    env.update({"DEVHUB_DATA_DIR": str(data_dir), "DEVHUB_CONFIG_DIR": str(config_dir), "PYTHONUNBUFFERED": "1"})
    env.update(extra or {})
    return env


def run_cli(
    *args: str, env: dict[str, str], check: bool = False, timeout: float = 60, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "devhub", *args], env=env, capture_output=True, text=True, timeout=timeout, input=input
    )
    if check and done.returncode != 0:
        raise AssertionError(f"devhub {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def start_daemon(
    home: Path,
    repos: Sequence[Path] = (),
    *,
    role: str = "dev",
    args: Sequence[str] = ("--no-relay",),
    env: dict[str, str] | None = None,
    port: int = 0,
    data_dir: Path | None = None,
    config_dir: Path | None = None,
    timeout: float = 30.0,
) -> RunningDaemon:
    """Start `devhub up` (role, repos, args) with its own data/config dirs under `home`; wait until it answers."""
    data_dir = data_dir or home / "data"
    config_dir = config_dir or home / "config"
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = devhub_env(data_dir, config_dir, env)
    log_path = data_dir / f"test-daemon-{role}.log"
    up = ["up", "--port", str(port), "--role", role, *args, *map(str, repos)]
    daemon = RunningDaemon(spawn_daemon(up, data_dir=data_dir, log_path=log_path, env=full_env), config_dir, full_env)
    try:
        daemon.url = daemon.process.wait_until_answering(timeout)
    except DaemonExited as exited:
        daemon.kill9()
        raise AssertionError(f"daemon exited with {exited.code} during start-up:\n{daemon.log()}") from None
    except DaemonSilent:
        daemon.kill9()
        raise AssertionError(f"timed out after {timeout}s waiting for the {role} daemon to answer") from None
    except BaseException:
        daemon.kill9()
        raise
    return daemon
