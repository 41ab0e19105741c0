"""`devhub brief`: the offline brief's content and order, and the same state giving the same bytes."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from devhub.reconcile.brief import BRIEF_FILE, BriefData, BriefTask, BriefWorkplan, brief_data, render_brief
from devhub.store.orient import orient
from tests.reconcile.helpers import Home, make_repo
from tests.support.repos import git

# (task, status, priority): eight open tasks, so the brief shows seven and says one more.
TASKS = [
    ("T01", "todo", "low"),
    ("T02", "done", "high"),
    ("T03", "progress", "medium"),
    ("T04", "wait", "low"),
    ("T05", "todo", "critical"),
    ("T06", "blocked", "high"),  # legacy word for wait
    ("T07", "todo", None),
    ("T08", "cancel", "high"),
    ("T09", "todo", "high"),
    ("T10", "todo", "low"),
]


def workplan(ident: str, status: str, priority: str, domain: str, tasks: list[tuple[str, str, str | None]]) -> str:
    lines = [
        "---",
        f"id: {ident}",
        "type: workplan",
        f'title: "Workplan {ident}"',
        f"domain: {domain}",
        f"status: {status}",
        f"planning_priority: {priority}",
        "---",
        "",
    ]
    for task, task_status, task_priority in tasks:
        lines += ["", f"## Task: Task {task} of {ident}", f"id: {ident}-{task}", f"status: {task_status}"]
        lines += [f"priority: {task_priority}"] if task_priority else []
    return "\n".join(lines) + "\n"


def make_brief_repo(root: Path) -> Path:
    return make_repo(
        root,
        {
            "workplans/BRF-WP-0001-order.md": workplan("BRF-WP-0001", "active", "high", "testing", TASKS),
            "workplans/BRF-WP-0002-later.md": workplan("BRF-WP-0002", "active", "low", "ops", [("T01", "done", None)]),
            "workplans/BRF-WP-0003-idea.md": workplan(
                "BRF-WP-0003", "proposed", "high", "ops", [("T01", "todo", None)]
            ),
        },
    )


def test_render_brief_is_a_pure_function_of_its_data() -> None:
    data = BriefData(
        repo="demo",
        domains=("infotech",),
        synced_at="2026-07-03T10:00:00Z",
        synced_from="commit time of HEAD 0123456789ab",
        workplans=(
            BriefWorkplan(
                id="DEMO-WP-0001",
                title="Demo",
                path="workplans/DEMO-WP-0001-demo.md",
                done=1,
                total=10,
                open_total=8,
                open_tasks=(
                    BriefTask("DEMO-WP-0001-T02", "Waits for a person", "wait", "high", local=False, needs_human=True),
                    BriefTask("DEMO-WP-0001-T01", "Started offline", "progress", None, local=True),
                ),
            ),
        ),
    )
    expected = (
        "# Offline brief: demo\n"
        "\n"
        "- Domain: infotech\n"
        "- Last synced: 2026-07-03T10:00:00Z (commit time of HEAD 0123456789ab)\n"
        "- Active workplans: 1\n"
        "\n"
        "Made by `devhub brief` from the workplan files; a status marked *local* is a change made\n"
        "offline and not yet written back (`devhub writeback --commit`). Open tasks are listed wait,\n"
        "progress, todo, then by priority, then file order (at most 7 per workplan).\n"
        "\n"
        "## DEMO-WP-0001 — Demo\n"
        "\n"
        "1/10 done, 8 open · `workplans/DEMO-WP-0001-demo.md`\n"
        "\n"
        "- `DEMO-WP-0001-T02` **wait** (high) — needs a person: Waits for a person\n"
        "- `DEMO-WP-0001-T01` **progress** *local*: Started offline\n"
        "- … and 6 more open tasks\n"
    )
    assert render_brief(data) == expected
    assert render_brief(data) == render_brief(data)
    empty = render_brief(BriefData("bare", (), None, "no workplan files", ()))
    assert "- Domain: (none stated)\n- Last synced: unknown (no workplan files)\n" in empty
    assert empty.endswith("\nNo active workplans.\n")


def test_brief_orders_open_tasks_and_active_workplans(tmp_path: Path, home: Home) -> None:
    repo = make_brief_repo(tmp_path / "briefed")
    home.register(repo)

    data = home.query(lambda reader: brief_data(reader, "briefed"))

    assert data.domains == ("ops", "testing")
    commit_time = datetime.fromtimestamp(int(git(repo, "log", "-1", "--format=%ct")), UTC)
    assert data.synced_at == commit_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data.synced_from == f"commit time of HEAD {git(repo, 'rev-parse', 'HEAD')[:12]}"
    assert [w.id for w in data.workplans] == [
        "BRF-WP-0001",
        "BRF-WP-0002",
    ]  # no planning_order: by planning priority; proposed left out
    first = data.workplans[0]
    assert (first.done, first.total, first.open_total) == (1, 10, 8)
    assert [(t.id[-3:], t.status, t.priority) for t in first.open_tasks] == [
        ("T06", "wait", "high"),
        ("T04", "wait", "low"),
        ("T03", "progress", "medium"),
        ("T05", "todo", "critical"),
        ("T09", "todo", "high"),
        ("T01", "todo", "low"),
        ("T10", "todo", "low"),  # same priority as T01: file order; T07 (no priority) is the one left out
    ]
    assert "- … and 1 more open task\n" in render_brief(data)
    assert data.workplans[1].open_tasks == () and "- no open tasks\n" in render_brief(data)


def test_brief_is_stable_and_changes_when_a_status_changes(tmp_path: Path, home: Home) -> None:
    repo = make_brief_repo(tmp_path / "briefed")
    home.register(repo)
    first = home.ok("brief", "--repo", "briefed").stdout
    assert first == home.ok("brief", "--repo", "briefed").stdout
    assert first.startswith("# Offline brief: briefed\n")

    assert home.ok("brief", "--repo", "briefed", "--write").stdout.startswith("wrote ")
    target = repo / BRIEF_FILE
    assert target.read_text() == first
    mtime = os.stat(target).st_mtime_ns
    assert home.ok("brief", "--write", "--repo", "briefed").stdout.startswith("unchanged ")
    assert os.stat(target).st_mtime_ns == mtime

    home.set_status("BRF-WP-0001-T07", "wait", blocking_reason="waits for T06")
    changed = home.ok("brief", "--repo", "briefed").stdout
    assert changed != first
    assert "- `BRF-WP-0001-T07` **wait** *local*: Task T07 of BRF-WP-0001\n" in changed
    assert home.ok("brief", "--repo", "briefed", "--write").stdout.startswith("wrote ")
    assert target.read_text() == changed

    unknown = home.cli("brief", "--repo", "nope")
    assert unknown.returncode == 2 and "no registered repo with slug 'nope'" in unknown.stderr


def ordered_workplan(ident: str, status: str, priority: str | None, order: int | None) -> str:
    lines = ["---", f"id: {ident}", "type: workplan", f'title: "Workplan {ident}"', f"status: {status}"]
    lines += [f"planning_priority: {priority}"] if priority else []
    lines += [f"planning_order: {order}"] if order is not None else []
    return "\n".join([*lines, "---", "", "## Task: Only", f"id: {ident}-T01", "status: todo", ""])


def test_the_brief_and_orient_list_active_work_in_the_same_order(tmp_path: Path, home: Home) -> None:
    # (id, status, planning_priority, planning_order): ids, priorities and orders disagree on purpose.
    plans = [
        ("ORD-WP-0001", "active", "low", None),
        ("ORD-WP-0002", "active", "critical", None),
        ("ORD-WP-0003", "active", None, 5),
        ("ORD-WP-0004", "active", "high", 5),
        ("ORD-WP-0005", "active", "low", 2),
        ("ORD-WP-0006", "ready", "critical", 1),  # open but not active: /orient lists it, the brief does not
        ("ORD-WP-0007", "active", None, None),
        ("ORD-WP-0008", "active", "critical", 9),
    ]
    files = {f"workplans/{p[0]}.md": ordered_workplan(*p) for p in plans}
    repo = make_repo(tmp_path / "ordered", files)
    home.register(repo)

    brief = home.query(lambda reader: brief_data(reader, "ordered"))
    oriented = home.query(lambda reader: orient(reader, repo="ordered"))

    expected = [
        "ORD-WP-0005",  # planning_order 2
        "ORD-WP-0004",  # planning_order 5, high
        "ORD-WP-0003",  # planning_order 5, no priority
        "ORD-WP-0008",  # planning_order 9 (critical, but the explicit order comes first)
        "ORD-WP-0002",  # no order: critical
        "ORD-WP-0001",  # no order: low
        "ORD-WP-0007",  # no order, no priority
    ]
    assert [w.id for w in brief.workplans] == expected
    assert [w["id"] for w in oriented["active_workplans"] if w["status"] == "active"] == expected
    assert [w["id"] for w in oriented["active_workplans"]][:1] == ["ORD-WP-0006"]
