"""The small file-system surface the journal, cursor and dead letters use, so tests can simulate power loss.

Every path is a `pathlib.Path`. Appends go through cached descriptors so a hot
write path costs one write() and one fsync() per batch, nothing more.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class LockHeld(Exception):
    """Raised by FileLayer.lock when another holder has the lock; `holder` is what it wrote."""

    def __init__(self, holder: dict[str, Any]) -> None:
        super().__init__(repr(holder))
        self.holder = holder


class FileLayer(ABC):
    """The I/O primitives with their durability meaning: nothing is durable until fsync / fsync_dir."""

    @abstractmethod
    def makedirs(self, path: Path) -> None:
        """Create a directory (and parents) durably; no error if it exists."""

    @abstractmethod
    def listdir(self, path: Path) -> list[str]:
        """Names in a directory (empty if the directory does not exist)."""

    @abstractmethod
    def exists(self, path: Path) -> bool:
        """Whether a file or directory exists."""

    @abstractmethod
    def read(self, path: Path) -> bytes:
        """A file's whole content (FileNotFoundError if absent)."""

    @abstractmethod
    def size(self, path: Path) -> int:
        """A file's size in bytes."""

    @abstractmethod
    def mtime(self, path: Path) -> float:
        """A file's last modification time (epoch seconds)."""

    @abstractmethod
    def append(self, path: Path, data: bytes) -> None:
        """Append data at the end of a file, creating it; on error some prefix of data may be written."""

    @abstractmethod
    def write_new(self, path: Path, data: bytes) -> None:
        """Create or replace a file's content with data (not durable until fsync)."""

    @abstractmethod
    def fsync(self, path: Path) -> None:
        """Make a file's content durable."""

    @abstractmethod
    def fsync_dir(self, path: Path) -> None:
        """Make a directory's entries (creations, renames, removals) durable."""

    @abstractmethod
    def truncate(self, path: Path, size: int) -> None:
        """Cut a file to size bytes (not durable until fsync)."""

    @abstractmethod
    def rename(self, source: Path, target: Path) -> None:
        """Atomically replace target by source (not durable until fsync_dir)."""

    @abstractmethod
    def remove(self, path: Path) -> None:
        """Remove a file (not durable until fsync_dir)."""

    @abstractmethod
    def close(self, path: Path) -> None:
        """Forget any cached descriptor for path."""

    @abstractmethod
    def lock(self, path: Path) -> object:
        """Take an exclusive non-blocking lock on path, recording our pid; LockHeld if taken."""

    @abstractmethod
    def unlock(self, handle: object) -> None:
        """Release a lock returned by lock()."""

    def read_lock_holder(self, path: Path) -> dict[str, Any]:
        """What the current holder wrote into the lock file (empty if unreadable)."""
        try:
            parsed = json.loads(self.read(path).decode("utf-8", "replace") or "{}")
        except (OSError, ValueError):
            return {}
        return parsed if isinstance(parsed, dict) else {}


def lock_holder_record() -> bytes:
    """The JSON a lock holder writes into the lock file: pid, host and since."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since}).encode()


class OsFileLayer(FileLayer):
    """The real file system through os; append descriptors are cached per path."""

    def __init__(self) -> None:
        self._fds: dict[Path, int] = {}
        self._guard = threading.Lock()

    def _fd(self, path: Path) -> int:
        fd = self._fds.get(path)
        if fd is None:
            with self._guard:
                fd = self._fds.get(path)
                if fd is None:
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
                    self._fds[path] = fd
        return fd

    def makedirs(self, path: Path) -> None:
        missing = []
        probe = path
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        path.mkdir(parents=True, exist_ok=True)
        for created in reversed(missing):
            self.fsync_dir(created.parent)

    def listdir(self, path: Path) -> list[str]:
        try:
            return os.listdir(path)
        except FileNotFoundError:
            return []

    def exists(self, path: Path) -> bool:
        return path.exists()

    def read(self, path: Path) -> bytes:
        return path.read_bytes()

    def size(self, path: Path) -> int:
        return os.stat(path).st_size

    def mtime(self, path: Path) -> float:
        return os.stat(path).st_mtime

    def append(self, path: Path, data: bytes) -> None:
        fd = self._fd(path)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def write_new(self, path: Path, data: bytes) -> None:
        self.close(path)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def fsync(self, path: Path) -> None:
        fd = self._fds.get(path)
        if fd is not None:
            os.fsync(fd)
            return
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def fsync_dir(self, path: Path) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def truncate(self, path: Path, size: int) -> None:
        os.truncate(path, size)

    def rename(self, source: Path, target: Path) -> None:
        self.close(source)
        self.close(target)
        os.replace(source, target)

    def remove(self, path: Path) -> None:
        self.close(path)
        os.remove(path)

    def close(self, path: Path) -> None:
        with self._guard:
            fd = self._fds.pop(path, None)
        if fd is not None:
            os.close(fd)

    def lock(self, path: Path) -> object:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(self.read_lock_holder(path)) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, lock_holder_record(), 0)
        return fd

    def unlock(self, handle: object) -> None:
        assert isinstance(handle, int)
        try:
            fcntl.flock(handle, fcntl.LOCK_UN)
        finally:
            os.close(handle)
