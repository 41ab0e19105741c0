"""The seed workplan and the clean fixture repos, parsed end to end from their real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhub.model import WorkplanRecord
from devhub.workplans import is_workplan_path, parse_workplan

ROOT = Path(__file__).resolve().parents[2]
REPOS = ROOT / "fixtures" / "repos"
SEED_PATH = "workplans/CUST-WP-0054-workstation-independence.md"

SEED_TABLE = """
T01|done|high|67b91b18-9ad0-4917-990a-056a7007a2d4|Target architecture and dependency register
T02|done|high|4f2ae1f1-f9ad-44bb-bae7-151030634f56|De-hub the network — fleet-owned direct tunnels
T03|done|high|70a25fbd-71d7-4d74-a04b-30e775984feb|Production placement plan and freeze policy
T04|progress|high|79b9ee4d-f792-434c-a2ea-2fe216a948ca|Forge to railiance01 + CI runners (kill workstation builds)
T05|todo|high|e91db8d0-973d-4a31-b3c2-ca37fd002ec7|State Hub production home on railiance01
T06|todo|medium|f2c5dd4b-9af4-4e8c-8619-6814e7d1666e|Working-memory and sink path decoupling
T07|todo|high|0eaf1961-a4e7-459e-b710-3e72042cdf50|Dev-environment beachhead (files-first)
T08|todo|medium|ede6713e-8552-469c-bfe5-b17b015e1809|ThreePhoenix increment — phoenix drill automation
T09|wait|medium|c6b0d0a7-88c7-46f6-9d05-5d1078df3c8c|coulombcore decommission readiness → railiance02
T10|wait|high|cd6a31e8-c99e-4191-97d7-68d0389137b0|Workstation-off acceptance test
"""
SEED_TASKS = [
    (f"CUST-WP-0054-{short}", status, priority, uuid, title)
    for short, status, priority, uuid, title in (row.split("|") for row in SEED_TABLE.strip().split("\n"))
]


def _seed() -> tuple[bytes, WorkplanRecord]:
    data = (REPOS / "the-custodian" / SEED_PATH).read_bytes()
    parsed = parse_workplan(data, SEED_PATH)
    assert parsed.problems == ()
    assert parsed.workplan is not None
    return data, parsed.workplan


def test_seed_frontmatter() -> None:
    _, record = _seed()
    assert (record.id, record.type, record.status, record.status_line) == ("CUST-WP-0054", "workplan", "active", 7)
    assert record.title == "Workstation Independence and Fleet Role Realignment"
    assert (record.domain, record.repo, record.owner, record.topic_slug) == (
        "infotech",
        "the-custodian",
        "codex",
        "custodian",
    )
    assert (record.planning_priority, record.planning_order, record.created, record.updated) == (
        "high",
        54,
        "2026-07-03",
        "2026-07-03",
    )
    assert record.state_hub_workstream_id == "8a828444-dd49-4d7b-a2d1-9952b5bc929d"
    assert record.archived is False and dict(record.extra) == {}


def test_seed_has_exactly_its_ten_tasks() -> None:
    data, record = _seed()
    got = [(t.id, t.status, t.priority, t.state_hub_task_id, t.title) for t in record.tasks]
    assert got == SEED_TASKS
    lines = data.decode().split("\n")
    for task in record.tasks:
        assert task.status_line is not None
        # status_line must point at the exact line a writeback would edit
        assert lines[task.status_line - 1] == f"status: {task.status_raw}"
        assert lines[task.line - 1] == f"## Task: {task.title}"
    assert record.tasks[0].body.startswith("Write the canon-adjacent architecture note")
    assert record.tasks[-1].body.endswith("Done when both directions pass without manual repair.")


def test_seed_sequencing_tree() -> None:
    _, record = _seed()
    edges = {(r.source_id[-3:], r.target_id[-3:]) for r in record.references if r.kind == "sequencing"}
    assert edges == {
        ("T02", "T01"),
        ("T03", "T01"),
        ("T04", "T03"),
        ("T05", "T03"),
        ("T06", "T01"),
        ("T07", "T01"),
        ("T08", "T01"),
        ("T09", "T04"),
        ("T09", "T08"),
    }


def test_seed_cross_references() -> None:
    _, record = _seed()
    mentioned = {r.target_id for r in record.references if r.kind == "mention"}
    assert mentioned == {
        "RAIL-HO-WP-0005",
        "CUST-WP-0011-T07",
        "CUST-WP-0011-T08",
        "CUST-WP-0011-T09",
        "STATE-WP-0068",
        "RAIL-BS-WP-0006",
        "NET-WP-0020",
        "RAIL-BS-WP-0007",
        "CUST-WP-0038",
        "CORE-WP-0005",
        "CORE-WP-0007",
    }
    by_task = {(r.source_id, r.target_id) for r in record.references if r.kind == "mention"}
    assert ("CUST-WP-0054-T05", "CUST-WP-0011-T07") in by_task
    assert ("CUST-WP-0054-T04", "RAIL-HO-WP-0005") in by_task


def _repo_files() -> list[tuple[Path, str]]:
    found = []
    for repo in sorted(p for p in REPOS.iterdir() if p.is_dir()):
        for path in sorted(repo.rglob("*.md")):
            found.append((path, path.relative_to(repo).as_posix()))
    return found


@pytest.mark.parametrize(("path", "relpath"), _repo_files(), ids=lambda v: str(v).split("fixtures/repos/")[-1])
def test_every_clean_fixture_file_parses_without_errors(path: Path, relpath: str) -> None:
    if not is_workplan_path(relpath):
        assert path.name.lower() == "readme.md"
        return
    parsed = parse_workplan(path.read_bytes(), relpath)
    assert parsed.workplan is not None
    assert [p for p in parsed.problems if p.severity == "error"] == []
    assert parsed.workplan.tasks, "every fixture workplan has tasks"
    assert parsed.workplan.repo == path.relative_to(REPOS).parts[0]


def test_clean_fixtures_cover_every_status_and_readiness_case() -> None:
    records = []
    for path, relpath in _repo_files():
        if is_workplan_path(relpath):
            parsed = parse_workplan(path.read_bytes(), relpath)
            assert parsed.workplan is not None
            records.append(parsed.workplan)
    tasks = {t.id: (t, w) for w in records for t in w.tasks}
    assert {t.status for t, _ in tasks.values()} == {"wait", "todo", "progress", "done", "cancel"}
    assert {w.status for w in records} >= {"active", "ready", "proposed", "finished"}
    assert any(w.archived for w in records)
    assert any(w.state_hub_workstream_id is None for w in records)
    assert any(t.state_hub_task_id is None for t, _ in tasks.values())
    assert any(t.extra.get("needs_human") is True for t, _ in tasks.values())
    assert any(t.assignee for t, _ in tasks.values())

    def ready(task_id: str) -> bool:
        task, owner = tasks[task_id]
        deps = [tasks[d][0].status if d in tasks else None for d in task.depends_on]
        return (
            task.status == "todo" and owner.status in ("active", "ready") and all(s in ("done", "cancel") for s in deps)
        )

    assert ready("OPS-WP-0012-T03") and ready("OPS-WP-0014-P1.2") and ready("CUST-WP-0054-T05")
    assert not ready("OPS-WP-0012-T04") and not ready("STATE-WP-0068-T03") and not ready("CUST-WP-0011-T09")
    assert not ready("STATE-WP-0071-T01")  # todo, but its workplan is only proposed


def test_ops_bridge_fixtures_really_are_crlf_and_bom() -> None:
    crlf = (REPOS / "ops-bridge/workplans/OPS-WP-0012-fleet-owned-tunnels.md").read_bytes()
    bom = (REPOS / "ops-bridge/workplans/OPS-WP-0014-wireguard-mesh-evaluation.md").read_bytes()
    assert crlf.count(b"\r\n") == crlf.count(b"\n")
    assert bom.startswith(b"\xef\xbb\xbf")


def test_collision_fixtures_share_one_workplan_id() -> None:
    ids = []
    for repo in ("repo-a", "repo-b"):
        (path,) = (ROOT / "fixtures" / "collision" / repo / "workplans").glob("*.md")
        parsed = parse_workplan(path.read_bytes(), f"workplans/{path.name}")
        assert parsed.problems == () and parsed.workplan is not None
        ids.append((parsed.workplan.id, parsed.workplan.tasks[0].id))
    assert ids[0] == ids[1] == ("INFRA-WP-0003", "INFRA-WP-0003-T01")
