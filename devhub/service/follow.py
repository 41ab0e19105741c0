"""Follow what a running daemon serves: the registry file and each registered folder, looked at four times a second.

`devhub register`/`unregister` and hand edits only rewrite the registry file, and a repo
folder can be deleted, moved away or re-created under a running daemon. inotify sees
neither reliably (watchfiles silently stops watching a deleted root, and a re-created
folder is a new inode nobody watches), so a few stat() calls per tick decide instead: the
registry file's identity, and the device and inode of every repo's root, `workplans/` and
`.git` folder. A change calls back; the hub rescans and restarts its watcher.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from devhub.errors import RegistryError
from devhub.registry import WORKPLANS_DIR, Registry, Repo

log = logging.getLogger("devhub.service.follow")

FOLLOW_INTERVAL_SECONDS = 0.25

Identity = tuple[int, int] | None  # (st_dev, st_ino) of a folder; None when no folder is there


def _folder_identity(path: Path) -> Identity:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _file_identity(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


@dataclass(frozen=True, slots=True)
class Folders:
    """Which of a repo's folders exist, by identity: another identity means another folder."""

    root: Identity
    workplans: Identity
    git: Identity

    @classmethod
    def of(cls, repo: Repo) -> Folders:
        root = repo.root
        return cls(_folder_identity(root), _folder_identity(root / WORKPLANS_DIR), _folder_identity(root / ".git"))

    @property
    def missing(self) -> bool:
        return self.root is None


class RepoFollower:
    """Calls `on_registry` when the registry file changes and `on_folders` when registered folders do."""

    def __init__(
        self,
        registry_path: Path,
        served: Callable[[], list[Repo]],
        on_registry: Callable[[list[Repo]], Awaitable[None]],
        on_folders: Callable[[list[Repo]], Awaitable[None]],
        *,
        interval: float = FOLLOW_INTERVAL_SECONDS,
    ) -> None:
        self.registry_path = registry_path
        self.served = served
        self.on_registry = on_registry
        self.on_folders = on_folders
        self.interval = interval
        self._registry_file = _file_identity(registry_path)
        self._folders: dict[str, Folders] = {}
        self._lost: set[str] = set()
        self._stop = asyncio.Event()

    def missing(self) -> list[Repo]:
        """Served repos whose folder was not there at the last look."""
        looked = self._folders
        return [repo for repo in self.served() if repo.path in looked and looked[repo.path].missing]

    def folder_lost(self, repo_root: Path) -> None:
        """The watcher saw a watched folder itself go: look again even if it is back with the same inode."""
        self._lost.add(str(repo_root))

    async def run(self) -> None:
        """Look until stop(); one failed look is logged and the next one tries again."""
        self._folders = await asyncio.to_thread(self._look, self.served())
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
            except TimeoutError:
                pass
            if self._stop.is_set():
                return
            try:
                await self.tick()
            except Exception:  # a failing rescan must not end the following for good
                log.exception("follow: looking at the registry and repo folders failed")

    def stop(self) -> None:
        self._stop.set()

    async def tick(self) -> None:
        identity = await asyncio.to_thread(_file_identity, self.registry_path)
        if identity != self._registry_file:
            self._registry_file = identity
            try:
                registered = await asyncio.to_thread(Registry(self.registry_path).repos)
            except RegistryError as exc:
                log.warning("%s; still serving the repos registered before", exc.detail)
            else:
                await self.on_registry(registered)
        served = self.served()
        now = await asyncio.to_thread(self._look, served)
        lost, self._lost = self._lost, set()
        # A repo seen for the first time was just scanned by whoever started serving it.
        changed = [
            repo
            for repo in served
            if repo.path in self._folders and (now[repo.path] != self._folders[repo.path] or repo.path in lost)
        ]
        self._folders = now
        if changed:
            await self.on_folders(changed)

    @staticmethod
    def _look(repos: list[Repo]) -> dict[str, Folders]:
        return {repo.path: Folders.of(repo) for repo in repos}
