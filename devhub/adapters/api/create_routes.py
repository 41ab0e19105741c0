"""REST routes that create work offline: POST /tasks/, POST /workplans/ (alias /workstreams/), DELETE (archive).

Thin adapters over the port (service/writes_create.py does the work). `/workstreams/…` are the
real hub's legacy names of the same routes: one handler serves both paths.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post

from devhub.adapters.api.read_routes import hub_of
from devhub.adapters.api.write_routes import _agent, _answer, _body, _key


@post("/tasks", summary="Create a task in a workplan (offline; the next free -Tnn id)")
async def create_task(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).create_task(body, _key(request), _agent(request)))


@post(["/workplans", "/workstreams"], summary="Create a workplan (offline; the repo's next <PREFIX>-WP-nnnn id)")
async def create_workplan(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).create_workplan(body, _key(request), _agent(request)))


@delete(
    ["/workplans/{ident:str}", "/workstreams/{ident:str}"],
    summary="Archive a workplan (as the real hub's DELETE: status archived)",
    status_code=200,
)
async def archive_workplan(
    request: Request[Any, Any, Any], ident: str, repo: str | None = None
) -> Response[dict[str, Any]]:
    return _answer(await hub_of(request).archive_workplan(ident, repo, _key(request), _agent(request)))


@get(
    ["/workplans/{ident:str}/dependencies", "/workstreams/{ident:str}/dependencies"],
    summary="A workplan's dependencies (its file's ## Dependencies, plus those added here)",
)
async def list_dependencies(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> list[Any]:
    return list(await hub_of(request).dependencies(ident, repo))


@post(
    ["/workplans/{ident:str}/dependencies", "/workstreams/{ident:str}/dependencies"],
    summary="Make a workplan depend on another (to_workstream_id)",
)
async def create_dependency(
    request: Request[Any, Any, Any], ident: str, repo: str | None = None
) -> Response[dict[str, Any]]:
    body = await _body(request)
    return _answer(await hub_of(request).create_dependency(ident, repo, body, _key(request), _agent(request)))


@delete(
    ["/workplans/{ident:str}/dependencies/{dep_id:str}", "/workstreams/{ident:str}/dependencies/{dep_id:str}"],
    summary="Remove a workplan dependency (dep_id: the prerequisite's id or UUID)",
    status_code=200,
)
async def delete_dependency(
    request: Request[Any, Any, Any], ident: str, dep_id: str, repo: str | None = None
) -> Response[dict[str, Any]]:
    return _answer(await hub_of(request).delete_dependency(ident, dep_id, repo, _key(request), _agent(request)))


CREATE_ROUTES = [
    create_task,
    create_workplan,
    archive_workplan,
    list_dependencies,
    create_dependency,
    delete_dependency,
]
