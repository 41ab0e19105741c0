"""LISTEN for committed fleet writes: each replica applies another one's write at once, and its dashboard shows it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from devhub.store.pg.connect import CONNECT_TIMEOUT_SECONDS, safe_url
from devhub.store.pg.journal import CHANNEL

log = logging.getLogger("devhub.store.pg")
RECONNECT_SECONDS = 1.0


async def follow_writes(
    url: str, on_change: Callable[[int | None], Awaitable[None]], *, idle_seconds: float
) -> None:
    """Call `on_change(seq)` after every NOTIFY of a committed write (`seq`: the last seq it committed, so a
    replica can skip its own writes), and `on_change(None)` after each (re)connect (notifications sent while
    disconnected are lost, so it catches up then) and after `idle_seconds` of silence. Runs until cancelled.
    """
    import psycopg

    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
            async with conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                seq: int | None = None
                while True:
                    await on_change(seq)
                    seq = None
                    async for notify in conn.notifies(timeout=idle_seconds, stop_after=1):
                        seq = _seq(notify.payload)
        except psycopg.Error as exc:
            log.warning("fleet database %s: listening for writes failed (%s); reconnecting", safe_url(url), exc)
        await asyncio.sleep(RECONNECT_SECONDS)


def _seq(payload: str) -> int | None:
    try:
        return int(payload)
    except ValueError:  # not one of ours: catch up as after silence
        return None
