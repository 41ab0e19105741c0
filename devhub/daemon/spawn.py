"""Start a daemon process for a data directory, wait until it answers, and stop it: the one lifecycle used by
`devhub up --detach` / `down`, the stdio MCP, the round-trip harness, the tests and the benchmarks.

A start is `python -m devhub ARGS` (usually `up …`) with its output appended to a log. It is ready when the
data dir's daemon.json names *this* process's pid and its URL answers GET /state/health: another daemon
answering for the same data dir is exactly why this one would fail, so it never counts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from devhub.daemon import discovery
from devhub.errors import DaemonError, NotRunning

POLL_SECONDS = 0.05
STOP_TIMEOUT_SECONDS = 20.0


class DaemonExited(DaemonError):
    """The daemon process ended before it answered; `code` is its exit status."""

    def __init__(self, code: int) -> None:
        super().__init__(f"the daemon exited with {code} during start-up")
        self.code = code


class DaemonSilent(DaemonError):
    """The daemon process runs but did not answer (or stop) within the deadline."""

    def __init__(self, timeout: float, pid: int | None = None, doing: str = "answer") -> None:
        super().__init__(f"the daemon{f' (pid {pid})' if pid else ''} did not {doing} within {timeout:.0f}s")
        self.timeout = timeout
        self.pid = pid


def devhub_command(args: Sequence[str]) -> list[str]:
    """The command line that runs `devhub ARGS` with this interpreter (so a worktree runs its own code)."""
    return [sys.executable, "-m", "devhub", *args]


@dataclass
class DaemonProcess:
    """A started daemon process, the data dir it serves, its log and (once it answers) its URL."""

    proc: subprocess.Popen[bytes]
    data_dir: Path
    log_path: Path
    log_offset: int = 0  # where this start's lines begin in a log an earlier run also wrote to
    url: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_until_answering(
        self, timeout: float, *, token: str | None = None, poll: float = POLL_SECONDS, health_timeout: float = 2.0
    ) -> str:
        """Block until this process is the data dir's daemon and answers; its URL. DaemonExited / DaemonSilent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                raise DaemonExited(code)
            info = discovery.read_info(self.data_dir)
            url = info.get("url") if info and info.get("pid") == self.proc.pid else None
            if url and discovery.answers(str(url), token, timeout=health_timeout):
                self.url = str(url)
                return self.url
            time.sleep(poll)
        raise DaemonSilent(timeout)

    def log_since_start(self) -> str:
        """What this start wrote to the log (not an earlier run's lines); empty when there is no log."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(self.log_offset)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, wait for the graceful stop, kill after `timeout` seconds; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> int:
        """SIGKILL at once (a simulated crash, or a start that failed); the exit code."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


def spawn_daemon(
    args: Sequence[str],
    *,
    data_dir: Path,
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    detach: bool = False,
) -> DaemonProcess:
    """Start `devhub ARGS` serving `data_dir`, its output appended to `log_path`; `detach` puts it in its own session.

    The caller's `env` must point DEVHUB_DATA_DIR (or a --data-dir argument) at `data_dir`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        offset = log.seek(0, os.SEEK_END)
        proc = subprocess.Popen(
            devhub_command(args),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=detach,
        )
    return DaemonProcess(proc, data_dir, log_path, log_offset=offset)


def stop_running(data_dir: Path, timeout: float) -> int | None:
    """SIGTERM the daemon that owns `data_dir` and wait until it lets go of the lock; its pid (None if none runs).

    NotRunning when the lock is held by something that names no pid; DaemonSilent when it is still held after
    `timeout` seconds (the daemon is left running: its graceful stop may be finishing a long write).
    """
    holder = discovery.lock_holder(data_dir)
    if not holder:
        return None
    pid = holder.get("pid")
    if not isinstance(pid, int):
        raise NotRunning(f"the daemon lock for {data_dir} is held but names no pid; is a CLI command running?")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not discovery.lock_holder(data_dir):
            return pid
        time.sleep(0.05)
    raise DaemonSilent(timeout, pid, doing="stop")
