"""A `depends_on` naming a task id that no registered repo defines, kept as a problem.

The dependent is never ready while the id is unknown (see store.ready): a typo or a task
that was removed must not unblock work by counting as done. Like collisions, this spans
files, so the writer recomputes it after every file sync and readers only read problems.
"""

from __future__ import annotations

import sqlite3

UNKNOWN_DEPENDENCY = "unknown-dependency"


def refresh_unknown_dependencies(conn: sqlite3.Connection) -> None:
    """Replace every unknown-dependency problem with the ones the current rows show."""
    conn.execute("DELETE FROM problems WHERE code = ?", (UNKNOWN_DEPENDENCY,))
    rows = conn.execute(
        """SELECT t.repo, t.path, COALESCE(MIN(r.line), t.line) AS line, t.id, d.depends_on
             FROM task_deps d JOIN tasks t ON t.key = d.task_key
             LEFT JOIN refs r ON r.repo = t.repo AND r.path = t.path AND r.source_id = t.id
                             AND r.target_id = d.depends_on AND r.kind = 'depends_on'
            WHERE NOT EXISTS (SELECT 1 FROM tasks known WHERE known.id = d.depends_on)
            GROUP BY t.key, d.depends_on"""
    ).fetchall()
    conn.executemany(
        "INSERT OR REPLACE INTO problems(repo, path, line, severity, code, message) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                repo,
                path,
                line,
                "warning",
                UNKNOWN_DEPENDENCY,
                f"task {task_id} depends on {dependency}, which no registered repo defines; "
                f"{task_id} is not ready until it exists",
            )
            for repo, path, line, task_id, dependency in rows
        ],
    )
