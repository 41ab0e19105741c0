"""Local consistency checks: each finding has a stable rule id, a place and how to fix it.

Exit codes follow the fleet hub's consistency check: 0 clean, 2 warnings only, 1 errors.
"""

from __future__ import annotations

from typing import Any

from devhub.store import activity
from devhub.store.presence import REPO_MISSING
from devhub.store.reader import Reader

RULES: dict[str, tuple[str, str]] = {
    # rule id: (severity, how to fix)
    "no-workplans-dir": ("warning", "create a workplans/ folder in the repo, or unregister it: devhub unregister SLUG"),
    "parse-error": (
        "error",
        "fix the file at the given line; the rest of the file and every other file is still served",
    ),
    "parse-warning": ("warning", "tidy the file at the given line (the hub already read it best-effort)"),
    "unlinked-workplan": (
        "warning",
        "push the repo so the fleet hub registers the workplan (C-06) and writes state_hub_workstream_id back",
    ),
    "unlinked-task": (
        "warning",
        "the fleet hub's consistency sync assigns state_hub_task_id (C-11); until then relay of writes to this "
        "task is held",
    ),
    "pending-writeback": ("warning", "run `devhub writeback --commit` to write local status changes into the file"),
    "conflict": (
        "error",
        "the file changed after a local write and they disagree: edit the file to the value you want, or write "
        "again with `devhub task set`",
    ),
    "non-canonical-status": (
        "warning",
        "use a canonical status word (tasks: wait todo progress done cancel; workplans: proposed ready active "
        "blocked backlog finished archived)",
    ),
    "id-collision": ("error", "the same id exists in two repos (workplan prefix collision): renumber one of them"),
    REPO_MISSING: ("error", "re-create or move the repo folder back (it is rescanned), or `devhub unregister SLUG`"),
}


async def _write_location(reader: Reader, kind: str, repo: str, ident: str, field: str) -> str | None:
    """`path:line` a local write is about: the `status:` entry, else the task heading (None if in no file)."""
    table = "tasks" if kind == "task" else "workplans"
    fallback = "line" if kind == "task" else "1"
    line = f"COALESCE(status_line, {fallback})" if field == "status" else fallback
    row = await reader.one(
        f"SELECT path, {line} AS line FROM {table} WHERE repo = ? AND id = ? ORDER BY path LIMIT 1",
        (repo, ident),
    )
    return f"{row['path']}:{row['line']}" if row else None


def _finding(rule: str, repo: str | None, location: str | None, message: str) -> dict[str, Any]:
    severity, fix = RULES[rule]
    return {"rule": rule, "severity": severity, "repo": repo, "location": location, "message": message, "fix": fix}


async def run_checks(reader: Reader, *, repo: str | None = None) -> list[dict[str, Any]]:
    """Every finding for the registered repos (or one repo), in a stable order."""
    findings: list[dict[str, Any]] = []
    scope_sql, scope = (" AND repo = ?", [repo]) if repo else ("", [])
    problems = await activity.list_problems(reader, repo=repo)
    missing = {problem["repo"]: problem["message"] for problem in problems if problem["code"] == REPO_MISSING}
    for row in await reader.all(
        "SELECT slug, path FROM repos WHERE has_workplans = 0" + scope_sql.replace("repo", "slug"), scope
    ):
        if row["slug"] in missing:  # no folder at all, let alone a workplans/ one
            findings.append(_finding(REPO_MISSING, row["slug"], row["path"], missing[row["slug"]]))
            continue
        findings.append(
            _finding("no-workplans-dir", row["slug"], row["path"], f"{row['path']} has no workplans/ folder")
        )
    for problem in problems:
        if problem["code"].endswith("-across-repos"):
            findings.append(_finding("id-collision", problem["repo"], problem["location"], problem["message"]))
        elif problem["code"] == REPO_MISSING:
            continue  # reported with the repo's path above
        else:
            rule = "parse-error" if problem["severity"] == "error" else "parse-warning"
            findings.append(
                _finding(rule, problem["repo"], problem["location"], f"{problem['code']}: {problem['message']}")
            )
    for row in await reader.all(
        "SELECT id, repo, path FROM workplans WHERE (state_hub_workstream_id IS NULL OR state_hub_workstream_id = '')"
        + scope_sql
        + " ORDER BY repo, id",
        scope,
    ):
        findings.append(
            _finding(
                "unlinked-workplan",
                row["repo"],
                f"{row['path']}:1",
                f"workplan {row['id']} has no state_hub_workstream_id (registration upstream pending)",
            )
        )
    for row in await reader.all(
        "SELECT id, repo, path, line FROM tasks WHERE (state_hub_task_id IS NULL OR state_hub_task_id = '')"
        + scope_sql
        + " ORDER BY repo, path, line",
        scope,
    ):
        findings.append(
            _finding(
                "unlinked-task",
                row["repo"],
                f"{row['path']}:{row['line']}",
                f"task {row['id']} has no state_hub_task_id",
            )
        )
    for write in await activity.pending_local_writes(reader, repo=repo):
        findings.append(
            _finding(
                "pending-writeback",
                write["repo"],
                await _write_location(reader, write["kind"], write["repo"], write["id"], write["field"]),
                f"{write['kind']} {write['id']}: local {write['field']}={write['value']!r}, "
                f"file says {write['file_value']!r}",
            )
        )
    for conflict in await activity.list_conflicts(reader):
        if repo and conflict["repo"] != repo:
            continue
        findings.append(
            _finding(
                "conflict",
                conflict["repo"],
                await _write_location(reader, conflict["kind"], conflict["repo"], conflict["id"], conflict["field"]),
                f"{conflict['kind']} {conflict['id']}: local {conflict['field']}={conflict['local_value']!r} "
                f"but the file changed from {conflict['file_value_then']!r} to {conflict['file_value_now']!r}",
            )
        )
    for table in ("workplans", "tasks"):
        line = "COALESCE(status_line, line)" if table == "tasks" else "status_line"
        for row in await reader.all(
            f"SELECT id, repo, path, {line} AS line, status_raw, file_status FROM {table}"
            " WHERE status_raw IS NOT NULL AND file_status IS NOT NULL AND lower(trim(status_raw)) != file_status"
            + scope_sql
            + " ORDER BY repo, path, line",
            scope,
        ):
            findings.append(
                _finding(
                    "non-canonical-status",
                    row["repo"],
                    f"{row['path']}:{row['line'] or 0}",
                    f"{table[:-1]} {row['id']} uses {row['status_raw']!r} (means {row['file_status']!r})",
                )
            )
    return findings


def exit_code(findings: list[dict[str, Any]]) -> int:
    """0 clean (or info only), 2 warnings only, 1 any error."""
    severities = {f["severity"] for f in findings}
    if "error" in severities:
        return 1
    if "warning" in severities:
        return 2
    return 0
