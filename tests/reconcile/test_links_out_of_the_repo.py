"""Writeback and `brief --write` never read or write through a link that leaves the repo.

Real git repos in tmp, a file outside the repo the links point at, and the real writeback
planning and applying code. Each case swaps something for a link after the read model saw a
normal file (so the read model still lists the task): the workplan file itself, the whole
`workplans/` folder, the `workplans/archived/` folder; and the swap between planning and
writing. An in-repo link keeps working: writeback edits its target and leaves the link a link.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from devhub.reconcile import writeback as wb
from tests.reconcile.helpers import Home, make_repo
from tests.support.repos import git

PLAN = """---
id: LN-WP-0001
type: workplan
title: Links
status: active
---

## Task: One

id: LN-WP-0001-T01
status: todo
"""


def _repo(root: Path, path: str) -> Path:
    return make_repo(root, {path: PLAN})


def _pending(home: Home, repo: Path) -> wb.Pending:
    home.register(repo)
    home.set_status("LN-WP-0001-T01", "done")
    pending = home.query(lambda reader: wb.collect_pending(reader))
    assert [(p.id, p.file_value) for p in pending.statuses] == [("LN-WP-0001-T01", "todo")]
    return pending


def _swap_for_link(link: Path, outside: Path) -> None:
    """Move `link` (a file or folder) to `outside` and leave a symlink to it; committed, so git sees no edit."""
    shutil.move(str(link), str(outside))
    link.symlink_to(outside)
    repo = next(p for p in link.parents if (p / ".git").exists())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a link out")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("path", "swapped"),
    [
        ("workplans/LN-WP-0001.md", "workplans/LN-WP-0001.md"),
        ("workplans/LN-WP-0001.md", "workplans"),
        ("workplans/archived/LN-WP-0001.md", "workplans/archived"),
    ],
)
def test_writeback_refuses_a_file_that_became_a_link_out_of_the_repo(
    tmp_path: Path, home: Home, path: str, swapped: str
) -> None:
    repo = _repo(tmp_path / "rw", path)
    pending = _pending(home, repo)
    outside = tmp_path / "outside" / Path(swapped).name
    outside.parent.mkdir()
    _swap_for_link(repo / swapped, outside)
    before = _snapshot(tmp_path / "outside")

    plan = wb.plan_writeback(pending)
    written = wb.apply_plan(plan)

    assert plan.edits == [] and written == []
    assert [r.id for r in plan.refusals] == ["LN-WP-0001-T01"]
    assert "symlink-outside-repo" in plan.refusals[0].reason
    assert _snapshot(tmp_path / "outside") == before
    assert not list((tmp_path / "outside").rglob(".*.tmp"))  # no temp file left outside either


@pytest.mark.parametrize("swapped", ["workplans/LN-WP-0001.md", "workplans"])
def test_writeback_refuses_a_link_swapped_in_between_planning_and_writing(
    tmp_path: Path, home: Home, swapped: str
) -> None:
    repo = _repo(tmp_path / "rw", "workplans/LN-WP-0001.md")
    plan = wb.plan_writeback(_pending(home, repo))
    assert len(plan.edits) == 1
    outside = tmp_path / "outside" / Path(swapped).name
    outside.parent.mkdir()
    _swap_for_link(repo / swapped, outside)
    before = _snapshot(tmp_path / "outside")

    assert wb.apply_plan(plan) == []

    assert "symlink-outside-repo" in plan.refusals[0].reason
    assert _snapshot(tmp_path / "outside") == before


def test_writeback_through_a_link_inside_the_repo_edits_its_target(tmp_path: Path, home: Home) -> None:
    repo = make_repo(tmp_path / "rw", {"docs/LN-WP-0001.md": PLAN})
    (repo / "workplans").mkdir()
    (repo / "workplans" / "LN-WP-0001.md").symlink_to("../docs/LN-WP-0001.md")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "an in-repo link")
    plan = wb.plan_writeback(_pending(home, repo))

    assert len(wb.apply_plan(plan)) == 1 and plan.refusals == []

    link = repo / "workplans" / "LN-WP-0001.md"
    assert link.is_symlink() and os.readlink(link) == "../docs/LN-WP-0001.md"
    assert (repo / "docs" / "LN-WP-0001.md").read_text() == PLAN.replace("status: todo", "status: done")


def test_brief_write_never_writes_through_a_link(tmp_path: Path, home: Home) -> None:
    repo = _repo(tmp_path / "briefed", "workplans/LN-WP-0001.md")
    home.register(repo)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "bashrc").write_text("precious\n")
    # A planted link where the old code put its temp file: written through, the target was lost.
    (repo / "..custodian-brief.md.tmp").symlink_to(outside / "bashrc")

    home.ok("brief", "--write", "--repo", "briefed")

    assert (outside / "bashrc").read_text() == "precious\n"
    assert (repo / ".custodian-brief.md").read_text().startswith("# Offline brief: briefed\n")
    assert not (repo / ".custodian-brief.md").is_symlink()

    # The brief itself a link out of the repo: refused, with the reason, and nothing written.
    (repo / ".custodian-brief.md").unlink()
    (repo / ".custodian-brief.md").symlink_to(outside / "bashrc")
    refused = home.cli("brief", "--write", "--repo", "briefed")
    assert refused.returncode != 0
    assert "symlink" in refused.stderr and ".custodian-brief.md" in refused.stderr
    assert (outside / "bashrc").read_text() == "precious\n"
    assert (repo / ".custodian-brief.md").is_symlink()
