"""Fixture folders turned into real git repos in a temp dir."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from devhub.cli.demo import FIXTURES, make_git_repo

FIXTURE_REPOS = FIXTURES / "repos"


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `repo` with a fixed identity; returns stdout."""
    full_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        **(env or {}),
    }
    done = subprocess.run(["git", *args], cwd=repo, env=full_env, check=True, capture_output=True, text=True)
    return done.stdout


def make_workspace(root: Path, names: list[str] | None = None) -> list[Path]:
    """Copy fixtures/repos/<name> (all of them by default) into `root` as committed git repos."""
    root.mkdir(parents=True, exist_ok=True)
    chosen = names or sorted(p.name for p in FIXTURE_REPOS.iterdir() if p.is_dir())
    return [
        make_git_repo(FIXTURE_REPOS / name, root / name, remote=f"https://example.invalid/{name}.git")
        for name in chosen
    ]


def make_repo_from(source: Path, target: Path) -> Path:
    """Any fixture folder (e.g. fixtures/collision/repo-a) as a committed git repo at `target`."""
    return make_git_repo(source, target)
