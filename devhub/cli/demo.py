"""The demo workspace behind `make dev-hub`: each fixtures/repos/* folder becomes a real git repo."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"

_GIT_ENV = {
    "GIT_AUTHOR_NAME": "devhub demo",
    "GIT_AUTHOR_EMAIL": "demo@devhub.invalid",
    "GIT_COMMITTER_NAME": "devhub demo",
    "GIT_COMMITTER_EMAIL": "demo@devhub.invalid",
}


def make_git_repo(source: Path, target: Path, *, remote: str | None = None) -> Path:
    """Copy a fixture folder to `target` and commit it as a fresh repo on branch main."""
    shutil.copytree(source, target)
    env = {**os.environ, **_GIT_ENV}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=target, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "Import workplans")
    if remote:
        git("remote", "add", "origin", remote)
    return target


def build_demo_workspace(workspace: Path, fixtures: Path = FIXTURES) -> list[Path]:
    """Create (once) a git repo per fixtures/repos/* folder under `workspace`; returns their paths."""
    source_root = fixtures / "repos"
    if not source_root.is_dir():
        raise FileNotFoundError(f"{source_root} is missing: run from a devhub checkout, or pass REPOS")
    workspace.mkdir(parents=True, exist_ok=True)
    repos = []
    for source in sorted(p for p in source_root.iterdir() if p.is_dir()):
        target = workspace / source.name
        if not target.exists():
            make_git_repo(source, target, remote=f"https://gitea.coulomb.social/coulomb/{source.name}.git")
        repos.append(target)
    return repos
