"""Committed symlinks that leave their repo are never opened: not at start, not while watching, on no surface.

A real git repo in tmp commits links to a secret file outside it (absolute and relative), to
/proc/self/environ (which holds the daemon's own DEVHUB_TOKEN), into the repo's .git folder, and
a linked `workplans/archived/` folder; a real daemon runs with DEVHUB_TOKEN set. Neither secret
may appear in any answer, and every link is reported as `symlink-outside-repo` under its own path.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tests.adapters.mcp.helpers import connect, payload, run
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import git
from tests.support.waiting import wait_for

SECRET = f"zebrasecret{secrets.token_hex(8)}"
TOKEN = f"tokensecret{secrets.token_hex(8)}"


def _workplan(ident: str, words: str) -> str:
    return (
        f"---\nid: {ident}\ntype: workplan\ntitle: {words}\nstatus: active\n---\n\n{words} in the body.\n\n"
        f"## Task: {words}\n\nid: {ident}-T01\nstatus: todo\n\n{words} in the task.\n"
    )


def _outside_world(tmp_path: Path) -> tuple[Path, Path]:
    """A secret workplan-shaped file and a folder of them, both outside any repo."""
    outside = tmp_path / "outside"
    (outside / "plans").mkdir(parents=True)
    secret_file = outside / "credentials.md"
    secret_file.write_text(_workplan("SEC-WP-0001", SECRET))
    (outside / "plans" / "SEC-WP-0004.md").write_text(_workplan("SEC-WP-0004", SECRET))
    return secret_file, outside / "plans"


def _repo_with_links(tmp_path: Path, secret_file: Path, secret_folder: Path) -> Path:
    repo = tmp_path / "ws" / "leaky"
    (repo / "workplans").mkdir(parents=True)
    (repo / "docs").mkdir()
    (repo / "workplans" / "OK-WP-0001.md").write_text(_workplan("OK-WP-0001", "plainwords"))
    (repo / "docs" / "OK-WP-0002.md").write_text(_workplan("OK-WP-0002", "linkedinside"))
    links = {
        "workplans/SEC-WP-0001.md": str(secret_file),  # absolute
        "workplans/SEC-WP-0002.md": os.path.relpath(secret_file, repo / "workplans"),  # relative
        "workplans/SEC-WP-0003.md": "/proc/self/environ",  # the daemon's own environment
        "workplans/SEC-WP-0005.md": "../.git/config",  # inside the checkout, but git's private folder
        "workplans/archived": str(secret_folder),  # a whole linked folder
        "workplans/OK-WP-0002.md": "../docs/OK-WP-0002.md",  # a link that stays inside: still served
    }
    for name, target in links.items():
        (repo / name).symlink_to(target)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "leaky.secret", SECRET)  # what `-> ../.git/config` would expose
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    return repo


def _everything_served(daemon: RunningDaemon) -> dict[str, str]:
    """The text of every read surface a client (or a web page) can reach without the token."""
    texts: dict[str, str] = {}
    for path in (
        "/workplans/",
        "/tasks/",
        "/tasks/?ready=true",
        "/errors",
        "/state/summary",
        "/orient",
        "/repos/",
        f"/search?q={SECRET}",
        f"/search?q={TOKEN}",
        "/search?q=body",  # a word every workplan here has: a followed link's snippet would show up
        "/",
        "/ui/search?q=body",  # (not the secret itself: the page echoes its query)
    ):
        answer = daemon.get(path)
        assert answer.status_code < 500, (path, answer.text)
        texts[path] = answer.text
    for ident in ("SEC-WP-0001", "SEC-WP-0002", "SEC-WP-0003", "SEC-WP-0004", "SEC-WP-0005", "OK-WP-0001"):
        for path in (f"/workplans/{ident}", f"/ui/workplans/{ident}", f"/tasks/{ident}-T01"):
            texts[path] = daemon.get(path).text

    async def mcp() -> dict[str, str]:
        found: dict[str, str] = {}
        async with connect(daemon, "stdio") as client:  # HTTP /mcp needs the token: stdio passes it on
            for ident in ("SEC-WP-0001", "SEC-WP-0003", "SEC-WP-0004", "OK-WP-0001", "OK-WP-0002"):
                try:
                    found[f"workplan://{ident}"] = (await client.read_resource(f"workplan://{ident}")).contents[0].text
                except Exception as exc:  # not found / refused: the message is served too, so it is checked
                    found[f"workplan://{ident}"] = str(exc)
            found["brief://leaky"] = (await client.read_resource("brief://leaky")).contents[0].text
            found["search"] = str(payload(await client.call_tool("search", {"q": SECRET})))
            found["list_workplans"] = str(payload(await client.call_tool("list_workplans", {})))
        return found

    texts.update(run(mcp()))
    return texts


def _assert_no_secret(texts: dict[str, str]) -> None:
    leaks = [where for where, text in texts.items() if SECRET in text or TOKEN in text]
    assert leaks == []


def _refused_paths(daemon: RunningDaemon) -> set[str]:
    problems = daemon.get("/errors").json()["problems"]
    return {p["path"] for p in problems if p["code"] == "symlink-outside-repo"}


def test_links_out_of_the_repo_are_reported_and_never_served(tmp_path: Path) -> None:
    secret_file, secret_folder = _outside_world(tmp_path)
    repo = _repo_with_links(tmp_path, secret_file, secret_folder)
    daemon = start_daemon(tmp_path / "hub", [repo], env={"DEVHUB_TOKEN": TOKEN})
    try:
        assert _refused_paths(daemon) == {
            "workplans/SEC-WP-0001.md",
            "workplans/SEC-WP-0002.md",
            "workplans/SEC-WP-0003.md",
            "workplans/SEC-WP-0005.md",
            "workplans/archived",
        }
        assert {w["id"] for w in daemon.get("/workplans/").json()} == {"OK-WP-0001", "OK-WP-0002"}
        texts = _everything_served(daemon)
        assert "linkedinside" in texts["workplan://OK-WP-0002"]  # an in-repo link keeps working
        _assert_no_secret(texts)
        check = daemon.cli("check", "--json")
        assert "symlink-outside-repo" in check.stdout and "workplans/SEC-WP-0001.md" in check.stdout
        _assert_no_secret({"devhub check": check.stdout + check.stderr})

        # Watching: a link added while running, and a served file swapped for a link, are refused too.
        (repo / "workplans" / "SEC-WP-0006.md").symlink_to(secret_file)
        served = repo / "workplans" / "OK-WP-0001.md"
        served.unlink()
        served.symlink_to(secret_file)
        wait_for(
            lambda: {"workplans/SEC-WP-0006.md", "workplans/OK-WP-0001.md"} <= _refused_paths(daemon),
            what="the watcher to refuse the new links",
        )
        assert {w["id"] for w in daemon.get("/workplans/").json()} == {"OK-WP-0002"}
        _assert_no_secret(_everything_served(daemon))
    finally:
        daemon.stop()


def test_a_workplans_folder_linked_out_of_the_repo_is_not_listed_or_watched(tmp_path: Path) -> None:
    _, secret_folder = _outside_world(tmp_path)
    (secret_folder / "SEC-WP-0007.md").write_text(_workplan("SEC-WP-0007", SECRET))
    repo = tmp_path / "ws" / "leaky"
    repo.mkdir(parents=True)
    (repo / "workplans").symlink_to(secret_folder)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "linked folder")
    daemon = start_daemon(tmp_path / "hub", [repo], env={"DEVHUB_TOKEN": TOKEN})
    try:
        assert _refused_paths(daemon) == {"workplans"}
        assert daemon.get("/workplans/").json() == []
        assert daemon.get("/state/daemon").json()["watcher"]["roots"] == 1  # .git only, not the linked folder
        _assert_no_secret(_everything_served(daemon))
    finally:
        daemon.stop()
