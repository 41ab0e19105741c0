"""Property-based fuzzing of every MCP tool through the official SDK client, on one real daemon: hostile and
wrong-typed arguments never crash a tool (the SDK's bare "Error executing tool X"), every refusal says why,
and a refused write leaves the journal as it was.

Tools come from the server's own tools/list, so a new tool is fuzzed without editing this file.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mcp.client import Client
from mcp.shared.exceptions import MCPError

from tests.adapters.api.test_fuzz_http import journal_bytes
from tests.adapters.mcp.helpers import stdio_parameters, text_of
from tests.support import hostile
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

CRASH_TEXT = "Error executing tool {name}"


class ToolSession:
    """One SDK client session held open in a background event loop, so hypothesis can call tools synchronously.

    The SDK's task groups must be entered and left by the same task, so a single serving task owns the
    session and takes calls from a queue.
    """

    def __init__(self, target: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._calls: asyncio.Queue[Any] = asyncio.Queue()
        self.tools: dict[str, dict[str, Any]] = {}
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._served = asyncio.run_coroutine_threadsafe(self._serve(target, ready), self._loop)
        ready.result(timeout=60)

    async def _serve(self, target: Any, ready: concurrent.futures.Future[None]) -> None:
        try:
            async with Client(target, cache=None) as client:
                self.tools = {tool.name: tool.input_schema for tool in (await client.list_tools()).tools}
                ready.set_result(None)
                while (call := await self._calls.get()) is not None:
                    name, arguments, answer = call
                    try:
                        answer.set_result(await client.call_tool(name, arguments))
                    except Exception as exc:
                        answer.set_exception(exc)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    def call(self, name: str, arguments: dict[str, Any]) -> Any:
        answer: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._loop.call_soon_threadsafe(self._calls.put_nowait, (name, arguments, answer))
        return answer.result(timeout=10)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._calls.put_nowait, None)
        try:
            self._served.result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("fuzz-mcp")
    running = start_daemon(root / "hub", make_workspace(root / "ws"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module", params=["http", "stdio"])
def session(request: pytest.FixtureRequest, fuzz_daemon: RunningDaemon) -> Iterator[ToolSession]:
    target = fuzz_daemon.url + "/mcp" if request.param == "http" else stdio_parameters(fuzz_daemon.env)
    opened = ToolSession(target)
    # Guard against fuzzing nothing: the tool list must hold reads and writes.
    assert {"get_recent_progress", "add_progress_event", "register_repo"} <= set(opened.tools)
    try:
        yield opened
    finally:
        opened.close()


# -- argument strategies: what a client can put in a JSON-RPC request ------------------------------------------

# A str holding a lone surrogate cannot be encoded into the request at all, so none are generated here;
# the JSON parser in front of the tools refuses the escaped form (see test_hostile_tools.py).
py_text = st.one_of(
    st.sampled_from([t for t in hostile.TEXT_LITERALS if not any(0xD800 <= ord(c) <= 0xDFFF for c in t)]),
    hostile.plain_text,
    st.sampled_from(hostile.REAL_IDS),
    st.sampled_from(hostile.STATUS_WORDS),
)
py_int = st.one_of(
    st.sampled_from((0, -1, 1, 10_000, 10_001, 100_001, 2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**30))),
    st.integers(),
)
py_scalar = st.one_of(
    py_text, py_int, st.booleans(), st.none(), st.floats(), st.sampled_from((float("nan"), float("inf")))
)
py_json = st.recursive(
    py_scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(hostile.FIELD_NAMES), hostile.plain_text), children, max_size=4),
    ),
    max_leaves=10,
)


def _nested(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"a": value}
    return value


# Past ~190 levels the SDK's JSON-RPC parser refuses the whole message, and its stdio transport then never
# answers (it cannot tell which request failed); below that the tools must refuse by name.
py_deep = st.sampled_from((33, 40, 150, 180)).map(_nested)

py_updates = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "task_id": st.one_of(st.sampled_from(hostile.REAL_IDS), py_json),
            "status": st.one_of(st.sampled_from(hostile.STATUS_WORDS), py_json),
            "repo": st.one_of(st.just("the-custodian"), py_json),
        },
    ),
    max_size=3,
)

visible_ascii = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)

# register_repo must not register anything real: every path is absolute, under a folder that does not exist,
# or one of the literals that broke it (NUL, an unknown user's home).
register_paths = st.one_of(
    py_text.map(lambda text: "/nonexistent-devhub-fuzz/" + text),
    st.sampled_from(("/nonexistent\x00", "a\x00b", "~nosuchuser-devhub-fuzz/x", "~nosuchuser-devhub-fuzz")),
)


def _shaped(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of the type the schema names, hostile inside (enums keep their words, plus a few foreign ones)."""
    options = schema.get("anyOf", [schema])
    strategies = []
    for option in options:
        kind = option.get("type")
        if "enum" in option:
            strategies.append(st.one_of(st.sampled_from(option["enum"]), py_text))
        elif kind == "string":
            strategies.append(py_text)
        elif kind == "integer":
            strategies.append(py_int)
        elif kind == "boolean":
            strategies.append(st.booleans())
        elif kind == "object":
            fields = st.dictionaries(st.sampled_from(hostile.FIELD_NAMES), py_json)
            strategies.append(st.one_of(py_json, py_deep, fields))
        elif kind == "array":
            strategies.append(st.one_of(py_updates, st.lists(py_json, max_size=3)))
        elif kind == "null":
            strategies.append(st.none())
    return st.one_of(*strategies) if strategies else py_json


