"""RepoFiles and the build's file reading: links out of the repo, swaps after the check, the size bound.

Real files, real git repos and real SQLite read models in tmp; the daemon-level tests are in
tests/service/test_outside_links.py and tests/service/test_workplan_size_bound.py.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from devhub.errors import FileRefused
from devhub.registry import Repo, inspect_repo
from devhub.service.verify import compare
from devhub.store.build import sync_repo_files
from devhub.store.repofiles import RepoFiles
from devhub.store.schema import connect, open_database
from devhub.store.writer import ReadModelWriter, rebuild
from tests.reconcile.helpers import make_repo

PLAN = (
    "---\nid: RF-WP-0001\ntype: workplan\ntitle: Files\nstatus: active\n---\n\n"
    "## Task: One\n\nid: RF-WP-0001-T01\nstatus: todo\n"
)
SECRET = "outsidesecretwords"


def _problems(db: Path) -> dict[str, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT path, code FROM problems"))
    finally:
        conn.close()


def _workplans(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM workplans")}
    finally:
        conn.close()


def _no_drift(tmp_path: Path, db: Path, repos: list[Repo], max_file_bytes: int) -> None:
    scratch = tmp_path / "scratch.sqlite"
    rebuild(scratch, repos, [], max_file_bytes=max_file_bytes)
    live, rebuilt = connect(db, read_only=True), connect(scratch, read_only=True)
    try:
        assert compare(live, rebuilt)["drift"] == []
    finally:
        live.close()
        rebuilt.close()


def test_a_changed_bound_takes_effect_at_the_next_sync_without_touching_the_file(tmp_path: Path) -> None:
    big = PLAN + "padding line of the body.\n" * 200
    repo_path = make_repo(tmp_path / "sized", {"workplans/RF-WP-0001.md": big})
    hour_ago = time.time() - 3600  # settled: the fingerprint cache trusts size and mtime
    os.utime(repo_path / "workplans" / "RF-WP-0001.md", (hour_ago, hour_ago))
    repos = [inspect_repo(repo_path).repo]
    db = tmp_path / "live.sqlite"
    for bound, refused in ((4096, True), (1 << 20, False), (4096, True)):
        with ReadModelWriter(db, max_file_bytes=bound) as writer:
            writer.sync(repos)
        assert (_problems(db) == {"workplans/RF-WP-0001.md": "file-too-large"}) is refused, bound
        assert _workplans(db) == (set() if refused else {"RF-WP-0001"}), bound
        _no_drift(tmp_path, db, repos, bound)


def test_links_out_are_reported_even_dangling_and_retargeting_inside_serves_the_file(tmp_path: Path) -> None:
    repo_path = make_repo(tmp_path / "linked", {"docs/RF-WP-0001.md": PLAN})
    link = repo_path / "workplans" / "RF-WP-0001.md"
    link.parent.mkdir()
    link.symlink_to(tmp_path / "nowhere" / "secret.md")  # dangling, and outside
    repos = [inspect_repo(repo_path).repo]
    db = tmp_path / "live.sqlite"
    with ReadModelWriter(db) as writer:
        writer.sync(repos)
        assert _problems(db) == {"workplans/RF-WP-0001.md": "symlink-outside-repo"}
        link.unlink()
        link.symlink_to("../docs/RF-WP-0001.md")
        writer.sync(repos)
    assert _problems(db) == {} and _workplans(db) == {"RF-WP-0001"}


def _outside_copy(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "RF-WP-0001.md").write_text(PLAN + SECRET + "\n")
    return outside


def test_a_file_swapped_for_a_link_after_it_was_located_is_refused(tmp_path: Path) -> None:
    repo_path = make_repo(tmp_path / "swap", {"workplans/RF-WP-0001.md": PLAN})
    outside = _outside_copy(tmp_path)
    files = RepoFiles(repo_path)
    real, _ = files.locate("workplans/RF-WP-0001.md")
    target = repo_path / "workplans" / "RF-WP-0001.md"
    target.unlink()
    target.symlink_to(outside / "RF-WP-0001.md")
    with pytest.raises(FileRefused) as refused:
        files.read_located("workplans/RF-WP-0001.md", real)
    assert refused.value.code == "symlink-outside-repo" and refused.value.path == "workplans/RF-WP-0001.md"


def test_a_folder_swapped_for_a_link_after_the_file_was_located_is_refused(tmp_path: Path) -> None:
    repo_path = make_repo(tmp_path / "swap", {"workplans/RF-WP-0001.md": PLAN})
    outside = _outside_copy(tmp_path)
    files = RepoFiles(repo_path)
    real, _ = files.locate("workplans/RF-WP-0001.md")
    shutil.rmtree(repo_path / "workplans")
    (repo_path / "workplans").symlink_to(outside)
    with pytest.raises(FileRefused):
        files.read_located("workplans/RF-WP-0001.md", real)
    with pytest.raises(FileRefused):
        files.replace("workplans/RF-WP-0001.md", b"overwritten")
    assert SECRET in (outside / "RF-WP-0001.md").read_text()


def test_a_file_that_grew_past_the_bound_after_it_was_located_is_refused(tmp_path: Path) -> None:
    repo_path = make_repo(tmp_path / "grow", {"workplans/RF-WP-0001.md": PLAN})
    files = RepoFiles(repo_path, max_bytes=len(PLAN) + 10)
    real, _ = files.locate("workplans/RF-WP-0001.md")
    with open(real, "a") as grow:
        grow.write("x" * 100)
    with pytest.raises(FileRefused) as refused:
        files.read_located("workplans/RF-WP-0001.md", real)
    assert refused.value.code == "file-too-large" and str(len(PLAN) + 100) in refused.value.reason


def test_a_fifo_named_like_a_workplan_does_not_hang_the_build(tmp_path: Path) -> None:
    repo_path = make_repo(tmp_path / "fifo", {"workplans/RF-WP-0001.md": PLAN})
    fifo = repo_path / "workplans" / "RF-WP-0002.md"
    os.mkfifo(fifo)
    repo = inspect_repo(repo_path).repo
    conn = open_database(tmp_path / "live.sqlite")
    done = threading.Event()

    def watcher_sync() -> None:  # the watcher names the path, so the listing's is_file() filter is not in the way
        sync_repo_files(conn, repo, ["workplans/RF-WP-0002.md"])
        done.set()

    worker = threading.Thread(target=watcher_sync, daemon=True)
    worker.start()
    try:
        assert done.wait(10), "reading the FIFO blocked the build"
    finally:
        if not done.is_set():  # unblock a reader stuck in open() so the thread can end
            os.close(os.open(fifo, os.O_WRONLY))
        worker.join(10)
    codes = {row[0]: row[1] for row in conn.execute("SELECT path, code FROM problems")}
    conn.close()
    assert codes == {"workplans/RF-WP-0002.md": "unreadable"}


@pytest.mark.parametrize(
    ("target", "refused"),
    [
        ("../.git/config", True),
        ("../vendor/lib/.git/config", True),  # a nested checkout's git folder is private too
        ("../.github/RF-WP-0001.md", False),  # a name that only starts like .git
        ("../docs/RF-WP-0001.md", False),
    ],
)
def test_links_into_a_git_folder_are_outside_the_working_tree(tmp_path: Path, target: str, refused: bool) -> None:
    files = {"docs/RF-WP-0001.md": PLAN, ".github/RF-WP-0001.md": PLAN, "vendor/lib/.git/config": "[core]\n"}
    repo_path = make_repo(tmp_path / "gitlinks", files)
    (repo_path / "workplans").mkdir()
    (repo_path / "workplans" / "RF-WP-0001.md").symlink_to(target)
    repo_files = RepoFiles(repo_path)
    if refused:
        with pytest.raises(FileRefused, match="outside its repo"):
            repo_files.read("workplans/RF-WP-0001.md")
    else:
        assert repo_files.read("workplans/RF-WP-0001.md") == PLAN.encode()
