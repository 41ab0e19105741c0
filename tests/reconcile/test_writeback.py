"""`devhub writeback` on real git repos: byte-exact minimal edits, commits with hooks, conflicts, dry runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from devhub.reconcile import writeback as wb
from tests.reconcile.helpers import Home, make_repo
from tests.support.daemon import RunningDaemon
from tests.support.repos import git

SHAPES_PATH = "workplans/RW-WP-0001-shapes.md"
CRLF_PATH = "workplans/RW-WP-0002-crlf.md"

# Each {placeholder} is a status value; everything else must survive writeback byte for byte.
SHAPES = """---
id: RW-WP-0001
type: workplan
title: "Writeback shapes"
domain: testing
status: active
state_hub_workstream_id: "11111111-1111-4111-8111-111111111111"
---

# RW-WP-0001 - Writeback shapes

## Task: Plain value

```task
id: RW-WP-0001-T01
status: {t1}
priority: high
state_hub_task_id: "11111111-1111-4111-8111-000000000001"
```

Body of T01 mentions status: todo in prose, which must not change.

## Task: Double-quoted value followed by a comment

```task
id: RW-WP-0001-T02
status: {t2}   # keep this comment, spacing too
priority: medium
state_hub_task_id: "11111111-1111-4111-8111-000000000002"
```

## T03 - Single-quoted legacy word

```yaml
id: RW-WP-0001-T03
priority: low
status: {t3}
state_hub_task_id: "11111111-1111-4111-8111-000000000003"
```

## Task T04: Bare lines with a comment
id: RW-WP-0001-T04
status: {t4} # bare block
state_hub_task_id: "11111111-1111-4111-8111-000000000004"

## Task: Untouched

```task
id: RW-WP-0001-T05
status: todo
state_hub_task_id: "11111111-1111-4111-8111-000000000005"
```
"""

CRLF = """---
id: RW-WP-0002
type: workplan
title: "CRLF file"
status: {wp}
state_hub_workstream_id: "22222222-2222-4222-8222-222222222222"
---

## Task: Windows line endings

