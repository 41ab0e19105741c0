"""Replay one template against a running daemon: every step is called as the template writes it, then checked.

Per step: the tool exists and declares every argument passed (an undeclared argument is dropped
silently by the SDK server), the call is not refused (no 404, no tool error), the answer has the
real shape's keys, and each `check` finds the call's observable effect. A failing step does not
stop the replay: the result is one line per failing step, so a run reports everything at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from tests.adapters.mcp.helpers import connect, text_of
from tests.conformance.shapes import missing_keys
from tests.conformance.steps import ANY, SELF, Check, Fields, Find, Rest, Step, Template, Tool
from tests.conformance.world import PLACEHOLDERS, names_entity, same_entity
from tests.support.daemon import RunningDaemon

PLACEHOLDER = re.compile(r"\{([A-Z_]+)\}")


class MissingValue(Exception):
    """A placeholder no earlier step filled (the step that should have saved it failed)."""


def substitute(value: Any, context: Mapping[str, Any]) -> Any:
    """`value` with every {NAME} replaced from `context`; a string that is exactly one placeholder keeps its type."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole:
            return _lookup(whole.group(1), context)
        return PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), context)), value)
    if isinstance(value, Mapping):
        return {substitute(k, context): substitute(v, context) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [substitute(v, context) for v in value]
    return value


def _lookup(name: str, context: Mapping[str, Any]) -> Any:
    if name not in context:
        raise MissingValue(name)
    return context[name]


def matches(item: Any, where: Mapping[str, Any]) -> bool:
    """Does `item` carry every expected value (ids compared as entities: file id and fleet UUID are one)?"""
    if not isinstance(item, dict):
        return False
    for key, expected in where.items():
        if key == SELF:
            if not names_entity(item, expected):
                return False
        elif key not in item:
            return False
        elif expected is ANY:
            continue
        elif not (item[key] == expected or same_entity(item[key], expected)):
            return False
    return True


def _shown(where: Mapping[str, Any]) -> str:
    return ", ".join(f"{'id' if k == SELF else k}={v!r}" for k, v in where.items())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail", body))[:300] if isinstance(body, dict) else str(body)[:300]


class Replay:
    """One template run: the daemon's REST client, the MCP client (for MCP templates) and the placeholder values."""

    def __init__(self, http: httpx.AsyncClient, context: dict[str, Any]) -> None:
        self.http = http
        self.context = context
        self.mcp: Any = None
        self.tools: dict[str, dict[str, Any]] = {}

    async def run(self, steps: tuple[Step, ...]) -> list[str]:
        failures = []
        for step in steps:
            try:
                problems = await self.step(step)
            except MissingValue as missing:
                problems = [f"needs {{{missing}}}, which an earlier failing step should have given"]
            failures += [f"{step.name}: {problem}" for problem in dict.fromkeys(problems)]  # each problem once
        return failures

    async def step(self, step: Step) -> list[str]:
        answer, refused = await (self.tool(step.call) if isinstance(step.call, Tool) else self.rest(step.call))
        if refused:
            return [refused]
        problems = []
        if step.shape:
            gaps = missing_keys(step.shape, answer)
            if gaps:
                problems.append(f"answer lacks the real {step.shape} keys {gaps[:12]}")
        for name, key in step.save.items():
            if isinstance(answer, dict) and key in answer:
                self.context[name] = answer[key]
            else:
                problems.append(f"answer has no {key!r} to remember as {{{name}}}")
        for check in step.checks:
            try:
                problem = await self.check(check, answer)
            except MissingValue as missing:
                problem = f"check needs {{{missing}}}, which this step should have given"
            if problem:
                problems.append(problem)
        return problems

    async def tool(self, call: Tool) -> tuple[Any, str | None]:
        args = substitute(call.args, self.context)
        if call.name not in self.tools:
            return None, f"unknown tool {call.name!r} (not in tools/list)"
        declared = set(self.tools[call.name].get("properties", {}))
        undeclared = sorted(set(args) - declared)
        if undeclared:
            return None, f"{call.name} does not declare {undeclared}: the argument would be dropped silently"
        result = await self.mcp.call_tool(call.name, args)
        text = text_of(result)
        if result.is_error:
            return None, f"{call.name}({args}) failed: {text[:300]}"
        try:
            return json.loads(text), None
        except ValueError:
            return None, f"{call.name} answered text that is not JSON: {text[:200]!r}"

    async def rest(self, call: Rest) -> tuple[Any, str | None]:
        path = substitute(call.path, self.context)
        query = substitute(call.query, self.context)
        body = substitute(call.body, self.context) if call.body is not None else None
        response = await self.http.request(call.method, path, params=query, json=body)
        shown = f"{call.method} {path}" + (f"?{httpx.QueryParams(query)}" if query else "")
        if not response.is_success:
            return None, f"{shown} answered {response.status_code}: {_detail(response)}"
        try:
            return response.json(), None
        except ValueError:
            return None, f"{shown} answered {response.headers.get('content-type')}, not JSON"

    async def check(self, check: Check, answer: Any) -> str | None:
        where = substitute(check.where, self.context)
        seen = answer
        source = "the answer"
        if check.path is not None:
            path = substitute(check.path, self.context)
            query = substitute(check.query, self.context) if isinstance(check, Find) else {}
            source = f"GET {path}" + (f"?{httpx.QueryParams(query)}" if query else "")
            response = await self.http.get(path, params=query)
            if not response.is_success:
                return f"{source} answered {response.status_code}: {_detail(response)}"
            seen = response.json()
        if isinstance(check, Fields):
            if not isinstance(seen, dict):
                return f"{source} is not an object"
            wrong = {k: seen.get(k, "<missing>") for k, v in where.items() if not matches(seen, {k: v})}
            return f"{source}: expected {_shown(where)}, got {wrong}" if wrong else None
        if check.key is not None:
            source += f" [{check.key}]"
            seen = seen.get(check.key) if isinstance(seen, dict) else None
        if not isinstance(seen, list):
            return f"{source} is not a list (so {_shown(where)} cannot be checked)"
        found = [item for item in seen if matches(item, where)]
        if check.present and not found:
            return f"{source}: nothing with {_shown(where)} among {len(seen)} items"
        if not check.present and found:
            return f"{source} lists {_shown(where)}, which the call's arguments should have left out"
        return None


async def seed_inbox(http: httpx.AsyncClient, context: dict[str, Any]) -> None:
    """Three messages before the session: unread to the repo, to another agent, and already read."""
    sent = {
        "MESSAGE_ID": {
            "from_agent": "planner",
            "to_agent": context["REPO_SLUG"],
            "subject": "Handover",
            "body": "T02 is yours; the tokenizer is settled.",
        },
        "OTHER_AGENT_MESSAGE_ID": {
            "from_agent": "planner",
            "to_agent": context["OTHER_REPO"],
            "subject": "Rota",
            "body": "not for atlas-app",
        },
        "READ_MESSAGE_ID": {
            "from_agent": "planner",
            "to_agent": context["REPO_SLUG"],
            "subject": "Old news",
            "body": "already read",
        },
    }
    for name, body in sent.items():
        response = await http.post("/messages/", json=body)
        assert response.status_code == 201, f"seeding the inbox: {response.status_code} {response.text[:300]}"
        context[name] = response.json()["id"]
    read = await http.patch(f"/messages/{context['READ_MESSAGE_ID']}/read", json={})
    assert read.is_success, f"seeding a read message: {read.status_code} {read.text[:300]}"


async def replay(template: Template, daemon: RunningDaemon, transport: str) -> list[str]:
    """Every failing step of `template` against `daemon`, one line each (empty: the template works)."""
    async with httpx.AsyncClient(base_url=daemon.url, timeout=20.0) as http:
        session = Replay(http, dict(PLACEHOLDERS))
        await seed_inbox(http, session.context)
        if template.surface == "rest":
            return await session.run(template.steps)
        async with connect(daemon, transport) as client:
            session.mcp = client
            session.tools = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
            return await session.run(template.steps)
