"""Named result types of the State Hub read-parity operations (domains, topics, repos, summaries).

Each is the JSON the REST route answers and the MCP tool returns. Where the fleet holds data devhub
cannot derive from the files (UUIDs, SBOM dates, goals, capabilities, interface changes), the key is
present with an empty value, and `source` says the object was derived from the workplan files.
"""

from __future__ import annotations

from typing import Any, TypedDict

JsonObject = dict[str, Any]


class RepoFilters(TypedDict, total=False):
    """GET /repos/ query parameters (the real hub's classification filters)."""

    domain: str | None
    category: str | None
    capability_tag: str | None
    business_stake: str | None


class DomainRecord(TypedDict):
    """One row of GET /domains/ (GET /domains/{slug}/)."""

    id: str
    slug: str
    name: str
    description: str | None
    status: str
    created_at: str | None
    updated_at: str | None
    repo_count: int
    workstream_count: int
    active_workstream_count: int
    ep_count: int | None
    td_count: int | None
    repos: list[str]
    topics: list[str]
    source: str


class TopicRecord(TypedDict):
    """One row of GET /topics/."""

    id: str
    slug: str
    name: str
    title: str
    description: str | None
    domain_id: str | None
    domain_slug: str | None
    domains: list[str]
    repos: list[str]
    workstream_count: int
    active_workstream_count: int
    source: str


class TopicDetail(TopicRecord):
    """GET /topics/{slug} and `get_topic`: the topic with its workstreams and recent events."""

    workstreams: list[JsonObject]
    recent_events: list[JsonObject]


class CatalogRepo(TypedDict, total=False):
    """One row of GET /repos/ (GET /repos/{slug}/): the State Hub's repo keys plus devhub's git and model state."""

    id: str
    slug: str
    name: str
    domain: str | None
    domain_slug: str | None
    domain_id: str | None
    domains: list[str]
    topics: list[str]
    status: str
    last_sbom_at: str | None
    last_state_synced_at: str | None
    category: str | None
    capability_tags: list[str]
    business_stake: str | None
    business_mechanics: str | None
    classification_source: str | None
    path: str
    remote: str | None
    branch: str | None
    head: str | None
    dirty: bool
    is_git: bool
    has_workplans: bool
    workplans: int
    tasks: int
    files: int
    errors: int
    warnings: int
    missing: bool


class RepoDispatch(TypedDict):
    """GET /repos/{slug}/dispatch: active goal, open workstreams with pending tasks, human interventions."""

    repo: CatalogRepo
    active_goal: JsonObject | None
    workstreams: list[JsonObject]
    human_interventions: list[JsonObject]
    pending_interface_changes: list[JsonObject]
    source: str


class DomainSummary(TypedDict):
    """`get_domain_summary(domain_slug)`: the session protocol's first call."""

    domain: DomainRecord
    topic: TopicRecord | None
    topics: list[TopicRecord]
    active_workstreams: list[JsonObject]
    blocking_decisions: list[JsonObject]
    recent_events: list[JsonObject]
    repos: list[JsonObject]
    capabilities: list[JsonObject]
    goal_guidance: JsonObject


class NextStep(TypedDict):
    """One suggestion of GET /state/next_steps (item keys inferred; see docs/compat.md)."""

    kind: str
    reason: str
    workstream_id: str
    workplan_id: str
    state_hub_workstream_id: str | None
    workstream_title: str | None
    task_id: str
    state_hub_task_id: str | None
    task_title: str
    repo: str
    cleared_dependencies: list[str]


class AdrValidation(TypedDict):
    """`validate_repo_adr`: the ADR-001 checks devhub can run locally on a registered checkout."""

    repo: str
    repo_path: str
    domain_slug: str | None
    valid: bool
    errors: list[JsonObject]
    warnings: list[JsonObject]
    not_checked: list[str]
    source: str


class WritebackReport(TypedDict):
    """What `check_repo_consistency(fix=True)` wrote and committed: the local writeback for one repo."""

    repo: str
    changes: list[JsonObject]
    conflicts: list[JsonObject]
    skipped: list[JsonObject]
    written_paths: list[str]
    commits: list[JsonObject]  # one commit of exactly the written files (sha, or why it failed)
