"""An exclusive flock on a file, with the holder's details written inside for the next caller."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any


class FileLockHeld(Exception):
    """The lock is held by someone else; `holder` is what they wrote into the file (maybe empty)."""

    def __init__(self, path: Path, holder: dict[str, Any]) -> None:
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder


def read_holder(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class FileLock:
    """Non-blocking exclusive flock; released on close or process death (kill -9 included)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, holder: dict[str, Any] | None = None) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FileLockHeld(self.path, read_holder(self.path)) from None
        self._fd = fd
        try:
            self.update(holder or {"pid": os.getpid()})
        except OSError:
            self.release()  # e.g. a full disk: nobody must keep a lock that says nothing
            raise
        return self

    def update(self, holder: dict[str, Any]) -> None:
        """Rewrite what the file says about the holder (pid, url, ...)."""
        if self._fd is None:
            raise RuntimeError("lock not held")
        payload = json.dumps(holder, sort_keys=True).encode()
        # Write first, then cut to length: a full disk fails before the old text is gone,
        # and a reader never finds the file empty in between.
        os.pwrite(self._fd, payload, 0)
        os.ftruncate(self._fd, len(payload))

    def release(self) -> None:
        if self._fd is not None:
            try:
                with contextlib.suppress(OSError):  # emptying it is a courtesy; unlocking is what counts
                    os.ftruncate(self._fd, 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def is_locked(path: Path) -> dict[str, Any] | None:
    """The holder's details when someone holds the lock, else None (probes without keeping it)."""
    if not path.exists():
        return None
    probe = FileLock(path)
    try:
        probe.acquire()
    except FileLockHeld as held:
        return held.holder or {"pid": None}
    # Nobody held it: give it back without leaving our pid behind.
    probe.release()
    return None
