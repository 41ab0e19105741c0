"""The live event stream's contract with the real EventBus: hello first, one change per event, unsubscribe on close."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any, cast

from devhub.adapters.dashboard.routes import change_stream
from devhub.service.events import EventBus
from devhub.service.hub import Hub


def test_stream_relays_events_and_unsubscribes_when_closed() -> None:
    async def scenario() -> list[Any]:
        bus = EventBus()
        stream = change_stream(cast(Hub, SimpleNamespace(events=bus)))
        hello = await anext(stream)
        subscribed = bus.subscriber_count
        bus.publish("files", repo="the-custodian", paths=["workplans/x.md"])
        change = await anext(stream)
        await stream.aclose()  # what Litestar does when the browser goes away
        return [hello.event, subscribed, change.event, json.loads(str(change.data)), bus.subscriber_count]

    hello, subscribed, name, data, remaining = asyncio.run(scenario())
    assert (hello, subscribed, name, remaining) == ("hello", 1, "change", 0)
    assert data == {"id": 1, "kind": "files", "repo": "the-custodian", "paths": ["workplans/x.md"]}


def test_an_idle_stream_sends_keep_alive_comments(monkeypatch: Any) -> None:
    monkeypatch.setattr("devhub.adapters.dashboard.routes.KEEPALIVE_SECONDS", 0.01)

    async def scenario() -> Any:
        stream = change_stream(cast(Hub, SimpleNamespace(events=EventBus())))
        await anext(stream)
        message = await anext(stream)
        await stream.aclose()
        return message

    message = asyncio.run(scenario())
    assert message.comment == "keep-alive" and message.event is None
