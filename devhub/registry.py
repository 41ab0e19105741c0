"""Repo registration (the C-06 path): identity from git, persisted in the config directory.

The registry is a small JSON file outside the database so that a rebuild, or
deleting the database, never forgets which repos were registered.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from devhub.errors import NotFound, RegistryError, from_os_error

WORKPLANS_DIR = "workplans"

# A slug is part of every row key (`repo:path`, `task:repo:id`) and of URLs, so it must not hold
# the separators those use, nor control characters; the length bound keeps keys and listings sane.
MAX_SLUG_LENGTH = 100
_SLUG_FORBIDDEN = re.compile(r"[:/\\\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Repo:
    """A registered checkout and its git state at the time it was last looked at."""

    slug: str
    path: str  # absolute
    remote: str | None
    branch: str | None
    head: str | None
    dirty: bool
    is_git: bool

    @property
    def root(self) -> Path:
        return Path(self.path)

    @property
    def has_workplans(self) -> bool:
        return (self.root / WORKPLANS_DIR).is_dir()


@dataclass(frozen=True, slots=True)
class RegisterOutcome:
    repo: Repo
    warnings: tuple[str, ...]


def _slug_from_classification(root: Path) -> str | None:
    marker = root / ".repo-classification.yaml"
    if not marker.is_file():
        return None
    import yaml

    try:
        data = yaml.load(marker.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError, OSError):
        return None
    slug = data.get("slug") if isinstance(data, dict) else None
    return str(slug).strip() or None if slug else None


def _slug_from_remote(url: str | None) -> str | None:
    if not url:
        return None
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    name = name.removesuffix(".git")
    return name or None


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a repo, or None when it can."""
    if not slug:
        return "it would be empty"
    if slug != slug.strip():
        return "it would start or end with white space"
    if slug in {".", ".."}:
        return f"{slug!r} is not a name"
    if _SLUG_FORBIDDEN.search(slug):
        return f"{slug!r} holds ':', '/', '\\' or a control character"
    if len(slug) > MAX_SLUG_LENGTH:
        return f"it would be longer than {MAX_SLUG_LENGTH} characters"
    return None


def inspect_repo(path: Path) -> RegisterOutcome:
    """Read a checkout's identity (slug, remote, branch, HEAD, dirty) without registering it."""
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise RegistryError(f"{path}: not a directory")
    warnings: list[str] = []
    remote = branch = head = None
    dirty = False
    is_git = (root / ".git").exists()
    if is_git:
        import git

        try:
            repo = git.Repo(root)
            remotes = {r.name: r for r in repo.remotes}
            chosen = remotes.get("origin") or next(iter(remotes.values()), None)
            if chosen is not None:
                remote = next(iter(chosen.urls), None)
            try:
                branch = repo.active_branch.name
            except TypeError:
                branch = None  # detached HEAD
            try:
                head = repo.head.commit.hexsha
            except ValueError:
                head = None  # no commits yet
            dirty = repo.is_dirty(untracked_files=False)
        except git.exc.GitError as exc:
            warnings.append(f"{root}: git could not read this checkout ({exc}); registered as a plain folder")
            is_git = False
    else:
        warnings.append(f"{root}: not a git repository; registered without branch, HEAD or dirty state")
    slug = _slug_from_classification(root) or _slug_from_remote(remote) or root.name
    outcome = Repo(slug=slug, path=str(root), remote=remote, branch=branch, head=head, dirty=dirty, is_git=is_git)
    if not outcome.has_workplans:
        warnings.append(f"{root}: has no {WORKPLANS_DIR}/ folder; nothing to read until one exists")
    return RegisterOutcome(outcome, tuple(warnings))


def _folder(raw: str | Path) -> Path:
    """The absolute folder a PATH argument names; a clear RegistryError for anything else."""
    if isinstance(raw, str) and not raw.strip():
        raise RegistryError("an empty path names no folder; give the path of a repo checkout")
    try:
        resolved = Path(raw).expanduser().resolve(strict=True)
    except FileNotFoundError:
        raise RegistryError(f"{raw}: does not exist") from None
    except (OSError, ValueError, RuntimeError) as exc:  # a name too long, a NUL byte, `~user` with no such user, a loop
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise RegistryError(f"{str(raw)[:200]!r}: not a usable path ({reason})") from None
    if not resolved.is_dir():
        raise RegistryError(f"{raw}: not a directory")
    return resolved


