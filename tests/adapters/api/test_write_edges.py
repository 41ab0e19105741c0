"""Writes at the edges, through a real daemon, asserted on the journal file itself.

Secrets never reach the journal under any common spelling or nesting; an Idempotency-Key answers only
the request it was first used for (method, path and target repo, body), never another one's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devhub.cli.demo import FIXTURES
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_repo_from, make_workspace

T05, T06, T07 = "CUST-WP-0054-T05", "CUST-WP-0054-T06", "CUST-WP-0054-T07"
SHARED_TASK = "INFRA-WP-0003-T01"  # in both collision repos


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    home = tmp_path_factory.mktemp("writes")
    repos = make_workspace(home / "ws", ["the-custodian"])
    repos += [make_repo_from(FIXTURES / "collision" / name, home / "ws" / name) for name in ("repo-a", "repo-b")]
    running = start_daemon(home / "hub", repos)
    try:
        yield running
    finally:
        running.stop()


def _journal_text(daemon: RunningDaemon) -> str:
    return "".join(p.read_text() for p in sorted((daemon.data_dir / "journal").glob("*.jsonl")))


def _journal_count(daemon: RunningDaemon) -> int:
    return len(_journal_text(daemon).splitlines())


# Every value holding a secret starts with SECRET; every value that must survive starts with KEEP.
SECRET_DETAIL = {
    "token": "SECRET-1",
    "Token": "SECRET-2",
    "github_token": "SECRET-3",
    "GITHUB_TOKEN": "SECRET-4",
    "githubToken": "SECRET-5",
    "session_token": "SECRET-6",
    "authorization": "Bearer SECRET-7",
    "Authorization": "Bearer SECRET-8",
    "password": "SECRET-9",
    "PASSWORD": "SECRET-10",
    "db.password": "SECRET-11",
    "api_key": "SECRET-12",
    "API-KEY": "SECRET-13",
    "apiKey": "SECRET-14",
    "x-api-key": "SECRET-15",
    "clientSecret": "SECRET-16",
    "private_key": {"pem": "SECRET-17"},
    "credentials": {"user": "SECRET-18", "pass": "SECRET-19"},
    "secrets": ["SECRET-20", "SECRET-21"],
    "nested": {"deeper": {"password": "SECRET-22", "note": "KEEP-1"}, "host": "KEEP-2"},
    "steps": [
        {"name": "KEEP-3", "token": "SECRET-23"},
        [{"authorization": "SECRET-24"}, {"api_key": "SECRET-25", "region": "KEEP-4"}],
        "KEEP-5",
    ],
    "author": "KEEP-6",  # "auth" inside a word is not a secret
    "input_tokens": "KEEP-7",  # a count of LLM tokens, not a credential
}


def test_secret_fields_never_reach_the_journal_in_any_spelling_or_depth(daemon: RunningDaemon) -> None:
    answer = daemon.request("POST", "/progress/", json={"summary": "rotated creds", "detail": SECRET_DETAIL})
    assert answer.status_code == 201, answer.text
    patched = daemon.request(
        "PATCH", f"/tasks/{T07}", json={"note": "with a stray secret", "GitHub_Token": "SECRET-26"}
    )
    assert patched.status_code == 200, patched.text
    sent = daemon.request(
        "POST",
        "/messages/",
        json={"from_agent": "a", "to_agent": "b", "subject": "s", "body": "KEEP-8", "password": "SECRET-27"},
    )
    assert sent.status_code == 201, sent.text

    journal = _journal_text(daemon)
    assert "SECRET" not in journal, [line for line in journal.splitlines() if "SECRET" in line]
    for n in range(1, 9):
        assert f"KEEP-{n}" in journal, f"KEEP-{n} was redacted too"
    detail = answer.json()["detail"]
    assert detail["nested"] == {"deeper": {"password": "[REDACTED]", "note": "KEEP-1"}, "host": "KEEP-2"}
    assert detail["steps"][0] == {"name": "KEEP-3", "token": "[REDACTED]"}
    assert detail["secrets"] == detail["credentials"] == detail["githubToken"] == "[REDACTED]"
    assert "SECRET" not in json.dumps(daemon.get("/progress/").json())


def test_an_idempotency_key_replays_only_its_own_request(daemon: RunningDaemon) -> None:
    body = {"status": "progress"}
    first = daemon.request("PATCH", f"/tasks/{T05}", json=body, headers={"Idempotency-Key": "path-key"})
    assert first.status_code == 200 and first.json()["id"] == T05
    before = _journal_count(daemon)

    # The same key and body on another task, another kind of target, another path: 409, never T05's answer.
    for path, same_body in ((f"/tasks/{T06}", body), ("/workplans/CUST-WP-0054", body), ("/progress/", body)):
        method = "POST" if path == "/progress/" else "PATCH"
        other = daemon.request(method, path, json=same_body, headers={"Idempotency-Key": "path-key"})
        assert other.status_code == 409, (path, other.text)
        assert other.headers.get("idempotent-replayed") is None and "path-key" in other.json()["detail"]
    assert _journal_count(daemon) == before
    assert daemon.get(f"/tasks/{T06}").json()["status"] == "todo"

    # The original request is still replayed.
    again = daemon.request("PATCH", f"/tasks/{T05}", json=body, headers={"Idempotency-Key": "path-key"})
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"


def test_an_idempotency_key_replays_only_for_the_repo_it_chose(daemon: RunningDaemon) -> None:
    body = {"status": "done"}
    in_a = daemon.request(
        "PATCH", f"/tasks/{SHARED_TASK}", params={"repo": "repo-a"}, json=body, headers={"Idempotency-Key": "repo-key"}
    )
    assert in_a.status_code == 200 and in_a.json()["repo"] == "repo-a", in_a.text
    before = _journal_count(daemon)
    in_b = daemon.request(
        "PATCH", f"/tasks/{SHARED_TASK}", params={"repo": "repo-b"}, json=body, headers={"Idempotency-Key": "repo-key"}
    )
    assert in_b.status_code == 409, in_b.text  # not repo-a's answer for a write repo-b never got
    assert _journal_count(daemon) == before
    untouched = daemon.get(f"/tasks/{SHARED_TASK}", params={"repo": "repo-b"}).json()
    assert (untouched["status"], untouched["status_source"]) == ("progress", "file")
