"""Read-only access to the read model over aiosqlite; one reader per task, never the writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite


class Reader:
    """An async read-only connection with the two helpers every query needs."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, path: Path) -> Reader:
        conn = await aiosqlite.connect(f"file:{path}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA query_only=1")
        return cls(conn)

    async def close(self) -> None:
        await self.conn.close()

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cursor:
            row = await cursor.fetchone()
            return row
