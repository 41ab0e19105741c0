"""Shared helpers for the fleet tests: fixture paths and the real CLI in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures" / "fleet"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def run_fleet(tmp_path: Path):
    """Run `python -m devhub fleet ARGS` with its own empty config and data directories."""
    env = {
        **os.environ,
        "DEVHUB_CONFIG_DIR": str(tmp_path / "config"),
        "DEVHUB_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }

    def run(*args: str, cwd: Path = ROOT, timeout: float = 30) -> CliRun:
        proc = subprocess.run(
            [sys.executable, "-m", "devhub", "fleet", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return CliRun(proc.returncode, proc.stdout, proc.stderr)

    return run
