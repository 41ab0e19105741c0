"""Creating work offline: POST /tasks/ and POST /workplans/ (alias /workstreams/), journaled like every write.

A created item gets a file id devhub assigns (docs/decisions.md): a task the next free
`<WP-ID>-Tnn` of its workplan, a workplan the next free `<PREFIX>-WP-nnnn` of its repo's
prefix. Ids are assigned, journaled and applied under one lock, so concurrent creates never
share an id. The read model serves the item at once (store/created.py); `devhub writeback`
puts it into the files.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from devhub.errors import ValidationFailed
from devhub.model import PRIORITIES, READY_WORKPLAN_STATUSES, canonical_task_status, canonical_workplan_status
from devhub.service.record_fields import text_field
from devhub.store import created, queries

if TYPE_CHECKING:
    from devhub.service.writes import WriteContext, WriteOutcome, Writes

SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")
DEFAULT_TASK_STATUS = "todo"
# The real hub stores a new workstream as `active` (its DB default, per the lifecycle docs: "active — work in
# progress or ready to start"); [inferred] from the dashboard docs, not seen in the router code.
DEFAULT_WORKPLAN_STATUS = "active"


def slugify(title: str) -> str:
    """A file-name slug from a title: lower-case words joined by '-', at most 60 characters."""
    return SLUG_UNSAFE.sub("-", title.lower()).strip("-")[:60].strip("-") or "workplan"



def _one_line(body: Mapping[str, Any], name: str, errors: dict[str, str], *, required: bool = False) -> str | None:
    value = text_field(body, name, errors, required=required)
    if value is not None and ("\n" in value or "\r" in value):
        errors[name] = "must be one line (it becomes a markdown heading or a frontmatter value)"
        return None
    return value.strip() if value is not None else None


def _due_date(body: Mapping[str, Any], errors: dict[str, str]) -> str | None:
    value = text_field(body, "due_date", errors)
    if value is None:
        return None
    try:
        if len(value) == len("YYYY-MM-DD"):
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date().isoformat()  # a datetime keeps its date
    except ValueError:
        errors["due_date"] = f"must be an ISO date (YYYY-MM-DD) or datetime, not {value!r}"
        return None


def _priority(body: Mapping[str, Any], name: str, errors: dict[str, str], default: str | None) -> str | None:
    value = body.get(name, default)
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in PRIORITIES:
        errors[name] = f"must be one of low, medium, high, critical, not {value!r}"
        return None
    return value.lower()


def _raise(errors: dict[str, str], what: str) -> None:
    if errors:
        raise ValidationFailed(f"invalid {what}: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), errors)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class CreateWrites:
    """The create operations of one hub; one lock makes id assignment and journaling a single step."""

    def __init__(self, writes: Writes) -> None:
        self._writes = writes
        self._lock = asyncio.Lock()

    # -- tasks ------------------------------------------------------------------------------------

    async def create_task(self, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /tasks/: a new task in a workplan, with the next free `-Tnn` id."""
        from devhub.service.writes import now_iso

        writes = self._writes

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            plan_id = _one_line(body, "workplan_id", errors)
            stream_id = _one_line(body, "workstream_id", errors)
            if plan_id and stream_id and plan_id != stream_id:
                errors["workstream_id"] = f"names another workplan than workplan_id ({stream_id!r} vs {plan_id!r})"
            parent_ident = plan_id or stream_id
            if not parent_ident and "workplan_id" not in errors and "workstream_id" not in errors:
                errors["workstream_id"] = "required (or workplan_id): the workplan the task belongs to"
            title = _one_line(body, "title", errors, required=True)
            priority = _priority(body, "priority", errors, "medium")
            description = text_field(body, "description", errors)
            assignee = _one_line(body, "assignee", errors)
            due_date = _due_date(body, errors)
            repo = _one_line(body, "repo", errors)
            status = DEFAULT_TASK_STATUS
            if body.get("status") is not None:
                raw = body["status"]
                status = canonical_task_status(raw) if isinstance(raw, str) else None  # type: ignore[assignment]
                if status is None:
                    errors["status"] = f"unknown task status {raw!r}; use wait, todo, progress, done or cancel"
            if body.get("parent_task_id") is not None:
                errors["parent_task_id"] = (
                    "sub-tasks cannot be created offline: workplan files have no parent-task field; "
                    "create the task without it"
                )
            for name in ("agent", "session_id"):
                text_field(body, name, errors)
            _raise(errors, "task")
            assert parent_ident is not None and title is not None
            workplan = await writes._read(partial(queries.resolve_workplan_row, ident=parent_ident, repo=repo))
            task_id = await writes._read(
                partial(created.next_task_id, repo=workplan["repo"], workplan_id=workplan["id"])
            )
            fields = {
                "title": title,
                "status": status,
                "priority": priority,
                "description": description,
                "assignee": assignee,
                "due_date": due_date,
            }
            record = {
                "id": task_id,
                "repo": workplan["repo"],
                "workplan_id": workplan["id"],
                "created_at": now_iso(),
                "fields": {k: v for k, v in fields.items() if v is not None},
            }
            target = {
                "kind": "task",
                "repo": workplan["repo"],
                "id": task_id,
                "workplan_id": workplan["id"],
                "state_hub_workstream_id": workplan["state_hub_workstream_id"],
            }
            upstream_body = {k: v for k, v in fields.items() if v is not None} | {
                "workstream_id": workplan["state_hub_workstream_id"] or workplan["id"]
            }
            draft = writes._draft("task.create", "POST", "/tasks/", upstream_body, ctx, target=target, record=record)
            answer = _task_answer(record, workplan, writes._pending_relay)
            return [draft], 201, answer

        async with self._lock:
            return await writes._commit(ctx, "POST", "/tasks/", body, build)

    # -- workplans ---------------------------------------------------------------------------------

    async def create_workplan(self, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /workplans/ (and /workstreams/): a new workplan with the repo's next `<PREFIX>-WP-nnnn` id."""
        from devhub.service.writes import now_iso

        writes = self._writes

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            title = _one_line(body, "title", errors, required=True)
            topic_id = _one_line(body, "topic_id", errors)
            repo_id = _one_line(body, "repo_id", errors) or _one_line(body, "repo", errors)
            raw_slug = _one_line(body, "slug", errors)
            description = text_field(body, "description", errors)
            owner = _one_line(body, "owner", errors)
            due_date = _due_date(body, errors)
            planning_priority = _priority(body, "planning_priority", errors, None)
            order = body.get("planning_order")
            if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
                errors["planning_order"] = f"must be an integer, not {type(order).__name__}"
            status = DEFAULT_WORKPLAN_STATUS
            if body.get("status") is not None:
                raw = body["status"]
                status = canonical_workplan_status(raw) if isinstance(raw, str) else None  # type: ignore[assignment]
                if status is None:
                    errors["status"] = f"unknown workplan status {raw!r}"
            if not topic_id and not repo_id and "topic_id" not in errors and "repo_id" not in errors:
                errors["topic_id"] = "required (or repo_id): which topic / repo the workplan belongs to"
            slug = slugify(raw_slug or title or "")
            _raise(errors, "workplan")
            assert title is not None
            repo = await self._choose_repo(repo_id, topic_id)
            prefixes = await writes._read(partial(created.workplan_prefixes, repo=repo))
            if not prefixes:
                raise ValidationFailed(
                    f"repo {repo!r} has no <PREFIX>-WP-nnnn workplan yet, so devhub cannot tell which id prefix "
                    "its workplans use; add the first workplan file by hand",
                    {"repo_id": "repo has no workplan id to take a prefix from"},
                )
            workplan_id = await writes._read(partial(created.next_workplan_id, prefix=prefixes[0]))
            domain = await writes._read(partial(created.repo_domain, repo=repo))
            created_on = _today()
            fields = {
                "title": title,
                "status": status,
                "slug": slug,
                "description": description,
                "owner": owner,
                "due_date": due_date,
                "planning_priority": planning_priority,
                "planning_order": order,
                "domain": domain,
                "created": created_on,
                # A UUID topic_id is the fleet's topic (kept as topic_id); anything else is the topic's slug.
                "topic_slug": topic_id if topic_id and not _is_uuid(topic_id) else None,
                "topic_id": topic_id if topic_id and _is_uuid(topic_id) else None,
            }
            fields = {k: v for k, v in fields.items() if v is not None}
            path = created.workplan_path(workplan_id, slug)
            record = {"id": workplan_id, "repo": repo, "path": path, "created_at": now_iso(), "fields": fields}
            target = {"kind": "workplan", "repo": repo, "id": workplan_id}
            upstream_body = {
                k: v
                for k, v in {
                    "topic_id": topic_id,
                    "title": title,
                    "slug": slug,
                    "description": description,
                    "owner": owner,
                    "due_date": due_date,
                    "repo_id": body.get("repo_id"),
                    "planning_priority": planning_priority,
                    "planning_order": order,
                    "status": status,
                }.items()
                if v is not None
            }
            draft = writes._draft(
                "workplan.create", "POST", "/workplans/", upstream_body, ctx, target=target, record=record
            )
            return [draft], 201, _workplan_answer(record, writes._pending_relay)

        async with self._lock:
            return await writes._commit(ctx, "POST", "/workplans/", body, build)

    async def _choose_repo(self, repo_id: str | None, topic_id: str | None) -> str:
        """The registered repo a new workplan goes to: repo_id, else the topic's one repo, else the only repo."""
        read = self._writes._read
        registered = await read(created.registered_repos)
        if repo_id:
            if repo_id not in registered:
                raise ValidationFailed(
                    f"repo_id {repo_id!r} is not a registered repo (registered: {', '.join(registered) or 'none'})",
                    {"repo_id": "not a registered repo slug"},
                )
            return repo_id
        assert topic_id is not None
        candidates = await read(partial(created.repos_for_topic, topic=topic_id))
        if not candidates and len(registered) == 1:
            candidates = registered
        if len(candidates) == 1:
            return str(candidates[0])
        if not candidates:
            raise ValidationFailed(
                f"no registered repo belongs to topic {topic_id!r}; give repo_id (one of: {', '.join(registered)})",
                {"repo_id": "required: the topic matches no registered repo"},
            )
        raise ValidationFailed(
            f"topic {topic_id!r} spans several repos ({', '.join(candidates)}); give repo_id to choose one",
            {"repo_id": "required: the topic is ambiguous"},
        )


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _task_answer(record: Mapping[str, Any], workplan: Any, pending_relay: bool) -> dict[str, Any]:
    """The created task: devhub's task shape plus the real hub's TaskRead fields (workstream_id, dates)."""
    fields = record["fields"]
    status = fields["status"]
    extra = {name: fields[name] for name in ("description", "due_date") if fields.get(name)}
    extra["created_locally"] = True
    return {
        "id": record["id"],
        "state_hub_task_id": None,
        "workplan_id": record["workplan_id"],
        "workstream_id": workplan["state_hub_workstream_id"] or record["workplan_id"],
        "repo": record["repo"],
        "title": fields["title"],
        "description": fields.get("description"),
        "status": status,
        "status_source": "local",
        "file_status": status,
        "status_raw": status,
        "priority": fields.get("priority"),
        "assignee": fields.get("assignee"),
        "due_date": fields.get("due_date"),
        "depends_on": [],
        "needs_human": False,
        "intervention_note": None,
        "blocking_reason": None,
        "parent_task_id": None,
        "ready": status == "todo" and workplan["status"] in READY_WORKPLAN_STATUSES,
        "path": workplan["path"],
        "line": None,
        "extra": extra,
        "created_at": record["created_at"],
        "updated_at": record["created_at"],
        "pending_relay": pending_relay,
    }


def _workplan_answer(record: Mapping[str, Any], pending_relay: bool) -> dict[str, Any]:
    """The created workplan: devhub's workplan shape plus the real hub's workstream fields."""
    fields = record["fields"]
    extra = {name: fields[name] for name in ("description", "due_date", "topic_id", "slug") if fields.get(name)}
    extra["created_locally"] = True
    return {
        "id": record["id"],
        "state_hub_workstream_id": None,
        "title": fields["title"],
        "slug": fields["slug"],
        "description": fields.get("description"),
        "type": "workplan",
        "domain": fields.get("domain"),
        "repo": record["repo"],
        "owner": fields.get("owner"),
        "topic_slug": fields.get("topic_slug"),
        "topic_id": fields.get("topic_id") or fields.get("topic_slug"),
        "status": fields["status"],
        "status_source": "local",
        "file_status": fields["status"],
        "status_raw": fields["status"],
        "planning_priority": fields.get("planning_priority"),
        "planning_order": fields.get("planning_order"),
        "due_date": fields.get("due_date"),
        "created": fields["created"],
        "updated": fields["created"],
        "finished": None,
        "path": record["path"],
        "archived": False,
        "tasks_total": 0,
        "tasks_done": 0,
        "extra": extra,
        "created_at": record["created_at"],
        "updated_at": record["created_at"],
        "pending_relay": pending_relay,
        "tasks": [],
    }
