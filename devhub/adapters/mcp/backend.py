"""What the MCP tools call: one method per REST endpoint, served in-process from a Hub.

`HubBackend` runs the very queries and writes the REST routes run (devhub/adapters/api/read_routes.py,
write_routes.py), so a tool's JSON equals the endpoint's. `devhub.adapters.mcp.rest_backend`
implements the same protocol over HTTP for the stdio transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from devhub.service.hub import Hub
    from devhub.service.writes import WriteContext

Json = Any


class Backend(Protocol):
    """The hub operations the MCP tools adapt; each mirrors one REST endpoint."""

    async def orient(self, repo: str | None, domain: str | None) -> Json: ...  # GET /orient

    async def summary(self) -> Json: ...  # GET /state/summary

    async def workplans(self, filters: Mapping[str, Any]) -> Json: ...  # GET /workplans

    async def workplan(self, ident: str, repo: str | None) -> Json: ...  # GET /workplans/{id}

    async def tasks(self, filters: Mapping[str, Any]) -> Json: ...  # GET /tasks

    async def task(self, ident: str, repo: str | None) -> Json: ...  # GET /tasks/{id}

    async def progress(self, filters: Mapping[str, Any]) -> Json: ...  # GET /progress

    async def messages(self, to_agent: str | None, unread_only: bool) -> Json: ...  # GET /messages

    async def search(self, q: str, limit: int) -> Json: ...  # GET /search

    async def relay(self) -> Json: ...  # GET /relay

    async def patch_task(self, ident: str, repo: str | None, body: dict[str, Any], key: str | None) -> Json: ...

    async def bulk_status_sync(self, body: dict[str, Any], key: str | None) -> Json: ...

    async def add_progress(self, body: dict[str, Any], key: str | None) -> Json: ...

    async def send_message(self, body: dict[str, Any], key: str | None) -> Json: ...

    async def mark_message_read(self, message_id: str, key: str | None) -> Json: ...

    async def register_repo(self, path: str) -> Json: ...

    async def check_consistency(self, repo: str | None) -> Json: ...

    async def workplan_markdown(self, ident: str) -> str: ...

    async def brief(self, repo: str) -> str: ...


def write_context(body: Mapping[str, Any], key: str | None) -> WriteContext:
    """The WriteContext REST builds for a body (agent from agent/author/from_agent, session_id)."""
    from devhub.service.writes import WriteContext

    agent = body.get("agent") or body.get("author") or body.get("from_agent")
    session = body.get("session_id")
    return WriteContext(
        idempotency_key=key or None,
        agent=agent if isinstance(agent, str) else None,
        session=session if isinstance(session, str) else None,
    )


def registered_json(outcomes: Any) -> list[dict[str, Any]]:
    """Register outcomes in the shape `devhub register --json` prints."""
    from dataclasses import asdict

    return [{"repo": asdict(o.repo), "warnings": list(o.warnings)} for o in outcomes]


class HubBackend:
    """Serves every operation from an in-process Hub (the daemon's /mcp mount)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # -- reads: the same query calls as devhub/adapters/api/read_routes.py ---------------------------------

    async def orient(self, repo: str | None, domain: str | None) -> Json:
        from devhub.store.orient import orient

        data = await self.hub.read(lambda r: orient(r, repo=repo, domain=domain))
        data["relay"] = self.hub.relay_status().to_json()
        return data

    async def summary(self) -> Json:
        from devhub.store.orient import summary

        data = await self.hub.read(summary)
        data["relay"] = self.hub.relay_status().to_json()
        return data

    async def workplans(self, filters: Mapping[str, Any]) -> Json:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.list_workplans(r, **filters), search=bool(filters.get("q")))

    async def workplan(self, ident: str, repo: str | None) -> Json:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.get_workplan(r, ident, repo))

    async def tasks(self, filters: Mapping[str, Any]) -> Json:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.list_tasks(r, **filters))

    async def task(self, ident: str, repo: str | None) -> Json:
        from devhub.store import queries

        return await self.hub.read(lambda r: queries.get_task(r, ident, repo))

    async def progress(self, filters: Mapping[str, Any]) -> Json:
        from devhub.adapters.api.params import timestamp
        from devhub.store import activity

        args = dict(filters)
        args["since"] = timestamp("since", args.get("since"))
        return await self.hub.read(lambda r: activity.list_progress(r, **args))

    async def messages(self, to_agent: str | None, unread_only: bool) -> Json:
        from devhub.store import activity

        return await self.hub.read(lambda r: activity.list_messages(r, to_agent=to_agent, unread_only=unread_only))

    async def search(self, q: str, limit: int) -> Json:
        from devhub.store import activity

        return await self.hub.read(lambda r: activity.search(r, q, limit=limit), search=True)

    async def relay(self) -> Json:
        return self.hub.relay_status().to_json()

    # -- writes: hub.writes, exactly as devhub/adapters/api/write_routes.py calls it -------------------------

    async def patch_task(self, ident: str, repo: str | None, body: dict[str, Any], key: str | None) -> Json:
        return (await self.hub.writes.patch_task(ident, repo, body, write_context(body, key))).body

    async def bulk_status_sync(self, body: dict[str, Any], key: str | None) -> Json:
        return (await self.hub.writes.bulk_status_sync(body, write_context(body, key))).body

    async def add_progress(self, body: dict[str, Any], key: str | None) -> Json:
        return (await self.hub.writes.add_progress(body, write_context(body, key))).body

    async def send_message(self, body: dict[str, Any], key: str | None) -> Json:
        return (await self.hub.writes.send_message(body, write_context(body, key))).body

    async def mark_message_read(self, message_id: str, key: str | None) -> Json:
        return (await self.hub.writes.mark_message_read(message_id, {}, write_context({}, key))).body

    # -- registration, checks, files --------------------------------------------------------------

    async def register_repo(self, path: str) -> Json:
        return registered_json(await self.hub.register_repos([path]))  # a str: "" must not mean "."

    async def check_consistency(self, repo: str | None) -> Json:
        from devhub.service.checks import exit_code, run_checks

        findings = await self.hub.read(lambda r: run_checks(r, repo=repo))
        return {"findings": findings, "exit_code": exit_code(findings)}

    async def workplan_markdown(self, ident: str) -> str:
        from devhub.errors import NotFound
        from devhub.store.queries import workplan_markdown
        from devhub.store.repofiles import RepoFiles

        root, relative = await self.hub.read(lambda r: workplan_markdown(r, ident))
        files = RepoFiles(root, max_bytes=self.hub.config.max_workplan_bytes)
        try:  # read afresh, so the file is judged again: it may have become a link out of the repo since the build
            data = await asyncio.to_thread(files.read, relative)
        except FileNotFoundError:
            raise NotFound(f"workplan {ident!r}: its file {relative} is gone (the read model will catch up)") from None
        except OSError as exc:
            raise NotFound(f"workplan {ident!r}: its file {relative} cannot be read ({exc.strerror or exc})") from None
        return data.decode("utf-8", errors="replace")

    async def brief(self, repo: str) -> str:
        from devhub.reconcile.brief import brief_for_repo

        return await self.hub.read(lambda r: brief_for_repo(r, repo))
