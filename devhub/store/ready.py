"""The materialised `ready` flag (SPEC §2): recomputed by the writer for exactly the tasks a change can affect.

Readiness depends on a task's own status, its workplan's status and the status of the
tasks it depends on, so a change to a task can alter its own flag and that of its
direct dependents (not further: readiness is not transitive).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from devhub.model import READY_WORKPLAN_STATUSES, SETTLED_TASK_STATUSES

_READY_WP = ", ".join(f"'{s}'" for s in sorted(READY_WORKPLAN_STATUSES))
_SETTLED = ", ".join(f"'{s}'" for s in sorted(SETTLED_TASK_STATUSES))

# A dependency that cannot be found counts as unsettled: readiness is never guessed.
READY_EXPR = f"""(tasks.status = 'todo'
    AND (SELECT w.status FROM workplans w WHERE w.key = tasks.workplan_key) IN ({_READY_WP})
    AND NOT EXISTS (SELECT 1 FROM task_deps d WHERE d.task_key = tasks.key AND NOT EXISTS (
        SELECT 1 FROM tasks t2 WHERE t2.id = d.depends_on AND t2.status IN ({_SETTLED}))))"""


# Only a todo task can be ready: CASE short-circuits the subqueries for every other task.
_READY_VALUE = f"CASE WHEN tasks.status = 'todo' THEN {READY_EXPR} ELSE 0 END"


def refresh_all(conn: sqlite3.Connection) -> None:
    """Recompute every task's flag; only rows whose flag changes are written (most tasks are not ready)."""
    conn.execute(f"UPDATE tasks SET ready = {_READY_VALUE} WHERE ready IS NOT {_READY_VALUE}")


def refresh(conn: sqlite3.Connection, *, workplan_keys: Iterable[str] = (), task_ids: Iterable[str] = ()) -> None:
    """Recompute `ready` for tasks in these workplans, with these ids, and their direct dependents."""
    wp_keys, ids = sorted(set(workplan_keys)), sorted(set(task_ids))
    if not wp_keys and not ids:
        return
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS ready_wps (key TEXT PRIMARY KEY)")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS ready_ids (id TEXT PRIMARY KEY)")
    conn.execute("DELETE FROM temp.ready_wps")
    conn.execute("DELETE FROM temp.ready_ids")
    conn.executemany("INSERT OR IGNORE INTO temp.ready_wps(key) VALUES (?)", [(k,) for k in wp_keys])
    conn.executemany("INSERT OR IGNORE INTO temp.ready_ids(id) VALUES (?)", [(i,) for i in ids])
    conn.execute("INSERT OR IGNORE INTO temp.ready_ids(id) SELECT id FROM tasks WHERE workplan_key IN temp.ready_wps")
    conn.execute(
        f"""UPDATE tasks SET ready = {_READY_VALUE}
            WHERE workplan_key IN temp.ready_wps OR id IN temp.ready_ids
               OR key IN (SELECT task_key FROM task_deps WHERE depends_on IN temp.ready_ids)"""
    )
