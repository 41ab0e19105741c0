"""File watching: turns filesystem events into "these workplan files changed" / "this repo switched branch".

Roots are narrow: each repo's `workplans/` folder (recursive, for `archived/`) and its
`.git` folder non-recursively (only `HEAD` matters: a branch switch means a rescan).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from devhub.registry import WORKPLANS_DIR, Repo
from devhub.store.repofiles import RepoFiles

log = logging.getLogger("devhub.service.watch")

OnFiles = Callable[[Repo, set[str]], Awaitable[None]]
OnBranch = Callable[[Repo], Awaitable[None]]
OnRootLost = Callable[[Path], None]  # called with the repo's root


@dataclass
class WatchState:
    """What the watcher is doing, for `devhub status` and /state/health."""

    mode: str = "stopped"  # inotify | polling | stopped
    roots: int = 0
    events: int = 0
    warning: str | None = None
    repos: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "roots": self.roots, "events": self.events, "warning": self.warning}


def _is_watch_limit(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "watch limit" in text or "no space left" in text or "too many open files" in text


class Watcher:
    """Watches every registered repo and calls back with repo-relative changed paths."""

    def __init__(
        self,
        repos: list[Repo],
        on_files: OnFiles,
        on_branch: OnBranch,
        *,
        force_polling: bool = False,
        on_root_lost: OnRootLost | None = None,
    ) -> None:
        self.repos = repos
        self.on_files = on_files
        self.on_branch = on_branch
        self.on_root_lost = on_root_lost
        self.state = WatchState()
        self._force_polling = force_polling
        self._stop = asyncio.Event()

    def _roots(self) -> tuple[list[Path], list[Path]]:
        # A workplans/ folder that is a link out of its repo is not watched (`workplans -> /` would
        # watch the whole disk); the build reports it as `symlink-outside-repo`.
        workplan_roots = [
            repo.root / WORKPLANS_DIR
            for repo in self.repos
            if (repo.root / WORKPLANS_DIR).is_dir() and not RepoFiles(repo.root).folder_escapes(WORKPLANS_DIR)
        ]
        git_roots = [repo.root / ".git" for repo in self.repos if (repo.root / ".git").is_dir()]
        return workplan_roots, git_roots

    def _locate(self, path: str) -> tuple[Repo, str] | None:
        target = Path(path)
        for repo in self.repos:
            try:
                rel = target.relative_to(repo.root)
            except ValueError:
                continue
            return repo, rel.as_posix()
        return None

    async def run(self) -> None:
        """Watch until stop(); falls back to polling (with a warning) when inotify is exhausted."""
        workplan_roots, git_roots = self._roots()
        self.state.roots = len(workplan_roots) + len(git_roots)
        self.state.repos = [r.slug for r in self.repos]
        if not workplan_roots and not git_roots:
            self.state.mode = "idle"
            await self._stop.wait()
            return
        polling = self._force_polling
        while not self._stop.is_set():
            self.state.mode = "polling" if polling else "inotify"
            try:
                await asyncio.gather(
                    self._watch(workplan_roots, recursive=True, polling=polling),
                    self._watch(git_roots, recursive=False, polling=polling),
                )
                return
            except OSError as exc:
                if polling or not _is_watch_limit(exc):
                    raise
                self.state.warning = f"inotify watch limit reached ({exc}); falling back to polling"
                log.warning(self.state.warning)
                polling = True

    async def _watch(self, roots: list[Path], *, recursive: bool, polling: bool) -> None:
        if not roots:
            return
        import watchfiles

        watched = {str(root) for root in roots}

        def wanted(change: watchfiles.Change, path: str) -> bool:
            if path in watched:
                # watchfiles stops watching a deleted root for good: whoever restarts us must know.
                if change == watchfiles.Change.deleted and self.on_root_lost is not None:
                    self.on_root_lost(Path(path).parent)
                return False
            if recursive:
                return path.endswith(".md")
            return Path(path).name == "HEAD"

        async for changes in watchfiles.awatch(
            *roots,
            watch_filter=wanted,
            debounce=200,
            step=5,
            stop_event=self._stop,
            recursive=recursive,
            force_polling=polling,
            poll_delay_ms=100,
        ):
            self.state.events += len(changes)
            await self._dispatch({path for _change, path in changes}, branch=not recursive)

    async def _dispatch(self, paths: set[str], *, branch: bool) -> None:
        by_repo: dict[str, tuple[Repo, set[str]]] = {}
        for path in paths:
            located = self._locate(path)
            if located is None:
                continue
            repo, rel = located
            by_repo.setdefault(repo.slug, (repo, set()))[1].add(rel)
        for repo, rels in by_repo.values():
            try:
                if branch:
                    await self.on_branch(repo)
                else:
                    await self.on_files(repo, rels)
            except Exception:  # one repo's failure must not stop the watcher for the others
                log.exception("watch: handling changes in %s failed", repo.slug)

    def stop(self) -> None:
        self._stop.set()
