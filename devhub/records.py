"""The JSON records the hub's surfaces return (REST bodies, MCP tool results, the CLI's --json).

Named per shape, so a reader can look up what comes back. They are TypedDicts, not classes: the
JSON is the contract the State Hub's clients rely on, and the same dict goes out unchanged over
REST and MCP. (`devhub.model` holds the *parsed* records: what a workplan file says.)
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class TaskView(TypedDict):
    """A task: the file's values with local writes applied, and where each value came from.

    One row of GET /tasks; GET /tasks/{id} adds the NotRequired keys.
    """

    id: str
    repo: str
    workplan_id: str
    workstream_id: str  # the real TaskRead's: the workplan's fleet UUID when known, else its file id
    title: str
    status: str  # the effective status (canonical: wait todo progress done cancel)
    status_raw: str | None  # the word the file uses
    file_status: str | None
    status_source: str  # file | local
    priority: str | None
    assignee: str | None
    blocking_reason: str | None
    needs_human: bool
    intervention_note: str | None
    depends_on: list[str]
    ready: bool
    state_hub_task_id: str | None  # the fleet UUID, when the file carries it
    path: str
    line: int
    extra: dict[str, Any]
    body: NotRequired[str]
    sources: NotRequired[dict[str, str]]
    history: NotRequired[list[dict[str, Any]]]
    conflicts: NotRequired[list[dict[str, Any]]]
    pending_local: NotRequired[dict[str, Any]]  # field -> the local value not yet written back
    pending_relay: NotRequired[bool]  # on a write's answer: the change still waits for the relay


class WorkplanView(TypedDict):
    """A workplan: frontmatter, effective status and task counts (GET /workplans); GET /workplans/{id}
    adds its tasks, its body and the references both ways."""

    id: str
    repo: str
    title: str
    type: str | None
    status: str  # canonical: proposed ready active blocked backlog finished archived
    status_raw: str | None
    file_status: str | None
    status_source: str
    domain: str | None
    topic_slug: str | None
    topic_id: str | None  # the real hub's: the topic's fleet UUID when recorded, else the topic slug
    owner: str | None
    created: str | None
    updated: str | None
    finished: str | None
    archived: bool
    planning_priority: str | None
    planning_order: int | None
    state_hub_workstream_id: str | None  # the fleet UUID, when the file carries it
    tasks_done: int
    tasks_total: int
    path: str
    extra: dict[str, Any]
    tasks: NotRequired[list[TaskView]]
    body: NotRequired[str]
    references: NotRequired[list[dict[str, Any]]]
    referenced_by: NotRequired[list[dict[str, Any]]]
    pending_relay: NotRequired[bool]


class ProgressView(TypedDict):
    """One progress event (GET /progress, POST /progress's answer)."""

    id: str
    event_type: str
    summary: str
    author: str | None
    topic_id: str | None  # a topic slug or the fleet's topic UUID, as given
    workplan_id: str | None
    workstream_id: str | None  # the State Hub's legacy name of workplan_id, kept for its clients
    task_id: str | None
    session_id: str | None
    detail: Any
    created_at: str
    seq: int | None


class MessageView(TypedDict):
    """One message between agents (GET /messages, POST /messages's answer)."""

    id: str
    from_agent: str
    to_agent: str
    subject: str | None
    body: str
    thread_id: str | None
    created_at: str
    read_at: str | None
    read: bool
    archived_at: str | None
    archived: bool  # archived messages leave GET /messages/ unless include_archived=true


class RepoView(TypedDict):
    """A registered checkout with its git state and what the read model holds of it (GET /repos)."""

    slug: str
    path: str
    is_git: bool
    branch: str | None
    head: str | None
    remote: str | None
    dirty: bool
    missing: bool
    has_workplans: bool
    files: int
    workplans: int
    tasks: int
    errors: int  # parse problems of severity error
    warnings: int


class HealthView(TypedDict):
    """GET /state/health."""

    status: str
    role: str
    version: str
    profile: str
