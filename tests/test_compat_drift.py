"""Drift: docs/compat.md against what devhub really serves.

Every row marked `same` or `extra` names routes the app registers and tools the `dev-hub` MCP
server lists; every registered route and tool has a row; a `different` row says why. The routes
come from the composed app itself (REST, /mcp and the dashboard, as the daemon serves them) and
the tools from the server's own tools/list, so a route added anywhere is seen here.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conformance.steps import Rest
from tests.conformance.templates import TEMPLATES

ROOT = Path(__file__).resolve().parents[1]
COMPAT = ROOT / "docs" / "compat.md"
STATUSES = {"same", "extra", "different"}
ROUTE = re.compile(r"^(GET|POST|PATCH|PUT|DELETE|ANY) (/\S*)$")
IGNORED_METHODS = {"OPTIONS", "HEAD"}


@dataclass(frozen=True)
class Row:
    table: str  # "REST routes" or "MCP tools"
    real: str
    devhub: tuple[str, ...]  # the backticked names in the devhub column
    status: str
    notes: str


def normalised(route: str) -> str:
    """`GET /tasks/{ident:str}/` and `GET /tasks/{task_id}` are one route: parameters blanked, no trailing slash."""
    method, _, path = route.partition(" ")
    path = re.sub(r"\{[^}]*\}", "{}", path).rstrip("/") or "/"
    return f"{method} {path}"


def compat_rows() -> list[Row]:
    rows, table = [], None
    for line in COMPAT.read_text().splitlines():
        if line.startswith("## "):
            table = line[3:].strip()
            continue
        if table not in ("REST routes", "MCP tools") or not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if cells[0] in ("real route", "real tool"):
            continue
        assert len(cells) == 5, f"compat.md row does not have 5 cells: {line}"
        rows.append(Row(table, cells[0], tuple(re.findall(r"`([^`]+)`", cells[1])), cells[2], cells[4]))
    return rows


def registered_routes() -> set[str]:
    from devhub.daemon.app import compose_app
    from devhub.service.hub import Hub
    from devhub.settings import Settings

    scratch = Path(__import__("tempfile").mkdtemp(prefix="devhub-compat-"))
    app = compose_app(Hub(Settings(data_dir=scratch / "data", config_dir=scratch / "config", no_relay=True)))
    routes = set()
    for route in app.routes:
        methods = set(getattr(route, "methods", ()) or ()) - IGNORED_METHODS
        for method in methods or {"ANY"}:  # an ASGI mount (/mcp) answers every method
            routes.add(normalised(f"{method} {route.path}"))
    return routes


def registered_tools() -> set[str]:
    from devhub.adapters.mcp.server import build_server
    from devhub.service.hub import Hub
    from devhub.service.local import LocalHub
    from devhub.settings import Settings

    scratch = Path(__import__("tempfile").mkdtemp(prefix="devhub-compat-"))
    hub = Hub(Settings(data_dir=scratch / "data", config_dir=scratch / "config", no_relay=True))
    return {tool.name for tool in asyncio.run(build_server(LocalHub(hub)).list_tools())}


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    parsed = compat_rows()
    assert len([r for r in parsed if r.table == "REST routes"]) > 40 and len(parsed) > 80, "the tables were read"
    return parsed


def test_every_row_has_a_known_status_and_a_reason_when_different(rows: list[Row]) -> None:
    assert [r.real for r in rows if r.status not in STATUSES] == []
    assert [r.real for r in rows if r.status == "different" and not r.notes] == []
    assert [r.devhub for r in rows if r.status == "extra" and r.real != "—"] == [], "an extra has no real twin"
    assert [r.real for r in rows if r.status in ("same", "extra") and not r.devhub] == []


def test_every_route_marked_served_is_registered(rows: list[Row]) -> None:
    served = registered_routes()
    claimed = {
        normalised(name) for r in rows if r.table == "REST routes" and r.status != "different" for name in r.devhub
    }
    bad = [name for r in rows if r.table == "REST routes" for name in r.devhub if not ROUTE.match(name)]
    assert bad == [], "devhub route cells hold `METHOD /path`"
    assert sorted(claimed - served) == [], "rows marked same/extra whose route the app does not register"


def test_every_registered_route_has_a_row(rows: list[Row]) -> None:
    documented = {normalised(name) for r in rows if r.table == "REST routes" for name in r.devhub}
    assert sorted(registered_routes() - documented) == [], "registered routes with no row in docs/compat.md"


def test_every_tool_marked_served_is_registered(rows: list[Row]) -> None:
    claimed = {name for r in rows if r.table == "MCP tools" and r.status != "different" for name in r.devhub}
    assert sorted(claimed - registered_tools()) == [], "rows marked same/extra whose tool the server does not list"


def test_every_registered_tool_has_a_row(rows: list[Row]) -> None:
    documented = {name for r in rows if r.table == "MCP tools" for name in r.devhub}
    assert sorted(registered_tools() - documented) == [], "listed tools with no row in docs/compat.md"


def test_every_call_the_templates_make_is_a_same_row(rows: list[Row]) -> None:
    """The conformance templates only call what the table says devhub serves as the real hub does."""
    same_routes = {
        normalised(name) for r in rows if r.table == "REST routes" and r.status == "same" for name in r.devhub
    }
    same_tools = {name for r in rows if r.table == "MCP tools" and r.status == "same" for name in r.devhub}
    called = {
        (step.call.method + " " + step.call.path) if isinstance(step.call, Rest) else step.call.name
        for template in TEMPLATES
        for step in template.steps
    }
    missing = [c for c in called if (normalised(c) not in same_routes if " /" in c else c not in same_tools)]
    assert sorted(missing) == [], "template calls without a `same` row in docs/compat.md"
