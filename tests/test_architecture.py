"""Import arrows point one way (STYLE.md): the core never reaches for an adapter."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADAPTERS = (
    "devhub.adapters.api",
    "devhub.adapters.mcp",
    "devhub.adapters.dashboard",
    "devhub.cli.main",
    "devhub.cli.read",
    "devhub.cli.write",
    "devhub.cli.daemon",
    "devhub.cli.journal",
    "devhub.cli.profile",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> list[Path]:
    base = ROOT / package.replace(".", "/")
    return sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]


def test_the_core_never_imports_an_adapter() -> None:
    core = [
        "devhub.store",
        "devhub.workplans",
        "devhub.service.writes",
        "devhub.model",
        "devhub.errors",
        "devhub.registry",
        "devhub.settings",
        "devhub.service.checks",
        "devhub.service.hub",
    ]
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in core
        for path in _modules(package)
        for name in _imports(path)
        if any(name == a or name.startswith(a + ".") for a in ADAPTERS)
    ]
    assert offenders == []


def test_the_store_reads_only_the_model_and_the_parser() -> None:
    allowed = ("devhub.store", "devhub.model", "devhub.errors", "devhub.registry", "devhub.workplans")
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules("devhub.store")
        for name in _imports(path)
        if name.startswith("devhub") and not any(name == a or name.startswith(a + ".") for a in allowed)
    ]
    assert offenders == []


def test_relay_knows_nothing_of_devhub() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}" for p in _modules("relay") if any(n.startswith("devhub") for n in _imports(p))
    ]
    assert offenders == []
