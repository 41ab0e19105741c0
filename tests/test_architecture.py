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


# Circles that another branch of issue #14 is removing at the same time; each entry must still be a circle here
# (the test says so when it is gone), and nothing else may join the list.
KNOWN_CIRCLES = {
    # hall-settings (`settings`) injects what start_relay needs instead of the whole Hub: remove when merged.
    frozenset({"devhub.service.hub", "devhub.service.relay_link"}),
}


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
    known = [c for c in cycles if frozenset(c) in KNOWN_CIRCLES]
    new = [" -> ".join(c) for c in cycles if frozenset(c) not in KNOWN_CIRCLES]
    assert new == [], "import cycles:\n" + "\n".join(new)
    gone = KNOWN_CIRCLES - {frozenset(c) for c in known}
    assert not gone, f"no longer a circle, remove from KNOWN_CIRCLES: {sorted(map(sorted, gone))}"
