"""REST routes of the State Hub's read vocabulary: domains, topics, repos by slug, a repo's dispatch,
`GET /state/next_steps`, and the domain summary (thin adapters over the port; shapes in
service/records_statehub.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get

from devhub.adapters.api.read_routes import hub_of
from devhub.errors import BadRequest


@get("/domains", summary="Domains named by the workplan files, with repo and workstream counts")
async def domains(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return [dict(d) for d in await hub_of(request).domains()]


@get("/domains/{slug:str}", summary="One domain by slug (404 'Domain not found')")
async def domain(request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
    return dict(await hub_of(request).domain(slug))


@get("/domains/{slug:str}/summary", summary="get_domain_summary: topics, active workstreams, decisions, events, repos")
async def domain_summary(request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
    return dict(await hub_of(request).domain_summary(slug))


@get("/topics", summary="Topics named by the workplan files (filter: domain / domain_slug)")
async def topics(
    request: Request[Any, Any, Any], domain: str | None = None, domain_slug: str | None = None
) -> list[dict[str, Any]]:
    if domain is not None and domain_slug is not None and domain != domain_slug:
        raise BadRequest("domain and domain_slug differ; give one", {"domain_slug": "must equal domain"})
    return [dict(t) for t in await hub_of(request).topics(domain if domain is not None else domain_slug)]


@get("/topics/{slug:str}", summary="One topic (slug or fleet UUID) with its workstreams and recent events")
async def topic(request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
    return dict(await hub_of(request).topic(slug))


@get("/repos/{slug:str}", summary="One registered repo by slug (404 'Repo not found')")
async def repo(request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
    return dict(await hub_of(request).repo(slug))


@get("/repos/{slug:str}/dispatch", summary="A repo's open workstreams with pending tasks, and human interventions")
async def repo_dispatch(request: Request[Any, Any, Any], slug: str) -> dict[str, Any]:
    return dict(await hub_of(request).repo_dispatch(slug))


@get("/state/next_steps", summary="Suggestions: a cleared dependency points to the first todo task it unblocks")
async def next_steps(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in await hub_of(request).next_steps()]


STATEHUB_ROUTES = [domains, domain, domain_summary, topics, topic, repo, repo_dispatch, next_steps]
