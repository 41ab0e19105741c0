"""A registered repo whose folder is gone, kept as a `repo-missing` problem.

So /errors, `GET /repos/`, `devhub status`, `devhub check` and the dashboard all say it; its
workplans are dropped with its files (they are no longer on disk), and come back with a
rescan when the folder does. Recomputed by the writer whenever the repos table is.
"""

from __future__ import annotations

import sqlite3

from devhub.registry import Repo

REPO_MISSING = "repo-missing"


def refresh_missing(conn: sqlite3.Connection, repos: list[Repo]) -> None:
    """Replace every repo-missing problem with one per registered repo whose folder is not there now."""
    conn.execute("DELETE FROM problems WHERE code = ?", (REPO_MISSING,))
    rows = [
        (
            repo.slug,
            ".",
            0,
            "error",
            REPO_MISSING,
            f"the repo folder {repo.path} is missing (deleted or moved away); its workplans are not served "
            f"until it is back. Re-create or move it back, or `devhub unregister {repo.slug}`",
        )
        for repo in repos
        if not repo.root.is_dir()
    ]
    conn.executemany(
        "INSERT OR REPLACE INTO problems(repo, path, line, severity, code, message) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
