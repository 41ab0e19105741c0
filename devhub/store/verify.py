"""The two reads `devhub verify` compares a live and a rebuilt read model by: counts, and every row."""

from __future__ import annotations

import sqlite3
from typing import Any

from devhub.store.schema import TABLES

_COUNTS = (
    ("repos", "SELECT COUNT(*) FROM repos"),
    ("workplans", "SELECT COUNT(*) FROM workplans"),
    ("tasks", "SELECT COUNT(*) FROM tasks"),
    ("progress events", "SELECT COUNT(*) FROM progress"),
    ("messages", "SELECT COUNT(*) FROM messages"),
    ("local writes", "SELECT COUNT(*) FROM local_writes"),
    ("problems", "SELECT COUNT(*) FROM problems"),
)


def read_model_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Row counts of the main tables, plus tasks and workplans per status ("tasks done", "workplans active", …)."""
    counts = {name: conn.execute(sql).fetchone()[0] for name, sql in _COUNTS}
    for status, n in conn.execute("SELECT COALESCE(status, 'unknown'), COUNT(*) FROM tasks GROUP BY 1 ORDER BY 1"):
        counts[f"tasks {status}"] = n
    for status, n in conn.execute("SELECT COALESCE(status, 'unknown'), COUNT(*) FROM workplans GROUP BY 1 ORDER BY 1"):
        counts[f"workplans {status}"] = n
    return counts


def table_rows(conn: sqlite3.Connection, table: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Every row of `table` (one of schema.TABLES), keyed by its primary key, columns in TABLES order."""
    columns, pk = TABLES[table]
    keys = (pk,) if isinstance(pk, str) else pk
    names = list(columns)
    result = {}
    for row in conn.execute(f"SELECT {', '.join(names)} FROM {table}"):
        record = dict(zip(names, row, strict=True))
        result[tuple(record[k] for k in keys)] = tuple(row)
    return result
