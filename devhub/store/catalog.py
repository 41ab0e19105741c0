"""Domains, topics and repos as the State Hub names them, derived from workplan frontmatter and the registry.

The fleet hub keeps these as rows with UUIDs; devhub derives them from what the files say
(`domain`, `topic_slug`, and the registered checkout each workplan lives in). Until a fleet
snapshot records the fleet's UUIDs and metadata (a later issue), every object's `id` is its slug,
except a topic whose workplans carry a fleet `topic_id` in their frontmatter: that UUID is its id.
`fleet_identity` is the one seam where the snapshot will plug in.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from devhub.store.activity import list_repos
from devhub.store.reader import Reader

# Where the objects come from, said on every object so a client can tell them from fleet rows.
DERIVED_SOURCE = "workplan-files"

# A workplan in one of these counts as active work (the fleet's "active workstream").
ACTIVE_STATUS = "active"


def fleet_identity(kind: str, slug: str, recorded_uuid: str | None = None) -> str:
    """The id a domain/topic/repo answers with: a recorded fleet UUID, else its slug.

    FLEET SNAPSHOT SEAM: the fleet snapshot (a later issue) will look `kind`/`slug` up here and
    return the fleet's UUID; today only a UUID written in the workplan files is known.
    """
    return recorded_uuid or slug


def _most_common(values: list[str | None]) -> str | None:
    """The most frequent non-empty value (ties broken alphabetically), or None."""
    counts = Counter(v for v in values if v)
    if not counts:
        return None
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


async def _workplan_facts(reader: Reader) -> list[dict[str, Any]]:
    rows = await reader.all(
        "SELECT w.id, w.repo, w.domain, w.topic_slug, w.status, json_extract(w.extra, '$.topic_id') AS topic_uuid"
        " FROM workplans w ORDER BY w.repo, w.path"
    )
    return [dict(row) for row in rows]


async def list_domains(reader: Reader) -> list[dict[str, Any]]:
    """Every domain a workplan names, with its repos, topics and workstream counts."""
    facts = await _workplan_facts(reader)
    slugs = sorted({f["domain"] for f in facts if f["domain"]})
    return [_domain(slug, [f for f in facts if f["domain"] == slug]) for slug in slugs]


def _domain(slug: str, facts: list[dict[str, Any]]) -> dict[str, Any]:
    repos = sorted({f["repo"] for f in facts})
    return {
        "id": fleet_identity("domain", slug),
        "slug": slug,
        "name": slug,
        "description": None,
        "status": "active",
        "created_at": None,
        "updated_at": None,
        "repo_count": len(repos),
        "workstream_count": len(facts),
        "active_workstream_count": sum(1 for f in facts if f["status"] == ACTIVE_STATUS),
        "ep_count": None,  # extension points and technical debt live only in the fleet database
        "td_count": None,
        "repos": repos,
        "topics": sorted({f["topic_slug"] for f in facts if f["topic_slug"]}),
        "source": DERIVED_SOURCE,
    }


async def get_domain(reader: Reader, slug: str) -> dict[str, Any] | None:
    """One domain by slug (or the id it answers with), or None."""
    return next((d for d in await list_domains(reader) if slug in (d["slug"], d["id"])), None)


async def list_topics(reader: Reader, *, domain: str | None = None) -> list[dict[str, Any]]:
    """Every topic a workplan names (optionally only those with workplans in `domain`)."""
    facts = await _workplan_facts(reader)
    slugs = sorted({f["topic_slug"] for f in facts if f["topic_slug"]})
    topics = [_topic(slug, [f for f in facts if f["topic_slug"] == slug]) for slug in slugs]
    if domain is not None:
        topics = [t for t in topics if domain in t["domains"]]
    return topics


def _topic(slug: str, facts: list[dict[str, Any]]) -> dict[str, Any]:
    uuid = _most_common([str(f["topic_uuid"]).lower() if f["topic_uuid"] else None for f in facts])
    domain = _most_common([f["domain"] for f in facts])
    return {
        "id": fleet_identity("topic", slug, uuid),
        "slug": slug,
        "name": slug,
        "title": slug,
        "description": None,
        "domain_id": fleet_identity("domain", domain) if domain else None,
        "domain_slug": domain,
        "domains": sorted({f["domain"] for f in facts if f["domain"]}),
        "repos": sorted({f["repo"] for f in facts}),
        "workstream_count": len(facts),
        "active_workstream_count": sum(1 for f in facts if f["status"] == ACTIVE_STATUS),
        "source": DERIVED_SOURCE,
    }


async def get_topic(reader: Reader, slug_or_id: str) -> dict[str, Any] | None:
    """One topic by slug or by the fleet UUID recorded for it, or None."""
    wanted = slug_or_id.lower()
    return next((t for t in await list_topics(reader) if wanted in (t["slug"].lower(), str(t["id"]).lower())), None)


async def topic_slug_for(reader: Reader, topic_id: str) -> str | None:
    """The topic slug a `topic_id` filter value means (a slug, or a recorded fleet UUID), or None if none."""
    topic = await get_topic(reader, topic_id)
    return None if topic is None else str(topic["slug"])


async def list_catalog_repos(reader: Reader) -> list[dict[str, Any]]:
    """Registered repos in the State Hub's repo shape (id, slug, name, domain, SBOM and sync fields) plus devhub's."""
    facts = await _workplan_facts(reader)
    out = []
    for row in await list_repos(reader):
        mine = [f for f in facts if f["repo"] == row["slug"]]
        domain = _most_common([f["domain"] for f in mine])
        out.append(
            {
                "id": fleet_identity("repo", row["slug"]),
                "name": row["slug"],
                "domain": domain,
                "domain_slug": domain,
                "domain_id": fleet_identity("domain", domain) if domain else None,
                "domains": sorted({f["domain"] for f in mine if f["domain"]}),
                "topics": sorted({f["topic_slug"] for f in mine if f["topic_slug"]}),
                "status": "active",
                "last_sbom_at": None,  # SBOM snapshots are fleet-only
                "last_state_synced_at": None,
                **row,
            }
        )
    return out
