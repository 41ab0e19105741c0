"""The fleet State Hub's read tools by their real names: domains, topics, repos, the domain summary, and the
legacy `*_workstream*` names of the workplan tools. Thin adapters over the HubPort, like server.py's.

`run` is server.py's: it turns a port call into the tool's answer (the REST JSON) or a ToolError.
"""

# No `from __future__ import annotations`: the SDK reads these signatures at runtime.

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp_types import CallToolResult
from pydantic import Field

from devhub.service.filters import one_workplan_id
from devhub.service.port import HubPort, WorkplanFilters
from devhub.service.records_statehub import RepoFilters

Run = Callable[[Awaitable[Any]], Awaitable[CallToolResult]]

Repo = Annotated[str | None, Field(description="Registered repo slug; disambiguates an id used in two repos")]
WorkstreamId = Annotated[str, Field(description="Workplan (workstream) id, e.g. CUST-WP-0054, or its State Hub UUID")]
StatusWord = Annotated[
    str | None,
    Field(description="proposed, ready, active, blocked, backlog, finished, archived (done/completed accepted)"),
]
TopicId = Annotated[str | None, Field(description="Topic slug, or the fleet topic UUID recorded for it")]
IdempotencyKey = Annotated[
    str | None,
    Field(description="Retry-safe key: the same key with the same arguments is applied once (kept 14 days)"),
]
Agent = Annotated[str | None, Field(description="Who is writing (agent name), recorded with the write")]


class StateHubTools:
    """One method per tool; each calls the HubPort method of the REST endpoint it mirrors."""

    def __init__(self, backend: HubPort, run: Run) -> None:
        self.backend = backend
        self._run = run

    # -- domains, topics, repos --------------------------------------------------------------------

    async def get_domain_summary(
        self, domain_slug: Annotated[str, Field(description="Domain slug, e.g. infotech")]
    ) -> CallToolResult:
        """Start here inside a domain repo: the domain's topic(s), active workstreams, blocking decisions, 5 recent
        events, repos with SBOM status, capabilities and goal guidance (GET /domains/{slug}/summary).
        """
        return await self._run(self.backend.domain_summary(domain_slug))

    async def list_domains(self) -> CallToolResult:
        """Domains named by the workplan files, with repo and workstream counts (GET /domains/)."""
        return await self._run(self.backend.domains())

    async def get_topic(
        self, slug: Annotated[str, Field(description="Topic slug (or its fleet UUID)")]
    ) -> CallToolResult:
        """One topic with its workstreams and recent events (GET /topics/{slug})."""
        return await self._run(self.backend.topic(slug))

    async def list_domain_repos(
        self,
        domain_slug: str,
        category: str | None = None,
        capability_tag: str | None = None,
        business_stake: str | None = None,
    ) -> CallToolResult:
        """Registered repos of one domain, optionally by classification (GET /repos/?domain=…)."""
        filters = RepoFilters(
            domain=domain_slug, category=category, capability_tag=capability_tag, business_stake=business_stake
        )
        return await self._run(self.backend.repo_catalog(filters))

    async def list_repos_by_classification(
        self,
        category: str | None = None,
        domain: str | None = None,
        capability_tag: str | None = None,
        business_stake: str | None = None,
    ) -> CallToolResult:
        """Registered repos matching every given classification field of .repo-classification.yaml (GET /repos/)."""
        filters = RepoFilters(
            domain=domain, category=category, capability_tag=capability_tag, business_stake=business_stake
        )
        return await self._run(self.backend.repo_catalog(filters))

    async def get_repo_dispatch(
        self, repo_slug: Annotated[str, Field(description="Registered repo slug")]
    ) -> CallToolResult:
        """A repo's open workstreams with their pending tasks, and its human interventions (GET
        /repos/{slug}/dispatch); goals and interface changes are fleet-only and answered empty.
        """
        return await self._run(self.backend.repo_dispatch(repo_slug))

    async def validate_repo_adr(
        self,
        repo_path: Annotated[str, Field(description="Path of a registered checkout (or its slug)")],
        domain_slug: Annotated[str | None, Field(description="The domain every workplan should name")] = None,
    ) -> CallToolResult:
        """ADR-001 checks devhub can run offline: the workplans folder, frontmatter, ids and task blocks (the
        parser's problems) and, with domain_slug, each workplan's domain. `not_checked` lists the fleet-side checks.
        """
        return await self._run(self.backend.validate_repo_adr(repo_path, domain_slug))

    # -- workstreams: the legacy name of workplans -------------------------------------------------

    async def list_workstreams(
        self,
        topic_id: TopicId = None,
        status: StatusWord = None,
        domain: str | None = None,
        repo: Repo = None,
        topic_slug: str | None = None,
        q: Annotated[str | None, Field(description="Full-text filter on title and body")] = None,
    ) -> CallToolResult:
        """Workstreams (workplans) matching every given filter, in planning order (GET /workstreams/)."""
        filters = WorkplanFilters(
            status=status, domain=domain, repo=repo, topic_slug=topic_slug, topic_id=topic_id, q=q
        )
        return await self._run(self.backend.workplans(filters))

    async def get_workstream(self, workstream_id: WorkstreamId, repo: Repo = None) -> CallToolResult:
        """One workstream (workplan) with its tasks (GET /workstreams/{id})."""
        return await self._run(self.backend.workplan(workstream_id, repo))

    async def update_workstream_status(
        self,
        workstream_id: WorkstreamId,
        status: Annotated[str, Field(description="A workplan status word (done/completed mean finished)")],
        agent: Agent = None,
        repo: Repo = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Set a workstream's (workplan's) status (PATCH /workstreams/{id}); journaled, works offline."""
        body = {"status": status} | ({"agent": agent} if agent else {})
        return await self._run(self.backend.patch_workplan(workstream_id, repo, body, idempotency_key))

    async def update_workplan_status(
        self,
        status: Annotated[str, Field(description="A workplan status word (done/completed mean finished)")],
        workplan_id: Annotated[str | None, Field(description="Workplan id or State Hub UUID")] = None,
        workstream_id: Annotated[str | None, Field(description="Legacy name of workplan_id")] = None,
        agent: Agent = None,
        repo: Repo = None,
        idempotency_key: IdempotencyKey = None,
    ) -> CallToolResult:
        """Set a workplan's status (PATCH /workplans/{id}); journaled, works offline."""
        body = {"status": status} | ({"agent": agent} if agent else {})
        return await self._run(self._patch_workplan(workplan_id, workstream_id, repo, body, idempotency_key))

    async def _patch_workplan(
        self,
        workplan_id: str | None,
        workstream_id: str | None,
        repo: str | None,
        body: dict[str, Any],
        key: str | None,
    ) -> Any:
        from devhub.errors import BadRequest

        ident = one_workplan_id(workplan_id, workstream_id)  # a refusal here is a tool error, raised in _run
        if ident is None:
            raise BadRequest("workplan_id is required", {"workplan_id": "required"})
        return await self.backend.patch_workplan(ident, repo, body, key)


STATEHUB_READ_TOOLS = (
    "get_domain_summary",
    "list_domains",
    "get_topic",
    "list_domain_repos",
    "list_repos_by_classification",
    "get_repo_dispatch",
    "validate_repo_adr",
    "list_workstreams",
    "get_workstream",
)
STATEHUB_WRITE_TOOLS = ("update_workstream_status", "update_workplan_status")
