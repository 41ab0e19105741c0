"""The fleet State Hub's overview shapes, computed from the read model: the state summary's keys,
`get_domain_summary`, `GET /state/next_steps`, a topic with its workstreams, and a repo's dispatch.

Key names follow the real hub where its pages show them (totals, blocking decisions, blocked tasks,
open workstreams with depends_on/blocks, the last 20 events, next_steps, domains); where they were
only inferred the docstring says so (docs/compat.md lists them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devhub.model import TASK_STATUSES, WORKPLAN_STATUSES
from devhub.records import ProgressView
from devhub.store import activity, catalog
from devhub.store.decisions import list_decisions, pending_decisions
from devhub.store.queries import list_tasks, list_workplans
from devhub.store.reader import Reader

OPEN_WORKSTREAM_STATUSES = ("active", "ready", "blocked")
PENDING_TASK_STATUSES = ("wait", "todo", "progress")
FINISHED_WORKSTREAM_STATUSES = frozenset({"finished", "archived"})
RECENT_EVENTS_LIMIT = 20  # "the last 20 progress events" of the real summary
DOMAIN_RECENT_EVENTS_LIMIT = 5  # get_domain_summary's GET /progress/?topic_id=&limit=5


def _workstream(w: Mapping[str, Any]) -> dict[str, Any]:
    """A workplan in the compact shape the overviews list (file id and fleet UUID both given)."""
    return {
        "id": w["id"],
        "state_hub_workstream_id": w["state_hub_workstream_id"],
        "title": w["title"],
        "status": w["status"],
        "owner": w["owner"],
        "repo": w["repo"],
        "domain": w["domain"],
        "topic_slug": w["topic_slug"],
        "topic_id": w["topic_id"],  # the topic's fleet UUID when recorded, else its slug (as GET /workplans)
        "planning_priority": w["planning_priority"],
        "planning_order": w["planning_order"],
        "tasks_done": w["tasks_done"],
        "tasks_total": w["tasks_total"],
    }


def _blocked_task(t: Mapping[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "state_hub_task_id",
        "workplan_id",
        "repo",
        "title",
        "status",
        "priority",
        "blocking_reason",
        "needs_human",
        "intervention_note",
    )
    return {k: t[k] for k in keys} | {"workstream_id": t["workplan_id"]}


async def _dependency_edges(reader: Reader) -> list[tuple[str, str]]:
    """(workplan, workplan it depends on) pairs from the files' `## Dependencies` sections."""
    rows = await reader.all(
        "SELECT DISTINCT r.source_id, r.target_id FROM refs r"
        " WHERE r.kind = 'dependencies' AND EXISTS (SELECT 1 FROM workplans t WHERE t.id = r.target_id)"
        " ORDER BY r.source_id, r.target_id"
    )
    return [(row["source_id"], row["target_id"]) for row in rows]


async def open_workstreams(reader: Reader, **scope: Any) -> list[dict[str, Any]]:
    """Workplans in active/ready/blocked, each with `depends_on` and `blocks` (workplan ids)."""
    edges = await _dependency_edges(reader)
    out = []
    for w in await list_workplans(reader, statuses=OPEN_WORKSTREAM_STATUSES, **scope):
        item = _workstream(w)
        item["depends_on"] = sorted({target for source, target in edges if source == w["id"]})
        item["blocks"] = sorted({source for source, target in edges if target == w["id"]})
        out.append(item)
    return out


async def next_steps(reader: Reader) -> list[dict[str, Any]]:
    """Suggestions derived on each request, as the real hub's: a cleared dependency points to the first
    `todo` task of the workplan it unblocks. (Its other kind, a recently resolved decision pointing to the
    first open task of its workplan, joins once decisions are wired; the item keys are inferred.)"""
    edges = await _dependency_edges(reader)
    status_of = {row["id"]: row["status"] for row in await reader.all("SELECT id, status FROM workplans")}
    steps: list[dict[str, Any]] = []
    for w in await list_workplans(reader, statuses=OPEN_WORKSTREAM_STATUSES):
        deps = sorted({target for source, target in edges if source == w["id"]})
        if not deps or any(status_of.get(dep) not in FINISHED_WORKSTREAM_STATUSES for dep in deps):
            continue
        first = await list_tasks(reader, workplan_id=w["id"], repo=w["repo"], status="todo", limit=1)
        if not first:
            continue
        task = first[0]
        steps.append(
            {
                "kind": "dependency_cleared",
                "reason": f"{', '.join(deps)} finished; {w['id']} is unblocked",
                "workstream_id": w["id"],
                "workplan_id": w["id"],
                "state_hub_workstream_id": w["state_hub_workstream_id"],
                "workstream_title": w["title"],
                "task_id": task["id"],
                "state_hub_task_id": task["state_hub_task_id"],
                "task_title": task["title"],
                "repo": w["repo"],
                "cleared_dependencies": deps,
            }
        )
    return steps


