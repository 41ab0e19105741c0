"""REST reads of the hub's recent past (the dashboard's charts draw exactly these numbers)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from devhub.adapters.api.read_routes import hub_of


@get("/state/activity", summary="Progress events and status changes per UTC day, by workplan or domain")
async def activity(request: Request[Any, Any, Any], days: int = 30, by: str = "workplan") -> dict[str, Any]:
    return dict(await hub_of(request).activity(days, by))


@get("/workplans/{ident:str}/history", summary="A workplan's done/total after each local status write")
async def workplan_history(request: Request[Any, Any, Any], ident: str, repo: str | None = None) -> dict[str, Any]:
    return dict(await hub_of(request).workplan_history(ident, repo))


@get("/relay/history", summary="The relay queue's depth and oldest pending age, sampled, over the last hours")
async def relay_history(request: Request[Any, Any, Any], hours: int = 24) -> dict[str, Any]:
    return dict(await hub_of(request).relay_history(hours))


TIME_ROUTES = [activity, workplan_history, relay_history]