@st.composite
def tool_arguments(draw: st.DrawFn, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    arguments: dict[str, Any] = {}
    for field, field_schema in properties.items():
        if field not in required and draw(st.booleans()):
            continue
        if name == "register_repo" and field == "path":
            arguments[field] = draw(register_paths)
        elif field == "idempotency_key":  # its format check is tested with the key's own rules, not here
            arguments[field] = draw(st.one_of(st.none(), visible_ascii))
        elif draw(st.integers(0, 4)) == 0:  # a wrong type, now and then
            arguments[field] = draw(st.one_of(py_json, py_deep))
        else:
            arguments[field] = draw(_shaped(field_schema))
    if draw(st.integers(0, 9)) == 0:
        arguments[draw(st.sampled_from(hostile.FIELD_NAMES))] = draw(py_json)
    if required and draw(st.integers(0, 14)) == 0:
        arguments.pop(draw(st.sampled_from(sorted(required))))
    return arguments


def call_and_check(session: ToolSession, daemon: RunningDaemon, name: str, arguments: dict[str, Any]) -> None:
    before = journal_bytes(daemon)
    shown = repr(arguments)[:300]
    try:
        result = session.call(name, arguments)
    except MCPError as exc:  # a protocol-level refusal (e.g. the request cannot be parsed): still a reason
        event(f"{name}: protocol error")
        assert str(exc).strip() and "internal" not in str(exc).lower(), f"{name}({shown}): {exc!r}"
        assert journal_bytes(daemon) == before
        return
    text = text_of(result)
    event(f"{'refused' if result.is_error else 'answered'}")
    if result.is_error:
        assert text.strip() != CRASH_TEXT.format(name=name), f"{name} crashed on {shown} (see the daemon log)"
        assert text.strip(), f"{name} refused {shown} without a reason"
        assert journal_bytes(daemon) == before, f"{name} refused {shown} but changed the journal"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_no_tool_crashes_on_hostile_arguments(
    data: st.DataObject, session: ToolSession, fuzz_daemon: RunningDaemon
) -> None:
    name = data.draw(st.sampled_from(sorted(session.tools)), label="tool")
    arguments = data.draw(tool_arguments(name, session.tools[name]), label="arguments")
    call_and_check(session, fuzz_daemon, name, arguments)