```task
id: RW-WP-0002-T01
status: "{t1}"
state_hub_task_id: "22222222-2222-4222-8222-000000000001"
```
"""

BEFORE = {"t1": "todo", "t2": '"todo"', "t3": "'in_progress'", "t4": "wait"}
AFTER = {"t1": "progress", "t2": '"done"', "t3": "'done'", "t4": "cancel"}


def shapes_bytes(values: dict[str, str]) -> bytes:
    return SHAPES.format(**values).encode()


def crlf_bytes(wp: str, t1: str) -> bytes:
    return CRLF.format(wp=wp, t1=t1).replace("\n", "\r\n").encode()


def make_shapes_repo(root: Path) -> Path:
    return make_repo(root, {SHAPES_PATH: shapes_bytes(BEFORE), CRLF_PATH: crlf_bytes("active", "todo")})


def install_hooks(repo: Path, record: Path) -> None:
    """commit-msg and pre-commit hooks that record what GIT_CUSTODIAN_SYNC they saw."""
    for name in ("pre-commit", "commit-msg"):
        hook = repo / ".git" / "hooks" / name
        hook.write_text(f'#!/bin/sh\necho "{name} GIT_CUSTODIAN_SYNC=${{GIT_CUSTODIAN_SYNC:-unset}}" >> "{record}"\n')
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


def changed_lines(before: bytes, after: bytes) -> list[tuple[bytes, bytes]]:
    old, new = before.split(b"\n"), after.split(b"\n")
    assert len(old) == len(new), "writeback must not add or remove lines"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def pending_ids(home: Home) -> set[str]:
    return {f["message"].split(":")[0].split(" ")[1] for f in home.checks() if f["rule"] == "pending-writeback"}


def test_writeback_commit_changes_only_status_values_byte_for_byte(tmp_path: Path, home: Home) -> None:
    repo = make_shapes_repo(tmp_path / "rw")
    record = tmp_path / "hook-record"
    install_hooks(repo, record)
    home.register(repo)
    for task, status in (("T01", "progress"), ("T02", "done"), ("T03", "done"), ("T04", "cancel")):
        home.set_status(f"RW-WP-0001-{task}", status)
    home.set_status("RW-WP-0002-T01", "wait", blocking_reason="waits for review")
    home.set_workplan_status("RW-WP-0002", "finished")
    assert pending_ids(home) == {f"RW-WP-0001-T0{i}" for i in range(1, 5)} | {"RW-WP-0002-T01", "RW-WP-0002"}
    head_before = git(repo, "rev-parse", "HEAD").strip()

    report = home.json("writeback", "--commit")

    assert report["exit_code"] == 0 and report["conflicts"] == []
    assert (repo / SHAPES_PATH).read_bytes() == shapes_bytes(AFTER)
    assert changed_lines(shapes_bytes(BEFORE), (repo / SHAPES_PATH).read_bytes()) == [
        (b"status: todo", b"status: progress"),
        (b'status: "todo"   # keep this comment, spacing too', b'status: "done"   # keep this comment, spacing too'),
        (b"status: 'in_progress'", b"status: 'done'"),  # the legacy word becomes the canonical one
        (b"status: wait # bare block", b"status: cancel # bare block"),
    ]
    crlf_after = (repo / CRLF_PATH).read_bytes()
    assert crlf_after == crlf_bytes("finished", "wait")
    assert crlf_after.count(b"\r\n") == crlf_after.count(b"\n")  # still CRLF throughout
    # One commit on top of the old HEAD, holding exactly the two files, with the change list.
    assert git(repo, "rev-parse", "HEAD~1").strip() == head_before
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("devhub writeback: 6 status changes\n\n")
    assert "- RW-WP-0001-T03: in_progress -> done\n" in message and "- RW-WP-0002: active -> finished\n" in message
    assert sorted(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == [SHAPES_PATH, CRLF_PATH]
    assert git(repo, "status", "--porcelain") == ""
    assert [c["sha"] for c in report["commits"]] == [git(repo, "rev-parse", "HEAD").strip()]
    assert record.read_text().splitlines() == ["pre-commit GIT_CUSTODIAN_SYNC=1", "commit-msg GIT_CUSTODIAN_SYNC=1"]
    # The overlay reconciled: only the wait's blocking_reason is still pending (writeback writes status
    # values only; the reason the canon asks for stays a local value), and the file values are the effective ones.
    assert pending_ids(home) == {"RW-WP-0002-T01"}
    task = home.json("task", "show", "RW-WP-0001-T03")
    assert (task["status"], task["status_source"], task["file_status"]) == ("done", "file", "done")
    again = home.cli("writeback")
    assert again.returncode == 0 and again.stdout == ""
    assert "skipped task RW-WP-0002-T01: blocking_reason is not a file field writeback changes" in again.stderr


def test_dry_run_shows_the_diff_and_writes_nothing(tmp_path: Path, home: Home) -> None:
    repo = make_shapes_repo(tmp_path / "rw")
    home.register(repo)
    home.set_status("RW-WP-0001-T02", "done")
    home.set_status("RW-WP-0002-T01", "progress")
    files = [repo / SHAPES_PATH, repo / CRLF_PATH]
    before = [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in files]
    head = git(repo, "rev-parse", "HEAD")

    done = home.cli("writeback", "--dry-run")

    assert done.returncode == 0, done.stderr
    assert f"--- a/rw/{SHAPES_PATH}\n+++ b/rw/{SHAPES_PATH}\n" in done.stdout
    assert '-status: "todo"   # keep this comment, spacing too\n' in done.stdout
    assert '+status: "done"   # keep this comment, spacing too\n' in done.stdout
    assert "would write rw/" in done.stdout
    assert [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in files] == before
    assert git(repo, "rev-parse", "HEAD") == head
    report = home.json("writeback", "--dry-run")
    assert report["dry_run"] is True and len(report["changes"]) == 2 and report["diff"].count("--- a/") == 2
    assert '-status: "todo"\r\n+status: "progress"\r\n' in report["diff"]  # the CRLF file's lines keep their CR
    assert [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in files] == before
    usage = home.cli("writeback", "--dry-run", "--commit")
    assert usage.returncode == 2 and "exclude each other" in usage.stderr
    unknown = home.cli("writeback", "--repo", "no-such-repo")
    assert unknown.returncode == 2 and "no registered repo with slug 'no-such-repo'" in unknown.stderr


def test_changed_and_dirty_files_are_conflicts_left_untouched(tmp_path: Path, home: Home) -> None:
    changed = make_shapes_repo(tmp_path / "changed")
    dirty = make_repo(
        tmp_path / "dirty",
        {"workplans/RW-WP-0003-dirty.md": SHAPES.replace("RW-WP-0001", "RW-WP-0003").format(**BEFORE)},
    )
    home.register(changed, dirty)
    home.set_status("RW-WP-0001-T01", "done")  # will conflict: the file changes underneath
    home.set_status("RW-WP-0001-T05", "progress")  # same file, untouched line: still written
    home.set_status("RW-WP-0003-T01", "done")  # will be refused: uncommitted edits in git
    # Someone commits another value for T01 after the local write; someone else edits the dirty repo.
    (changed / SHAPES_PATH).write_bytes(shapes_bytes(BEFORE | {"t1": "wait"}))
    git(changed, "commit", "-q", "-am", "T01 waits")
    dirty_file = dirty / "workplans/RW-WP-0003-dirty.md"
    dirty_file.write_bytes(dirty_file.read_bytes() + b"\nA note being written.\n")
    dirty_before = (dirty_file.read_bytes(), os.stat(dirty_file).st_mtime_ns)

    report = home.json("writeback", "--commit", expect=1)

    refusals = {c["id"]: c for c in report["conflicts"]}
    assert set(refusals) == {"RW-WP-0001-T01", "RW-WP-0003-T01"}
    assert "uncommitted changes" in refusals["RW-WP-0003-T01"]["reason"]
    assert refusals["RW-WP-0001-T01"]["file_value_now"] == "wait"
    assert (dirty_file.read_bytes(), os.stat(dirty_file).st_mtime_ns) == dirty_before
    # T01 keeps the value someone committed; T05 (no conflict) was still written and committed.
    assert (changed / SHAPES_PATH).read_bytes() == shapes_bytes(BEFORE | {"t1": "wait"}).replace(
        b"id: RW-WP-0001-T05\nstatus: todo", b"id: RW-WP-0001-T05\nstatus: progress"
    )
    assert [c["repo"] for c in report["commits"]] == ["changed"]
    human = home.cli("writeback")
    assert human.returncode == 1
    assert "conflict dirty/workplans/RW-WP-0003-dirty.md" in human.stderr
    assert "conflict changed/" in human.stderr and "RW-WP-0001-T01" in human.stderr


def test_a_file_changed_between_reading_and_planning_is_never_overwritten(tmp_path: Path, home: Home) -> None:
    repo = make_shapes_repo(tmp_path / "rw")
    home.register(repo)
    home.set_status("RW-WP-0001-T04", "done")
    pending = home.query(lambda reader: wb.collect_pending(reader))
    assert [(p.id, p.value, p.file_value, p.paths) for p in pending.statuses] == [
        ("RW-WP-0001-T04", "done", "wait", (SHAPES_PATH,))
    ]
    # The file changes (and is committed) after the read model was read, before writeback plans.
    changed = shapes_bytes(BEFORE | {"t4": "todo"})
    (repo / SHAPES_PATH).write_bytes(changed)
    git(repo, "commit", "-q", "-am", "T04 back to todo")

    plan = wb.plan_writeback(pending)

    assert plan.edits == []
    assert [(r.id, r.file_value_then, r.file_value_now) for r in plan.refusals] == [("RW-WP-0001-T04", "wait", "todo")]
    assert "changed underneath" in plan.refusals[0].reason
    assert wb.apply_plan(plan) == [] and (repo / SHAPES_PATH).read_bytes() == changed


def test_a_file_changed_between_planning_and_writing_is_left_alone(tmp_path: Path, home: Home) -> None:
    repo = make_shapes_repo(tmp_path / "rw")
    home.register(repo)
    home.set_status("RW-WP-0001-T01", "done")
    plan = wb.plan_writeback(home.query(lambda reader: wb.collect_pending(reader)))
    assert len(plan.edits) == 1
    racing = shapes_bytes(BEFORE).replace(b"Body of T01", b"Edited body of T01")
    (repo / SHAPES_PATH).write_bytes(racing)

    assert wb.apply_plan(plan) == []

    assert (repo / SHAPES_PATH).read_bytes() == racing
    assert "changed while writeback ran" in plan.refusals[0].reason


def test_writeback_while_a_daemon_runs(daemon: RunningDaemon) -> None:
    from tests.reconcile.helpers import GIT_IDENTITY
    from tests.support.daemon import run_cli

    env = {**daemon.env, **GIT_IDENTITY}
    custodian = next(Path(r["path"]) for r in daemon.get("/repos").json() if r["slug"] == "the-custodian")
    path = custodian / "workplans/CUST-WP-0054-workstation-independence.md"
    before = path.read_bytes()
    run_cli("task", "set", "CUST-WP-0054-T06", "progress", env=env, check=True)
    assert daemon.get("/tasks/CUST-WP-0054-T06").json()["status_source"] == "local"

    done = run_cli("writeback", "--commit", env=env)

    assert done.returncode == 0, done.stderr
    assert changed_lines(before, path.read_bytes()) == [(b"status: todo", b"status: progress")]
    assert git(custodian, "log", "-1", "--format=%s").strip() == "devhub writeback: 1 status change"
    # writeback waited for the daemon's watcher: the API already shows the file value, reconciled.
    task = daemon.get("/tasks/CUST-WP-0054-T06").json()
    assert (task["status"], task["status_source"], task["file_status"]) == ("progress", "file", "progress")
    check = run_cli("check", "--json", env=env)
    assert "CUST-WP-0054-T06" not in check.stdout
