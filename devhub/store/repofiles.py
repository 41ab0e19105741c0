"""A registered repo's files as devhub may touch them: never outside the repo, never unbounded.

A committed symlink (`workplans/X.md -> ~/.aws/credentials`, or `workplans/ -> /`) must not
make devhub read, serve or write a file outside its repo. So every path is resolved first and
refused when its real path leaves the repo's working tree (or enters a `.git` folder); the
resolved file is then opened without following links, and the opened descriptor's own path is
checked again, so a link swapped in between the check and the open is caught too. Reads are
bounded: the size is checked before reading and the read stops one byte past the bound, so a
file that grows meanwhile cannot get past it.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from devhub.errors import FileRefused

DEFAULT_MAX_WORKPLAN_BYTES = 4 * 1024 * 1024
OUTSIDE_REPO = "symlink-outside-repo"
TOO_LARGE = "file-too-large"

_PROC_FD = Path("/proc/self/fd")
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


class RepoFiles:
    """Resolve, read and replace files under one repo root; FileRefused for anything that leaves it."""

    def __init__(self, root: Path | str, *, max_bytes: int = DEFAULT_MAX_WORKPLAN_BYTES) -> None:
        self.root = os.path.realpath(root)
        self.max_bytes = max_bytes
        self._prefix = self.root.rstrip(os.sep) + os.sep
        self._real_dirs: dict[str, str] = {}  # repo-relative folder -> its real path (folders rarely change)

    # -- where a path really is ------------------------------------------------------------------

    def contains(self, real: str, *, folder: bool = False) -> bool:
        """True when the real path `real` is inside the working tree (the root itself only as a folder)."""
        if real == self.root:
            return folder
        if not real.startswith(self._prefix):
            return False
        return ".git" not in real[len(self._prefix) :].split(os.sep)  # git's private folders, nested ones too

    def locate(self, rel: str) -> tuple[str, os.stat_result]:
        """The real path of `rel` and its stat; FileRefused when it resolves outside, OSError when missing.

        For a refused path the refusal carries no stat of the target: only the link itself is looked at.
        """
        path = os.path.join(self.root, rel)
        link = os.lstat(path)
        if stat.S_ISLNK(link.st_mode):
            real = os.path.realpath(path)
        else:
            parent, name = os.path.split(rel)
            real = os.path.join(self._real_dir(parent), name)
        if not self.contains(real):
            raise self.outside(rel)
        return real, (os.stat(real) if stat.S_ISLNK(link.st_mode) else link)

    def link_stat(self, rel: str) -> os.stat_result | None:
        """lstat of `rel` itself (a refused link's fingerprint), None when it is gone."""
        try:
            return os.lstat(os.path.join(self.root, rel))
        except OSError:
            return None

    def _real_dir(self, rel_dir: str) -> str:
        if rel_dir not in self._real_dirs:
            self._real_dirs[rel_dir] = os.path.realpath(os.path.join(self.root, rel_dir))
        return self._real_dirs[rel_dir]

    def folder_escapes(self, rel_dir: str) -> bool:
        """True when the folder `rel_dir` exists and resolves outside the working tree."""
        real = self._real_dir(rel_dir)
        return os.path.lexists(os.path.join(self.root, rel_dir)) and not self.contains(real, folder=True)

    def outside(self, rel: str) -> FileRefused:
        return FileRefused(rel, OUTSIDE_REPO, "resolves outside its repo (a symlink); not read or written")

    def too_large(self, rel: str, size: int) -> FileRefused:
        bound = f"the {self.max_bytes}-byte bound (DEVHUB_MAX_WORKPLAN_BYTES)"
        return FileRefused(rel, TOO_LARGE, f"{size} bytes is over {bound}; not read")

    def _check_opened(self, fd: int, rel: str, *, folder: bool = False) -> None:
        """Refuse when what was opened is not inside the repo (a link or folder swapped in after `locate`)."""
        try:
            opened = os.readlink(_PROC_FD / str(fd))
        except OSError:
            return  # no /proc (not Linux): O_NOFOLLOW on the resolved path is the guard left
        if not self.contains(opened, folder=folder):
            raise self.outside(rel)

    # -- reading ---------------------------------------------------------------------------------

    def read(self, rel: str) -> bytes:
        """The bytes of `rel`: FileRefused when it leaves the repo or is over the bound, OSError when unreadable."""
        real, _ = self.locate(rel)
        return self.read_located(rel, real)

    def read_located(self, rel: str, real: str) -> bytes:
        """Read the already located real path of `rel` (see `read`)."""
        try:
            fd = os.open(real, _READ_FLAGS)
        except OSError as exc:
            if exc.errno == errno.ELOOP:  # the resolved file became a link after it was located
                raise self.outside(rel) from None
            raise
        try:
            self._check_opened(fd, rel)
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError(f"{rel} is not a regular file")
            if info.st_size > self.max_bytes:
                raise self.too_large(rel, info.st_size)
            os.set_blocking(fd, True)
            chunks: list[bytes] = []
            left = self.max_bytes + 1  # one byte past the bound tells a file that grew meanwhile
            while left > 0:
                chunk = os.read(fd, min(left, 1024 * 1024))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if len(data) > self.max_bytes:
            raise self.too_large(rel, len(data))
        return data

    # -- writing ---------------------------------------------------------------------------------

    def replace(self, rel: str, data: bytes) -> None:
        """Atomically give `rel` these bytes (a temp file in its real folder, then a rename); never leaves the repo.

        An in-repo symlink is written through to its in-repo target, so the link stays a link.
        """
        self._real_dirs.clear()  # a write resolves afresh: a folder may have been swapped since a read
        try:
            real, _ = self.locate(rel)
        except FileNotFoundError:
            real = os.path.join(self._real_dir(os.path.dirname(rel)), os.path.basename(rel))
            if not self.contains(real):
                raise self.outside(rel) from None
        folder, name = os.path.split(real)
        try:
            dir_fd = os.open(folder, _DIR_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(folder):  # swapped for a link
                raise self.outside(rel) from None
            raise
        temp = f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            self._check_opened(dir_fd, rel, folder=True)
            try:
                current = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                mode = 0o644
            else:
                if not stat.S_ISREG(current.st_mode):
                    raise self.outside(rel)  # became a link (or something else) after locate
                mode = stat.S_IMODE(current.st_mode)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            raise
        finally:
            os.close(dir_fd)
