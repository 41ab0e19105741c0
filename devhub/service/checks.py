"""Local consistency checks: each finding has a stable rule id, a place and how to fix it.

Exit codes follow the fleet hub's consistency check: 0 clean, 2 warnings only, 1 errors.
"""

from __future__ import annotations

from typing import Any

from devhub.store import activity
from devhub.store import checks as store_checks
from devhub.store.checks import write_location
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


def _finding(rule: str, repo: str | None, location: str | None, message: str) -> dict[str, Any]:
    severity, fix = RULES[rule]
    return {"rule": rule, "severity": severity, "repo": repo, "location": location, "message": message, "fix": fix}


async def run_checks(reader: Reader, *, repo: str | None = None) -> list[dict[str, Any]]:
    """Every finding for the registered repos (or one repo), in a stable order."""
    findings: list[dict[str, Any]] = []
    problems = await activity.list_problems(reader, repo=repo)
    missing = {problem["repo"]: problem["message"] for problem in problems if problem["code"] == REPO_MISSING}
    for bare in await store_checks.repos_without_workplans_dir(reader, repo):
        if bare.slug in missing:  # no folder at all, let alone a workplans/ one
            findings.append(_finding(REPO_MISSING, bare.slug, bare.path, missing[bare.slug]))
            continue
        findings.append(_finding("no-workplans-dir", bare.slug, bare.path, f"{bare.path} has no workplans/ folder"))
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
    for workplan in await store_checks.unlinked_workplans(reader, repo):
        findings.append(
            _finding(
                "unlinked-workplan",
                workplan.repo,
                f"{workplan.path}:1",
                f"workplan {workplan.id} has no state_hub_workstream_id (registration upstream pending)",
            )
        )
    for task in await store_checks.unlinked_tasks(reader, repo):
        findings.append(
            _finding(
                "unlinked-task",
                task.repo,
                f"{task.path}:{task.line}",
                f"task {task.id} has no state_hub_task_id",
            )
        )
    for write in await activity.pending_local_writes(reader, repo=repo):
        findings.append(
            _finding(
                "pending-writeback",
                write["repo"],
                await write_location(reader, write["kind"], write["repo"], write["id"], write["field"]),
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
                await write_location(reader, conflict["kind"], conflict["repo"], conflict["id"], conflict["field"]),
                f"{conflict['kind']} {conflict['id']}: local {conflict['field']}={conflict['local_value']!r} "
                f"but the file changed from {conflict['file_value_then']!r} to {conflict['file_value_now']!r}",
            )
        )
    for table in ("workplans", "tasks"):
        for odd in await store_checks.non_canonical_statuses(reader, table, repo):
            findings.append(
                _finding(
                    "non-canonical-status",
                    odd.repo,
                    f"{odd.path}:{odd.line or 0}",
                    f"{table[:-1]} {odd.id} uses {odd.status_raw!r} (means {odd.file_status!r})",
                )
            )
    findings += await _created_findings(reader, repo)
    return findings


# -- creating work offline --


async def _created_findings(reader: Reader, repo: str | None) -> list[dict[str, Any]]:
    """Work created or dependencies changed through the hub that no file holds yet: pending writeback."""
    from devhub.store.created import created_items
    from devhub.store.dependency_writes import pending_dependency_writes

    found = [
        _finding(
            "pending-writeback",
            item["repo"],
            item["path"],
            f"{item['kind']} {item['id']} was created here and is in no file yet",
        )
        for item in await created_items(reader, repo)
    ]
    found += [
        _finding(
            "pending-writeback",
            write["repo"],
            write["path"],
            f"workplan {write['from_id']}: dependency on {write['to_id']} "
            f"{'added' if write['action'] == 'add' else 'removed'} here, not in the file yet",
        )
        for write in await pending_dependency_writes(reader, repo)
    ]
    return found


def exit_code(findings: list[dict[str, Any]]) -> int:
    """0 clean (or info only), 2 warnings only, 1 any error."""
    severities = {f["severity"] for f in findings}
    if "error" in severities:
        return 1
    if "warning" in severities:
        return 2
    return 0