async def state_overview(reader: Reader) -> dict[str, Any]:
    """The real `GET /state/summary` keys (devhub's own summary keys are merged in by the caller)."""
    wp_counts = {s: 0 for s in WORKPLAN_STATUSES}
    for row in await reader.all("SELECT status, COUNT(*) AS n FROM workplans GROUP BY status"):
        wp_counts[row["status"] or "unknown"] = row["n"]
    task_counts = {s: 0 for s in TASK_STATUSES}
    for row in await reader.all("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status"):
        task_counts[row["status"] or "unknown"] = row["n"]
    blocking = await pending_decisions(reader)
    every_decision = await list_decisions(reader, limit=None)
    pending = sum(1 for d in every_decision if d.get("decision_type") == "pending")
    domains = await catalog.list_domains(reader)
    topics = await catalog.list_topics(reader)
    return {
        "totals": {
            "topics": len(topics),
            "workstreams": {"total": sum(wp_counts.values()), **wp_counts},
            "tasks": {"total": sum(task_counts.values()), **task_counts},
            "decisions": {"total": len(every_decision), "pending": pending, "blocking": len(blocking)},
        },
        "blocking_decisions": blocking,
        "blocked_tasks": [_blocked_task(t) for t in await list_tasks(reader, status="wait")],
        "open_workstreams": await open_workstreams(reader),
        "recent_events": await activity.list_progress(reader, limit=RECENT_EVENTS_LIMIT),
        "next_steps": await next_steps(reader),
        "domains": [
            {k: d[k] for k in ("slug", "name", "repo_count", "active_workstream_count", "ep_count", "td_count")}
            for d in domains
        ],
    }


async def _events_of(reader: Reader, workplan_ids: set[str], limit: int) -> list[ProgressView]:
    """The newest progress events about these workplans or their tasks (progress has no topic column yet)."""
    if not workplan_ids:
        return []
    marks = ", ".join("?" for _ in workplan_ids)
    rows = await reader.all(
        f"{activity.PROGRESS_SELECT} WHERE p.workplan_id IN ({marks})"
        f" OR p.task_id IN (SELECT id FROM tasks WHERE workplan_id IN ({marks}))"
        " ORDER BY p.created_at DESC, p.seq DESC LIMIT ?",
        [*workplan_ids, *workplan_ids, limit],
    )
    return [activity.progress_dict(row) for row in rows]


async def topic_detail(reader: Reader, topic: dict[str, Any]) -> dict[str, Any]:
    """A topic with its workstreams and recent events (`get_topic`)."""
    workplans = await list_workplans(reader, topic_slug=topic["slug"])
    events = await _events_of(reader, {w["id"] for w in workplans}, RECENT_EVENTS_LIMIT)
    return {**topic, "workstreams": [_workstream(w) for w in workplans], "recent_events": events}


async def domain_summary(reader: Reader, domain: dict[str, Any], repos: list[dict[str, Any]]) -> dict[str, Any]:
    """`get_domain_summary`: the domain's topic(s), active workstreams, blocking decisions, 5 recent events and
    repos with their SBOM fields. Key names are inferred from the tool's five calls (docs/compat.md)."""
    slug = domain["slug"]
    topics = await catalog.list_topics(reader, domain=slug)
    active = [_workstream(w) for w in await list_workplans(reader, domain=slug, status="active")]
    in_domain = {w["id"] for w in await list_workplans(reader, domain=slug)}
    return {
        "domain": domain,
        "topic": topics[0] if topics else None,  # the real summary names one topic; every one is in `topics`
        "topics": topics,
        "active_workstreams": active,
        "blocking_decisions": await pending_decisions(reader, domain=slug),
        "recent_events": await _events_of(reader, in_domain, DOMAIN_RECENT_EVENTS_LIMIT),
        "repos": [
            {k: r[k] for k in ("id", "slug", "name", "domain", "last_sbom_at", "last_state_synced_at")}
            for r in repos
            if slug in r["domains"]
        ],
        # Fleet-only data (capability registry, repo goals): the keys are there so templates that read them work.
        "capabilities": [],
        "goal_guidance": {"needs_workplan": [], "alignment_warnings": []},
    }


async def repo_dispatch(reader: Reader, repo: dict[str, Any]) -> dict[str, Any]:
    """`GET /repos/{slug}/dispatch`: the repo's open workstreams with their pending tasks, and its human
    interventions. Goals and interface changes are fleet-only, answered empty (top-level keys inferred)."""
    slug = repo["slug"]
    workstreams = []
    for w in await list_workplans(reader, repo=slug, statuses=OPEN_WORKSTREAM_STATUSES):
        pending = [
            t for t in await list_tasks(reader, workplan_id=w["id"], repo=slug) if t["status"] in PENDING_TASK_STATUSES
        ]
        workstreams.append(_workstream(w) | {"pending_tasks": pending})
    return {
        "repo": repo,
        "active_goal": None,
        "workstreams": workstreams,
        "human_interventions": await list_tasks(reader, repo=slug, needs_human=True),
        "pending_interface_changes": [],
        "source": catalog.DERIVED_SOURCE,
    }
