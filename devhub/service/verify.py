"""`devhub verify`: rebuild into a scratch database and compare it with the live one.

The "exact-count restore" check: counts of repos, workplans and tasks per status, then
every row of every table, so any drift between the live model and files + journal shows.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from devhub.registry import Registry
from devhub.settings import Settings
from devhub.store.schema import TABLES, connect
from devhub.store.verify import read_model_counts, table_rows


def compare(live: sqlite3.Connection, rebuilt: sqlite3.Connection) -> dict[str, Any]:
    """Counts side by side and every row that differs between two read models."""
    live_counts, new_counts = read_model_counts(live), read_model_counts(rebuilt)
    counts = [
        {"what": name, "live": live_counts.get(name, 0), "rebuilt": new_counts.get(name, 0)}
        for name in sorted(set(live_counts) | set(new_counts), key=lambda n: (n.split(" ")[0], n))
    ]
    drift: list[dict[str, Any]] = []
    for table in TABLES:
        if table == "meta":
            continue
        old, new = table_rows(live, table), table_rows(rebuilt, table)
        for key in sorted(set(old) | set(new), key=repr):
            if key not in new:
                drift.append({"table": table, "key": list(key), "change": "only in the live model"})
            elif key not in old:
                drift.append({"table": table, "key": list(key), "change": "missing from the live model"})
            elif old[key] != new[key]:
                names = list(TABLES[table][0])
                fields = [n for n, a, b in zip(names, old[key], new[key], strict=True) if a != b]
                drift.append({"table": table, "key": list(key), "change": f"differs in {', '.join(fields)}"})
    return {"counts": counts, "drift": drift}


def verify_read_model(config: Settings) -> dict[str, Any]:
    """Rebuild from files + journal into a scratch file and compare with the live read model."""
    from devhub.service.local import journal_envelopes
    from devhub.store.writer import rebuild

    repos = Registry(config.registry_path).repos()
    with tempfile.TemporaryDirectory(prefix="devhub-verify-") as scratch:
        scratch_db = Path(scratch) / "scratch.sqlite"
        rebuild(scratch_db, repos, journal_envelopes(config), max_file_bytes=config.max_workplan_bytes)
        live = connect(config.database_path, read_only=True)
        rebuilt = connect(scratch_db, read_only=True)
        try:
            return compare(live, rebuilt)
        finally:
            live.close()
            rebuilt.close()
