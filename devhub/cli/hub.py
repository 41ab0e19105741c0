"""How a CLI command reaches the hub: `with_hub(ctx, op)` runs `op` on `open_hub(settings)` and returns its answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import click

if TYPE_CHECKING:
    from devhub.service.port import HubPort

T = TypeVar("T")


def with_hub(ctx: click.Context, op: Callable[[HubPort], Awaitable[T]]) -> T:
    """`op(hub)` on this data directory's hub: the running daemon, else an in-process one under the lock."""
    from devhub.service.open import open_hub

    settings = ctx.obj.config()

    async def run() -> T:
        async with open_hub(settings) as hub:
            return await op(hub)

    return asyncio.run(run())
