"""A temp HOME, project and config dir seeded with the client configs in fixtures/clients/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "clients"
SECRET = "secret-value"


@dataclass
class Workspace:
    """Where one test's client configs live, and how to run the real CLI against them."""

    home: Path
    project: Path
    config_dir: Path
    env: dict[str, str]

    # The files `devhub profile use` knows, by a short name used in the tests.
    @property
    def files(self) -> dict[str, Path]:
        return {
            "claude-code-project": self.project / ".mcp.json",
            "claude-code-user": self.home / ".claude.json",
            "claude-desktop": self.home / ".config" / "Claude" / "claude_desktop_config.json",
            "cursor-project": self.project / ".cursor" / "mcp.json",
            "cursor-user": self.home / ".cursor" / "mcp.json",
            "vscode-project": self.project / ".vscode" / "mcp.json",
            "codex": self.home / ".codex" / "config.toml",
        }

    def seed(self) -> None:
        """Copy every fixture client config into place."""
        sources = {
            "claude-code-project": FIXTURES / "claude-code" / "project.mcp.json",
            "claude-code-user": FIXTURES / "claude-code" / "claude.json",
            "claude-desktop": FIXTURES / "claude-desktop" / "claude_desktop_config.json",
            "cursor-project": FIXTURES / "cursor" / "project-mcp.json",
            "cursor-user": FIXTURES / "cursor" / "home-mcp.json",
            "vscode-project": FIXTURES / "vscode" / "mcp.json",
            "codex": FIXTURES / "codex" / "config.toml",
        }
        for key, source in sources.items():
            target = self.files[key]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        self.files["claude-code-user"].chmod(0o600)  # Claude Code keeps ~/.claude.json private

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `python -m devhub ARGS` in the project directory with this workspace's environment."""
        result = subprocess.run(
            [sys.executable, "-m", "devhub", *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            command = " ".join(args)
            output = result.stdout + result.stderr
            raise AssertionError(f"devhub {command} exited {result.returncode}:\n{output}")
        return result

    def snapshot(self) -> dict[Path, bytes]:
        """Every file under HOME, the project and the config dir, with its bytes."""
        found: dict[Path, bytes] = {}
        for root in (self.home, self.project, self.config_dir):
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    found[path] = path.read_bytes()
        return found


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    home, project, config_dir = tmp_path / "home", tmp_path / "project", tmp_path / "config"
    for directory in (home, project, config_dir):
        directory.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEVHUB_", "XDG_")) and k not in ("CODEX_HOME", "APPDATA")
    }
    env.update(
        HOME=str(home),
        DEVHUB_CONFIG_DIR=str(config_dir),
        DEVHUB_DATA_DIR=str(tmp_path / "data"),
        STATE_HUB_TOKEN=SECRET,
        PYTHONPATH=str(REPO),
    )
    return Workspace(home, project, config_dir, env)


@pytest.fixture
def seeded(workspace: Workspace) -> Workspace:
    workspace.seed()
    return workspace


WriteProfile = Callable[[str, str], Path]


@pytest.fixture
def user_profile(workspace: Workspace) -> WriteProfile:
    """Write `<config_dir>/profiles/NAME.toml` with the given text."""

    def write(name: str, text: str) -> Path:
        path = workspace.config_dir / "profiles" / f"{name}.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write
