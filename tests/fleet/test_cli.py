"""The `fleet` click group: light imports, every command documented in docs/fleet.md."""

from __future__ import annotations

import subprocess
import sys

import click

from tests.fleet.conftest import ROOT


def test_fleet_group_imports_no_heavy_packages() -> None:
    code = (
        "import sys, devhub.cli.fleet as c, devhub.fleet.checks, devhub.fleet.drain, devhub.fleet.tunnels;"
        "heavy = [m for m in ('httpx', 'litestar', 'mcp', 'sqlite_utils', 'git') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_every_fleet_command_is_documented() -> None:
    from devhub.cli.fleet import fleet

    docs = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")

    def walk(group: click.Group, prefix: str) -> list[str]:
        names = []
        for name, command in group.commands.items():
            full = f"{prefix} {name}"
            names.append(full)
            if isinstance(command, click.Group):
                names.extend(walk(command, full))
        return names

    commands = walk(fleet, "devhub fleet")
    assert "devhub fleet tunnels probe" in commands
    missing = [c for c in commands if f"`{c}" not in docs]
    assert missing == []


def test_every_rule_is_documented_with_its_severity() -> None:
    from devhub.fleet.checks import RULES

    docs = (ROOT / "docs" / "fleet.md").read_text(encoding="utf-8")
    for rule, severity in RULES.items():
        assert f"| `{rule}` | {severity} |" in docs, rule
