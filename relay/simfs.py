"""An in-memory FileLayer that simulates power loss: crash() keeps only what was fsynced.

File contents and directory entries are made durable separately (fsync vs
fsync_dir), exactly the distinction a real crash exposes: a file created or
renamed whose directory was never fsynced vanishes (or reverts) on crash().
A space budget (`capacity`) makes writes fail part-way with ENOSPC.
"""

from __future__ import annotations

import errno
import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.fslayer import FileLayer, LockHeld


class PowerCut(BaseException):
    """Raised by a mutating call once the budget set by cut_power_after() is spent (not an OSError)."""


@dataclass
class _Inode:
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""
    mtime: float = field(default_factory=time.time)


class CrashSimFileLayer(FileLayer):
    """Volatile and durable views of files and directory entries; crash() drops the volatile one."""

    def __init__(self, capacity: int | None = None) -> None:
        self.capacity = capacity  # total bytes the "disk" holds; None is unlimited
        self.fsync_calls = 0
        self.fsync_dir_calls = 0
        self._dirs: set[Path] = set()
        self._entries: dict[Path, dict[str, _Inode]] = {}
        self._durable_entries: dict[Path, dict[str, _Inode]] = {}
        self._locks: dict[Path, int] = {}
        self._lock_ids = itertools.count(1)
        self._guard = threading.RLock()
        self.operations = 0  # mutating calls so far (append, write_new, fsync, fsync_dir, truncate, ...)
        self._power_budget: int | None = None

    # -- simulation controls -------------------------------------------------------------

    def crash(self, torn: random.Random | None = None) -> None:
        """Power loss: un-fsynced directory entries and bytes are gone, every lock released.

        With `torn`, a random prefix of each file's un-fsynced appended bytes survives,
        as when the disk wrote back part of the page cache before the power went.
        """
        with self._guard:
            self._entries = {d: dict(names) for d, names in self._durable_entries.items()}
            for names in self._entries.values():
                for inode in names.values():
                    pending = bytes(inode.data)
                    kept = inode.durable
                    if torn is not None and pending.startswith(kept) and len(pending) > len(kept):
                        kept = pending[: torn.randint(len(kept), len(pending))]
                    inode.data = bytearray(kept)
                    inode.durable = kept
            self._locks.clear()

    def cut_power_after(self, operations: int | None) -> None:
        """Let `operations` more mutating calls run, then raise PowerCut from the next one (None: never)."""
        self._power_budget = operations

    def kill_process(self) -> None:
        """A process death without power loss: locks are released, every written byte stays."""
        with self._guard:
            self._locks.clear()

    def _step(self) -> None:
        self.operations += 1
        if self._power_budget is not None:
            if self._power_budget <= 0:
                raise PowerCut(f"power cut before mutating call {self.operations}")
            self._power_budget -= 1

    def used_bytes(self) -> int:
        """Bytes currently used by all files (the volatile view)."""
        with self._guard:
            return sum(len(i.data) for names in self._entries.values() for i in names.values())

    def set_mtime(self, path: Path, mtime: float) -> None:
        """Pretend a file was last modified at mtime (for retention tests)."""
        self._inode(path).mtime = mtime

    # -- helpers ---------------------------------------------------------------------------

    def _inode(self, path: Path) -> _Inode:
        with self._guard:
            inode = self._entries.get(path.parent, {}).get(path.name)
            if inode is None:
                raise FileNotFoundError(errno.ENOENT, "No such file", str(path))
            return inode

    def _require_dir(self, path: Path) -> dict[str, _Inode]:
        if path not in self._dirs:
            raise FileNotFoundError(errno.ENOENT, "No such directory", str(path))
        return self._entries.setdefault(path, {})

    # -- FileLayer ---------------------------------------------------------------------------

    def makedirs(self, path: Path) -> None:
        with self._guard:
            for directory in [path, *path.parents]:
                self._dirs.add(directory)
                self._entries.setdefault(directory, {})
                self._durable_entries.setdefault(directory, {})

    def listdir(self, path: Path) -> list[str]:
        with self._guard:
            return sorted(self._entries.get(path, {})) if path in self._dirs else []

    def exists(self, path: Path) -> bool:
        with self._guard:
            return path in self._dirs or path.name in self._entries.get(path.parent, {})

    def read(self, path: Path) -> bytes:
        return bytes(self._inode(path).data)

    def size(self, path: Path) -> int:
        return len(self._inode(path).data)

    def mtime(self, path: Path) -> float:
        return self._inode(path).mtime

    def _write(self, inode: _Inode, data: bytes) -> None:
        room = len(data) if self.capacity is None else max(0, self.capacity - self.used_bytes())
        inode.data += data[:room]
        inode.mtime = time.time()
        if room < len(data):
            raise OSError(errno.ENOSPC, "No space left on device (simulated)")

    def append(self, path: Path, data: bytes) -> None:
        with self._guard:
            self._step()
            names = self._require_dir(path.parent)
            inode = names.get(path.name)
            if inode is None:
                inode = names[path.name] = _Inode()
            self._write(inode, data)

    def write_new(self, path: Path, data: bytes) -> None:
        with self._guard:
            self._step()
            names = self._require_dir(path.parent)
            inode = names.get(path.name)
            if inode is None:
                inode = names[path.name] = _Inode()
            inode.data = bytearray()
            self._write(inode, data)

    def fsync(self, path: Path) -> None:
        with self._guard:
            self._step()
            inode = self._inode(path)
            inode.durable = bytes(inode.data)
            self.fsync_calls += 1

    def fsync_dir(self, path: Path) -> None:
        with self._guard:
            self._step()
            self._durable_entries[path] = dict(self._require_dir(path))
            self.fsync_dir_calls += 1

    def truncate(self, path: Path, size: int) -> None:
        with self._guard:
            self._step()
            inode = self._inode(path)
            del inode.data[size:]

    def rename(self, source: Path, target: Path) -> None:
        with self._guard:
            self._step()
            inode = self._inode(source)
            del self._entries[source.parent][source.name]
            self._require_dir(target.parent)[target.name] = inode

    def remove(self, path: Path) -> None:
        with self._guard:
            self._step()
            self._inode(path)
            del self._entries[path.parent][path.name]

    def close(self, path: Path) -> None:
        return None

    def lock(self, path: Path) -> object:
        with self._guard:
            if path in self._locks:
                raise LockHeld(self.read_lock_holder(path))
            handle = next(self._lock_ids)
            self._locks[path] = handle
            self.write_new(path, b'{"pid": 0, "host": "simulated"}')
            return (path, handle)

    def unlock(self, handle: object) -> None:
        with self._guard:
            assert isinstance(handle, tuple)
            path, number = handle
            if self._locks.get(path) == number:
                del self._locks[path]

    def describe(self) -> dict[str, Any]:
        """A debugging view: per directory, names with volatile and durable sizes."""
        with self._guard:
            return {
                str(d): {n: (len(i.data), len(i.durable)) for n, i in names.items()}
                for d, names in self._entries.items()
                if names
            }
