"""`open_hub(settings)`: the one place that decides "daemon or not" for a data directory.

A daemon that owns the data directory is the single writer of its journal and read model, so
every call goes to it over HTTP (RemoteHub). With none, the caller becomes that single writer
for as long as the context lasts: it takes the data-directory lock, starts a Hub without serving
(files and journal caught up), and releases both on exit (LocalHub).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from devhub.errors import AlreadyRunning

if TYPE_CHECKING:
    from devhub.service.port import HubPort
    from devhub.settings import Settings

# Another CLI command (no URL in the lock) holds the data directory for one short sync or write; wait for it.
LOCK_WAIT_SECONDS = 10.0


@asynccontextmanager
async def open_hub(settings: Settings, *, purpose: str = "cli") -> AsyncIterator[HubPort]:
    """The hub for `settings.data_dir`: its running daemon, else an in-process Hub held under the lock."""
    from devhub.daemon.discovery import lock_holder
    from devhub.daemon.lockfile import FileLock, FileLockHeld
    from devhub.service.remote import RemoteHub

    lock = FileLock(settings.lock_path)
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        holder = lock_holder(settings.data_dir)
        if holder and holder.get("url"):
            remote = RemoteHub(str(holder["url"]), settings.token)
            try:
                yield remote
            finally:
                await remote.aclose()
            return
        try:
            lock.acquire({"pid": None, "purpose": purpose})
            break
        except FileLockHeld as held:
            if time.monotonic() >= deadline:
                raise AlreadyRunning(
                    f"another devhub process holds {settings.data_dir} ({held.holder}); try again"
                ) from None
            await asyncio.sleep(0.05)
    try:
        async with _local_hub(settings) as local:
            yield local
    finally:
        lock.release()


@asynccontextmanager
async def _local_hub(settings: Settings) -> AsyncIterator[HubPort]:
    from devhub.service.hub import Hub
    from devhub.service.local import LocalHub

    hub = Hub(settings)
    try:
        await hub.start(serve=False)
        yield LocalHub(hub)
    finally:
        await hub.stop()
