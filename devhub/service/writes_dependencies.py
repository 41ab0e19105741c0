"""Workplan dependencies offline: POST / DELETE /workplans/{id}/dependencies/ (and the /workstreams/ aliases).

The real hub's edge is `from_workstream_id` (the one waiting) -> `to_workstream_id` (the
prerequisite), unique per pair; devhub names an edge by its prerequisite's workplan id. Both
writes are journaled, visible at once (store/dependency_writes.py) and relayed.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from devhub.errors import Conflict, NotFound, ValidationFailed
from devhub.store import queries
from devhub.store.dependency_writes import list_dependencies

if TYPE_CHECKING:
    from devhub.service.writes import WriteContext, WriteOutcome, Writes

# The prerequisite's field as the real hub's REST body spells it, then the other spellings devhub accepts.
PREREQUISITE_FIELDS = ("to_workstream_id", "to_workplan_id", "depends_on_id")


class DependencyWrites:
    """Adding and removing workplan dependencies through the one write path."""

    def __init__(self, writes: Writes) -> None:
        self._writes = writes

    async def _edges(self, row: Any) -> list[dict[str, Any]]:
        edges: list[dict[str, Any]] = await self._writes._read(
            partial(list_dependencies, repo=row["repo"], from_id=row["id"])
        )
        return edges

    async def create(self, ident: str, repo: str | None, body: Mapping[str, Any], ctx: WriteContext) -> WriteOutcome:
        """POST /workplans/{id}/dependencies/: `ident` now depends on the body's prerequisite."""
        from devhub.service.writes import now_iso

        writes = self._writes

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            errors: dict[str, str] = {}
            given = {name: body[name] for name in PREREQUISITE_FIELDS if body.get(name) is not None}
            if not given:
                errors["to_workstream_id"] = "required: the workplan this one depends on"
            elif len(set(map(str, given.values()))) > 1:
                errors["to_workstream_id"] = f"the body names different prerequisites: {given}"
            elif not all(isinstance(value, str) and value.strip() for value in given.values()):
                errors["to_workstream_id"] = "must be a workplan id or UUID (a non-empty string)"
            description = body.get("description")
            if description is not None and not isinstance(description, str):
                errors["description"] = f"must be a string, not {type(description).__name__}"
            if errors:
                raise ValidationFailed(
                    "invalid dependency: " + "; ".join(f"{k}: {v}" for k, v in errors.items()), errors
                )
            source = await writes._read(partial(queries.resolve_workplan_row, ident=ident, repo=repo))
            target = await writes._read(partial(queries.resolve_workplan_row, ident=str(next(iter(given.values())))))
            if target["id"] == source["id"]:
                reason = {"to_workstream_id": "names the workplan itself"}
                raise ValidationFailed(f"to_workstream_id: workplan {source['id']} cannot depend on itself", reason)
            if any(edge["id"] == target["id"] for edge in await self._edges(source)):
                raise Conflict(f"workplan {source['id']} already depends on {target['id']}")
            record = {
                "repo": source["repo"],
                "from_id": source["id"],
                "to_id": target["id"],
                "description": description,
                "created_at": now_iso(),
            }
            draft = writes._draft(
                "dependency.create",
                "POST",
                f"/workplans/{source['id']}/dependencies/",
                {k: v for k, v in {"to_workstream_id": target["id"], "description": description}.items() if v},
                ctx,
                target={
                    "kind": "workplan",
                    "repo": source["repo"],
                    "id": source["id"],
                    "state_hub_workstream_id": source["state_hub_workstream_id"],
                    "to_id": target["id"],
                    "to_repo": target["repo"],
                    "to_state_hub_workstream_id": target["state_hub_workstream_id"],
                },
                record=record,
            )
            answer = {
                "id": target["id"],
                "from_workstream_id": source["id"],
                "to_workstream_id": target["id"],
                "workplan_id": source["id"],
                "depends_on_id": target["id"],
                "description": description,
                "to_title": target["title"],
                "to_status": target["status"],
                "to_state_hub_workstream_id": target["state_hub_workstream_id"],
                "source": "local",
                "line": None,
                "created_at": record["created_at"],
                "pending_relay": writes._pending_relay,
            }
            return [draft], 201, answer

        path = f"/workplans/{ident}/dependencies/" + (f"?repo={repo}" if repo else "")
        return await writes._commit(ctx, "POST", path, body, build)

    async def delete(self, ident: str, dep_id: str, repo: str | None, ctx: WriteContext) -> WriteOutcome:
        """DELETE /workplans/{id}/dependencies/{dep_id}: drop the edge (dep_id: the prerequisite's id or UUID)."""
        from devhub.service.writes import now_iso

        writes = self._writes

        async def build() -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
            source = await writes._read(partial(queries.resolve_workplan_row, ident=ident, repo=repo))
            edges = await self._edges(source)
            edge = next(
                (e for e in edges if dep_id in (e["id"], e["to_state_hub_workstream_id"])),
                None,
            )
            if edge is None:
                raise NotFound(
                    f"workplan {source['id']} has no dependency {dep_id!r} "
                    f"(it depends on: {', '.join(e['id'] for e in edges) or 'nothing'})"
                )
            record = {"repo": source["repo"], "from_id": source["id"], "to_id": edge["id"], "created_at": now_iso()}
            draft = writes._draft(
                "dependency.delete",
                "DELETE",
                f"/workplans/{source['id']}/dependencies/{edge['id']}",
                {},
                ctx,
                target={
                    "kind": "workplan",
                    "repo": source["repo"],
                    "id": source["id"],
                    "state_hub_workstream_id": source["state_hub_workstream_id"],
                    "to_id": edge["id"],
                    "to_state_hub_workstream_id": edge["to_state_hub_workstream_id"],
                },
                record=record,
            )
            return [draft], 200, edge | {"deleted": True, "pending_relay": writes._pending_relay}

        path = f"/workplans/{ident}/dependencies/{dep_id}" + (f"?repo={repo}" if repo else "")
        return await writes._commit(ctx, "DELETE", path, {}, build)