def _is_checkout(path: Path) -> bool:
    return (path / ".git").exists() or (path / WORKPLANS_DIR).is_dir()


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Each PATH that is a checkout itself, or the checkouts one level below it that have workplans/."""
    found: list[Path] = []
    for raw in paths:
        path = _folder(raw)
        try:
            if _is_checkout(path):
                found.append(path)
                continue
            children = sorted(child for child in path.iterdir() if child.is_dir() and (child / WORKPLANS_DIR).is_dir())
        except OSError as exc:
            raise RegistryError(f"{raw}: cannot be read ({exc})") from None
        if not children:
            raise RegistryError(
                f"{raw}: not a git repository, has no {WORKPLANS_DIR}/ folder and no repo with one directly "
                "below it; give the path of a repo checkout (or of a folder of them)"
            )
        found.extend(children)
    return found


def _refuse_unusable_slugs(outcomes: list[RegisterOutcome], registered: list[Repo]) -> None:
    """Every new slug must be usable and name exactly one checkout, or nothing is registered."""
    owner = {repo.slug: repo.path for repo in registered}
    for outcome in outcomes:
        repo = outcome.repo
        problem = slug_problem(repo.slug)
        if problem is not None:
            shown = repo.path if repo.path.isprintable() else repr(repo.path)  # the error stays one line
            raise RegistryError(
                f"{shown}: no usable slug ({problem}); set one with `slug: NAME` in its .repo-classification.yaml"
            )
        taken_by = owner.setdefault(repo.slug, repo.path)
        if taken_by != repo.path:
            raise RegistryError(
                f"{repo.path}: the slug {repo.slug!r} is already registered for {taken_by}; unregister that one "
                f"first, or give this checkout its own slug in {repo.path}/.repo-classification.yaml"
            )


class Registry:
    """The persisted list of registered repos (JSON in the config directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def repos(self) -> list[Repo]:
        """Every registered repo, in slug order."""
        if not self.path.exists():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            rows = data["repos"]
            return sorted((Repo(**row) for row in rows), key=lambda r: (r.slug, r.path))
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(
                f"{self.path}: the repo registry is unreadable ({exc}); fix or delete it and register again"
            ) from exc

    def get(self, slug: str) -> Repo:
        for repo in self.repos():
            if repo.slug == slug:
                return repo
        raise NotFound(f"no registered repo with slug {slug!r}")

    def register(self, paths: Iterable[str | Path]) -> list[RegisterOutcome]:
        """Register each path (a folder of repos counts one level down); re-registering refreshes.

        All or nothing: one path that is no checkout, or has no usable slug, refuses the whole call.
        """
        outcomes = [inspect_repo(path) for path in expand_paths(paths)]
        registered = self.repos()
        refreshed = {outcome.repo.path for outcome in outcomes}
        _refuse_unusable_slugs(outcomes, [repo for repo in registered if repo.path not in refreshed])
        by_path = {repo.path: repo for repo in registered}
        for outcome in outcomes:
            by_path[outcome.repo.path] = outcome.repo
        self._save(by_path.values())
        return outcomes

    def refresh(self) -> list[Repo]:
        """Re-read git state (branch, HEAD, dirty) of every registered repo that still exists."""
        fresh = [inspect_repo(Path(r.path)).repo if Path(r.path).is_dir() else r for r in self.repos()]
        self._save(fresh)
        return fresh

    def unregister(self, slug: str) -> Repo:
        repos = self.repos()
        matches = [r for r in repos if r.slug == slug]
        if not matches:
            raise NotFound(f"no registered repo with slug {slug!r}")
        self._save(r for r in repos if r.slug != slug)
        return matches[0]

    def _save(self, repos: Iterable[Repo]) -> None:
        rows = sorted((asdict(r) for r in repos), key=lambda r: (r["slug"], r["path"]))
        payload = json.dumps({"version": 1, "repos": rows}, indent=2, sort_keys=True) + "\n"
        try:
            self._replace(payload)
        except OSError as exc:
            raise from_os_error(exc, f"cannot save the repo registry {self.path}", otherwise=RegistryError) from None

    def _replace(self, payload: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic replace so a crash never leaves a half-written registry.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".repos.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
