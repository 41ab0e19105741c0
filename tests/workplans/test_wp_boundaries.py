"""The parser package's public surface and its one-way imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import devhub.workplans as workplans

PACKAGE = Path(workplans.__file__).parent
ALLOWED = {"yaml", "devhub.model", "devhub.errors", "devhub.workplans"}


def test_public_surface() -> None:
    assert sorted(workplans.__all__) == ["PROBLEM_CODES", "is_workplan_path", "parse_workplan"]
    for name in workplans.__all__:
        assert getattr(workplans, name) is not None


def test_parser_imports_only_stdlib_yaml_model_and_errors() -> None:
    for source in PACKAGE.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or name == "__future__":
                    continue
                assert any(name == a or name.startswith(a + ".") for a in ALLOWED), f"{source.name}: {name}"
