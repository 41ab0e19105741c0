"""Read-only access to the read model over aiosqlite; one reader per task, never the writer."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

DEFAULT_BUDGET_SECONDS = 1.0
# SQLite VM steps between two looks at the clock: ~1,000 looks a second in a costly FTS query, so a
# statement is stopped within ~0.1 s of its deadline.
_BUDGET_CHECK_STEPS = 100


class Reader:
    """An async read-only connection with the two helpers every query needs."""

    def __init__(self, conn: aiosqlite.Connection, *, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> None:
        self.conn = conn
        self.budget_seconds = budget_seconds

    @classmethod
    async def open(cls, path: Path, *, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> Reader:
        conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA query_only=1")
        return cls(conn, budget_seconds=budget_seconds)

    @asynccontextmanager
    async def time_budget(self) -> AsyncIterator[None]:
        """Statements run inside are interrupted (sqlite3.OperationalError 'interrupted') once the budget is spent."""
        deadline = time.monotonic() + self.budget_seconds
        await self.conn.set_progress_handler(lambda: time.monotonic() > deadline, _BUDGET_CHECK_STEPS)
        try:
            yield
        finally:
            await self.conn.set_progress_handler(None, 0)  # type: ignore[arg-type]

    async def close(self) -> None:
        await self.conn.close()

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
            return row


class ReaderPool:
    """A fixed number of readers shared by every request; `reopen` swaps them all for fresh ones.

    A reader lent out while the pool reopens is closed when it comes back, so a database
    file replaced underneath (deleted, rebuilt) is never read through a stale connection.
    """

    def __init__(self, path: Path, size: int, *, budget_seconds: float = DEFAULT_BUDGET_SECONDS) -> None:
        self.path = path
        self.size = size
        self.budget_seconds = budget_seconds
        self._idle: asyncio.Queue[Reader] = asyncio.Queue()
        self._current: set[Reader] = set()

    async def open(self) -> None:
        for _ in range(self.size):
            reader = await Reader.open(self.path, budget_seconds=self.budget_seconds)
            self._current.add(reader)
            self._idle.put_nowait(reader)

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[Reader]:
        reader = await self._idle.get()
        try:
            yield reader
        finally:
            if reader in self._current:
                self._idle.put_nowait(reader)
            else:
                await reader.close()

    async def reopen(self) -> None:
        """Open fresh readers, then close the idle old ones (busy ones close when returned)."""
        self._current = set()
        stale = []
        while not self._idle.empty():
            stale.append(self._idle.get_nowait())
        await self.open()
        for reader in stale:
            await reader.close()

    async def close(self) -> None:
        readers, self._current = self._current, set()
        for reader in readers:
            await reader.close()
