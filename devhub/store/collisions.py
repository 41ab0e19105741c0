"""The workplan-prefix collision: the same workplan or task id in two repos, kept as problems.

Both rows are kept (a workplan is identified by repo and id); each side gets a problem
naming the other repos. Recomputed by the writer after every file sync, so readers only
read the problems table.
"""

from __future__ import annotations

import sqlite3

COLLISION_CODES = ("duplicate-workplan-id-across-repos", "duplicate-task-id-across-repos")


def refresh_collisions(conn: sqlite3.Connection) -> None:
    """Replace every collision problem with the ones the current rows show."""
    conn.execute(f"DELETE FROM problems WHERE code IN ({', '.join('?' for _ in COLLISION_CODES)})", COLLISION_CODES)
    rows: list[tuple[str, str, int, str, str, str]] = []
    for kind, table, line in (("workplan", "workplans", "0"), ("task", "tasks", "line")):
        dupes = conn.execute(
            f"SELECT id, repo, path, {line} AS line FROM {table}"
            f" WHERE id IN (SELECT id FROM {table} GROUP BY id HAVING COUNT(DISTINCT repo) > 1)"
            " ORDER BY id, repo, path"
        ).fetchall()
        for dupe_id, repo, path, at in dupes:
            others = sorted({r for i, r, _, _ in dupes if i == dupe_id and r != repo})
            message = f"{kind} id {dupe_id} also exists in {', '.join(others)} (workplan prefix collision)"
            rows.append((repo, path, at, "error", f"duplicate-{kind}-id-across-repos", message))
    conn.executemany(
        "INSERT OR REPLACE INTO problems(repo, path, line, severity, code, message) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
