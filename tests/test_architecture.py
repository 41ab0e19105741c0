"""Import arrows point one way (STYLE.md): the core never reaches for an adapter."""

from __future__ import annotations

import ast
import re
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


def test_the_store_reads_only_the_model_the_records_and_the_parser() -> None:
    allowed = ("devhub.store", "devhub.model", "devhub.records", "devhub.errors", "devhub.registry", "devhub.workplans")
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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """module -> the modules of devhub/ and relay/ it imports anywhere (top level, in functions, TYPE_CHECKING)."""
    modules = {_module_name(p): p for package in ("devhub", "relay") for p in (ROOT / package).rglob("*.py")}

    def known(name: str) -> str | None:
        while name and name not in modules:  # `import a.b.c` where c is a function or class: the module a.b
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    source = node.module or ""
                # `from x import y` depends on the module x.y when y is one, else on x.
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            for target in targets:
                found = known(target)
                if found and found != name:
                    graph[name].add(found)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One concrete cycle (a -> b -> ... -> a) for every strongly connected group of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for group in groups:
        start = min(group)
        paths = {start: [start]}
        queue = [start]
        while queue:  # shortest way from start back to start inside the group
            node = queue.pop(0)
            for nxt in sorted(graph[node] & group):
                if nxt == start:
                    cycles.append([*paths[node], start])
                    queue = []
                    break
                if nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
    return cycles


def test_the_cycle_finder_finds_a_circle_and_passes_a_line() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_in_devhub_or_relay() -> None:
    graph = _import_graph()
    assert "devhub.adapters.api.app" in graph and graph["devhub.daemon.run"]  # the walk found the code
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# A string constant that opens like an SQL statement (keyword, then more text); f-strings are
# checked through their first literal part. Case-sensitive, so prose ("Select a repo") passes.
_SQL_STATEMENT = re.compile(
    r"^\s*(SELECT\s+\S|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s+(RECURSIVE\s+)?\w+"
    r"(\s*\([^)]*\))?\s+AS\s*\(|PRAGMA\s+\w|CREATE\s+(TEMP\s+|UNIQUE\s+|VIRTUAL\s+)*(TABLE|INDEX|VIEW|TRIGGER)\s"
    r"|DROP\s+(TABLE|INDEX|VIEW|TRIGGER)\s|BEGIN(\s+(DEFERRED|IMMEDIATE|EXCLUSIVE))?(\s+TRANSACTION)?\s*;?\s*$"
    r"|COMMIT\s*;?\s*$)"
)
_EXECUTE_CALLS = frozenset({"execute", "executemany", "executescript"})


def _sql_outside_the_store(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL_STATEMENT.match(node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _EXECUTE_CALLS:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls .{node.func.attr}(")
    return found


def test_sql_is_written_only_in_the_store() -> None:
    store = ROOT / "devhub" / "store"
    offenders = [
        finding for path in _modules("devhub") if store not in path.parents for finding in _sql_outside_the_store(path)
    ]
    assert offenders == [], "move the statement into a named function in devhub/store/ and call that"


def test_the_sql_detector_sees_statements_and_ignores_prose() -> None:
    for sql in (
        "SELECT id FROM tasks",
        "  INSERT INTO meta VALUES (?, ?)",
        "UPDATE tasks SET status = ?",
        "DELETE FROM progress WHERE seq = ?",
        "WITH t AS (SELECT 1) SELECT * FROM t",
        "PRAGMA journal_mode=WAL",
        "CREATE VIRTUAL TABLE x USING fts5(a)",
        "DROP TABLE files",
        "BEGIN IMMEDIATE",
        "COMMIT",
    ):
        assert _SQL_STATEMENT.match(sql), sql
    for prose in ("Select a repo", "DELETE /messages/{id}", "UPDATE", "BEGIN here", "With a key", "Created"):
        assert not _SQL_STATEMENT.match(prose), prose


def _importers_of_the_store(package: str) -> set[str]:
    return {
        str(path.relative_to(ROOT))
        for path in _modules(package)
        if any(name == "devhub.store" or name.startswith("devhub.store.") for name in _imports(path))
    }


def test_adapters_and_the_cli_do_not_import_the_store() -> None:
    importers = _importers_of_the_store("devhub.adapters") | _importers_of_the_store("devhub.cli")
    assert sorted(importers) == [], "go through the hub port (devhub.service), not devhub.store"
