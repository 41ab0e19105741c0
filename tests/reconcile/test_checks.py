"""`devhub check`: every rule fires on a repo made to trip it and stays quiet on a clean one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from devhub.service.checks import RULES, exit_code
from tests.reconcile.helpers import Home, findings_by_rule, make_repo
from tests.support.repos import git

WP = "workplans/CHK-WP-0001-clean.md"

CLEAN = """---
id: CHK-WP-0001
type: workplan
title: "A clean workplan"
domain: testing
status: {wp_status}
state_hub_workstream_id: {workstream}
---

# CHK-WP-0001 - A clean workplan

## Task: First

```task
id: {t1_id}
status: {t1_status}
priority: high
state_hub_task_id: {t1_hub}
```

## Task: Second

```task
id: CHK-WP-0001-T02
status: done
priority: low
state_hub_task_id: "33333333-3333-4333-8333-000000000002"
```
"""

DEFAULTS = {
    "wp_status": "active",
    "workstream": '"33333333-3333-4333-8333-333333333333"',
    "t1_id": "CHK-WP-0001-T01",
    "t1_status": "todo",
    "t1_hub": '"33333333-3333-4333-8333-000000000001"',
}


def clean_text(ident: str = "CHK-WP-0001", **changes: str) -> str:
    return CLEAN.format(**(DEFAULTS | changes)).replace("CHK-WP-0001", ident)


def clean_repo(root: Path, ident: str = "CHK-WP-0001", **changes: str) -> Path:
    """A committed repo with one clean workplan (its id `ident`; `changes` override template values)."""
    return make_repo(root, {f"workplans/{ident}-clean.md": clean_text(ident, **changes)})


def test_a_clean_repo_has_no_findings_and_exits_0(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "clean"))
    assert home.checks() == []
    assert home.json("check") == {"findings": [], "exit_code": 0}
    done = home.cli("check")
    assert done.returncode == 0 and "clean: no findings" in done.stdout


def _no_workplans_dir(tmp_path: Path, home: Home) -> None:
    home.register(make_repo(tmp_path / "bare", {"README.md": "no workplans here\n"}))


def _parse_error(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "broken", t1_status="[todo"))


def _parse_warning(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "short", t1_id="T01"))


def _unlinked_workplan(tmp_path: Path, home: Home) -> None:
    home.register(make_repo(tmp_path / "new", {WP: clean_text().replace("state_hub_workstream_id:", "# was:")}))


def _unlinked_task(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "new", t1_hub='""'))


def _pending_writeback(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "local"))
    home.set_status("CHK-WP-0001-T01", "progress", repo="local")


def _conflict(tmp_path: Path, home: Home) -> None:
    repo = clean_repo(tmp_path / "raced")
    home.register(repo)
    home.set_status("CHK-WP-0001-T01", "progress", repo="raced")
    (repo / WP).write_text(clean_text(t1_status="wait"))
    git(repo, "commit", "-q", "-am", "someone else says wait")


def _non_canonical_status(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "legacy", t1_status="in_progress", wp_status="completed"))


def _id_collision(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "repo-a"), clean_repo(tmp_path / "repo-b"))


def _repo_missing(tmp_path: Path, home: Home) -> None:
    import shutil

    home.register(clean_repo(tmp_path / "gone"))
    shutil.rmtree(tmp_path / "gone")


# rule -> (how to trip it, the exact rules that fire, (repo, location) of one expected finding)
CASES: dict[str, tuple[Callable[[Path, Home], None], set[str], tuple[str, str | None]]] = {
    "no-workplans-dir": (_no_workplans_dir, {"no-workplans-dir"}, ("bare", None)),
    "parse-error": (_parse_error, {"parse-error"}, ("broken", f"{WP}:17")),
    "parse-warning": (_parse_warning, {"parse-warning"}, ("short", f"{WP}:15")),
    "unlinked-workplan": (_unlinked_workplan, {"unlinked-workplan"}, ("new", f"{WP}:1")),
    "unlinked-task": (_unlinked_task, {"unlinked-task"}, ("new", f"{WP}:12")),
    "pending-writeback": (_pending_writeback, {"pending-writeback"}, ("local", f"{WP}:16")),
    "conflict": (_conflict, {"conflict"}, ("raced", f"{WP}:16")),
    "non-canonical-status": (_non_canonical_status, {"non-canonical-status"}, ("legacy", f"{WP}:16")),
    "id-collision": (_id_collision, {"id-collision"}, ("repo-a", f"{WP}:0")),
    "repo-missing": (_repo_missing, {"repo-missing"}, ("gone", None)),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_each_rule_fires_on_a_repo_made_to_trip_it(rule: str, tmp_path: Path, home: Home) -> None:
    trip, expected_rules, (repo, location) = CASES[rule]
    trip(tmp_path, home)
    findings = home.checks()
    grouped = findings_by_rule(findings)
    assert set(grouped) == expected_rules, findings
    places = [(f["repo"], f["location"]) for f in grouped[rule]]
    if location is None:
        assert [p[0] for p in places] == [repo] and grouped[rule][0]["location"].endswith(f"/{repo}")
    else:
        assert (repo, location) in places, places
    severity, fix = RULES[rule]
    assert all(f["severity"] == severity and f["fix"] == fix and f["message"] for f in grouped[rule])
    assert exit_code(findings) == (1 if severity == "error" else 2)


def test_rule_messages_say_what_is_wrong(tmp_path: Path, home: Home) -> None:
    _conflict(tmp_path / "a", home)
    _non_canonical_status(tmp_path / "b", home)
    _pending_writeback(tmp_path / "c", home)
    by_repo = {(f["rule"], f["repo"]): f["message"] for f in home.checks()}
    assert by_repo[("conflict", "raced")] == (
        "task CHK-WP-0001-T01: local status='progress' but the file changed from 'todo' to 'wait'"
    )
    assert by_repo[("non-canonical-status", "legacy")] == "task CHK-WP-0001-T01 uses 'in_progress' (means 'progress')"
    assert by_repo[("pending-writeback", "local")] == "task CHK-WP-0001-T01: local status='progress', file says 'todo'"
    legacy = [f for f in home.checks(repo="legacy") if f["rule"] == "non-canonical-status"]
    assert {f["message"] for f in legacy} == {
        "task CHK-WP-0001-T01 uses 'in_progress' (means 'progress')",
        "workplan CHK-WP-0001 uses 'completed' (means 'finished')",
    }


def test_exit_codes_and_json_through_the_cli(tmp_path: Path, home: Home) -> None:
    home.register(clean_repo(tmp_path / "clean"), clean_repo(tmp_path / "new", "CHK-WP-0002", t1_hub='""'))
    warnings = home.json("check", expect=2)
    assert warnings["exit_code"] == 2
    assert [(f["rule"], f["repo"], f["location"]) for f in warnings["findings"]] == [
        ("unlinked-task", "new", "workplans/CHK-WP-0002-clean.md:12")
    ]
    assert home.json("check", "--repo", "clean") == {"findings": [], "exit_code": 0}
    raced = clean_repo(tmp_path / "raced", "CHK-WP-0003")
    home.register(raced)
    home.set_status("CHK-WP-0003-T01", "progress")
    (raced / "workplans/CHK-WP-0003-clean.md").write_text(clean_text("CHK-WP-0003", t1_status="wait"))
    git(raced, "commit", "-q", "-am", "someone else says wait")
    errors = home.json("check", expect=1)
    assert {f["rule"] for f in errors["findings"]} == {"unlinked-task", "conflict"}
    human = home.cli("check")
    assert human.returncode == 1
    assert "conflict" in human.stdout and "unlinked-task" in human.stdout
    assert json.loads(home.cli("check", "--json", "--repo", "raced").stdout)["exit_code"] == 1
