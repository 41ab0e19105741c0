"""The State Hub's read vocabulary served from an in-process Hub: domains, topics, repos, the real summary
shapes, next steps, ADR validation and the consistency fix (LocalHub delegates here, one line each)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from devhub.errors import NotFound
from devhub.service.classification import read_classification
from devhub.service.records_statehub import (
    AdrValidation,
    CatalogRepo,
    DomainRecord,
    DomainSummary,
    NextStep,
    RepoDispatch,
    RepoFilters,
    TopicDetail,
    TopicRecord,
    WritebackReport,
)
from devhub.store.catalog import fleet_identity

if TYPE_CHECKING:
    from devhub.service.hub import Hub
    from devhub.store.reader import Reader

# The detail texts of the real hub's 404s (FastAPI `HTTPException(404, "<Thing> not found")`, as its
# "Task not found" is; the exact words for these three are inferred, see docs/compat.md).
DOMAIN_NOT_FOUND = "Domain not found"
TOPIC_NOT_FOUND = "Topic not found"
REPO_NOT_FOUND = "Repo not found"

# What validate_repo_adr cannot check offline: it needs the fleet database.
ADR_FLEET_ONLY_CHECKS = [
    "state_hub_workstream_id resolves to a fleet workstream",
    "orphan fleet workstreams without a workplan file",
]


class StateHubReads:
    """Every read-parity operation over one Hub's read model."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def domains(self) -> list[DomainRecord]:
        from devhub.store import catalog

        return cast(list[DomainRecord], await self.hub.read(catalog.list_domains))

    async def domain(self, slug: str) -> DomainRecord:
        from devhub.store import catalog

        found = await self.hub.read(lambda r: catalog.get_domain(r, slug))
        if found is None:
            raise NotFound(DOMAIN_NOT_FOUND, slug=slug)
        return cast(DomainRecord, found)

    async def topics(self, domain: str | None = None) -> list[TopicRecord]:
        from devhub.store import catalog

        return cast(list[TopicRecord], await self.hub.read(lambda r: catalog.list_topics(r, domain=domain)))

    async def topic(self, slug: str) -> TopicDetail:
        from devhub.store import catalog, statehub_views

        async def query(reader: Reader) -> dict[str, Any] | None:
            topic = await catalog.get_topic(reader, slug)
            return None if topic is None else await statehub_views.topic_detail(reader, topic)

        found = await self.hub.read(query)
        if found is None:
            raise NotFound(TOPIC_NOT_FOUND, slug=slug)
        return cast(TopicDetail, found)

    async def topic_slug(self, topic_id: str) -> str | None:
        """The topic slug a `topic_id` filter names (a slug or a recorded fleet UUID), None when no topic has it."""
        from devhub.store import catalog

        return await self.hub.read(lambda r: catalog.topic_slug_for(r, topic_id))

    async def repos(self, filters: RepoFilters | None = None) -> list[CatalogRepo]:
        from devhub.store import catalog

        rows = await self.hub.read(catalog.list_catalog_repos)
        repos = [await asyncio.to_thread(_classified, row) for row in rows]
        return [r for r in repos if _matches(r, filters or {})]

    async def repo(self, slug: str) -> CatalogRepo:
        found = next((r for r in await self.repos() if slug in (r["slug"], r["id"])), None)
        if found is None:
            raise NotFound(REPO_NOT_FOUND, slug=slug)
        return found

    async def repo_dispatch(self, slug: str) -> RepoDispatch:
        from devhub.store import statehub_views

        repo = await self.repo(slug)
        return cast(RepoDispatch, await self.hub.read(lambda r: statehub_views.repo_dispatch(r, dict(repo))))

    async def state_overview(self) -> dict[str, Any]:
        from devhub.store import statehub_views

        return await self.hub.read(statehub_views.state_overview)

    async def domain_summary(self, domain_slug: str) -> DomainSummary:
        from devhub.store import statehub_views

        domain = await self.domain(domain_slug)
        repos = [dict(r) for r in await self.repos()]
        summary = await self.hub.read(lambda r: statehub_views.domain_summary(r, dict(domain), repos))
        return cast(DomainSummary, summary)

    async def next_steps(self) -> list[NextStep]:
        from devhub.store import statehub_views

        return cast(list[NextStep], await self.hub.read(statehub_views.next_steps))

    async def validate_repo_adr(self, repo_path: str, domain_slug: str | None = None) -> AdrValidation:
        """ADR-001 checks on a registered checkout (by path or slug): the parser's problems and, with
        `domain_slug`, workplans naming another domain. The fleet-side checks are listed as not run."""
        from devhub.store import activity

        repo = await self._registered(repo_path)
        problems = await self.hub.read(lambda r: activity.list_problems(r, repo=repo["slug"]))
        errors = [p for p in problems if p["severity"] == "error"]
        warnings = [p for p in problems if p["severity"] == "warning"]
        if not repo["has_workplans"]:
            errors.append({"code": "no-workplans-dir", "message": f"{repo['path']} has no workplans/ folder"})
        if domain_slug is not None:
            from devhub.store import queries

            for w in await self.hub.read(lambda r: queries.list_workplans(r, repo=repo["slug"])):
                if w["domain"] != domain_slug:
                    warnings.append(
                        {
                            "code": "domain-mismatch",
                            "location": f"{w['path']}:1",
                            "message": f"{w['id']} names domain {w['domain']!r}, not {domain_slug!r}",
                        }
                    )
        return {
            "repo": repo["slug"],
            "repo_path": repo["path"],
            "domain_slug": domain_slug,
            "valid": not errors,
            "errors": errors,
            "warnings": warnings,
            "not_checked": list(ADR_FLEET_ONLY_CHECKS),
            "source": "local",
        }

    async def _registered(self, path_or_slug: str) -> CatalogRepo:
        wanted: str | None = None
        if "/" in path_or_slug:
            try:
                wanted = str(Path(path_or_slug).expanduser().resolve())
            except (OSError, RuntimeError, ValueError):  # a NUL byte, ~unknown-user, a loop: no registered repo
                wanted = None
        for repo in await self.repos():
            if path_or_slug == repo["slug"] or (wanted is not None and str(Path(repo["path"]).resolve()) == wanted):
                return repo
        raise NotFound(
            f"{REPO_NOT_FOUND}: no registered repo at {path_or_slug!r}; register it first (register_repo)",
            repo_path=path_or_slug,
        )

    async def writeback_repo(self, repo_slug: str) -> WritebackReport:
        """The local writeback for one repo, as `devhub writeback --commit --repo` (the fix the pending-writeback
        finding names): files edited, one commit; then the read model re-reads them so the next check sees them."""
        from devhub.reconcile import writeback as wb

        repo = await self.repo(repo_slug)
        pending = await self.hub.read(lambda r: wb.collect_pending(r, repo["slug"]))
        plan = wb.plan_writeback(pending, max_file_bytes=self.hub.config.max_workplan_bytes)
        written = await asyncio.to_thread(wb.apply_plan, plan)
        commits = await asyncio.to_thread(wb.commit_edits, written) if written else []
        paths = sorted({edit.path for edit in written})
        if paths:
            await self.hub.sync_files(repo["slug"], paths)
        return {
            "repo": repo["slug"],
            "changes": wb.as_dicts([change for edit in written for change in edit.changes]),
            "conflicts": wb.as_dicts(plan.refusals),
            "skipped": list(plan.skipped),
            "written_paths": paths,
            "commits": wb.as_dicts(commits),
        }


def _classified(row: dict[str, Any]) -> CatalogRepo:
    """A catalog row with its .repo-classification.yaml fields; a classified domain wins over the derived one."""
    found = read_classification(row["path"])
    classified_domain = found.pop("classified_domain")
    repo = dict(row) | found
    if classified_domain:
        repo["domain"] = repo["domain_slug"] = classified_domain
        repo["domain_id"] = fleet_identity("domain", classified_domain)
        repo["domains"] = sorted({*repo["domains"], classified_domain})
    return cast(CatalogRepo, repo)


def _matches(repo: CatalogRepo, filters: RepoFilters) -> bool:
    domain = filters.get("domain")
    if domain is not None and domain not in repo.get("domains", []):
        return False
    for key in ("category", "business_stake"):
        wanted = filters.get(key)
        if wanted is not None and repo.get(key) != wanted:
            return False
    tag = filters.get("capability_tag")
    return tag is None or tag in repo.get("capability_tags", [])
