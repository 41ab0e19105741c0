"""Idempotency keys are checked where a write arrives: REST header, MCP argument and CLI option alike.

A key that cannot be replayed upstream in a header (non-ASCII, spaces, controls), an overlong
key, or one using `#` (reserved for the relay's derived keys on a hub that relays) is a 400
problem naming the rule, and nothing is journaled.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devhub.service.idempotency import MAX_KEY_CHARS
from tests.adapters.mcp.helpers import connect, error_text, payload, run
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.repos import make_workspace

T05 = "CUST-WP-0054-T05"
WRITES = [
    ("PATCH", f"/tasks/{T05}", {"status": "progress"}),
    ("POST", "/tasks/bulk-status-sync", {"updates": [{"task_id": T05, "status": "progress"}]}),
    ("PATCH", "/workplans/CUST-WP-0054", {"status": "active"}),
    ("POST", "/progress/", {"summary": "key check"}),
    ("POST", "/messages/", {"from_agent": "a", "to_agent": "b", "subject": "s", "body": "hi"}),
    ("PATCH", "/messages/no-such-message/read", {}),
]
# Header bytes as a client would send them, and the part of the rule the answer must name.
BAD_HEADER_KEYS = {
    "utf-8": ("clé-ü".encode(), "not visible ASCII"),
    "latin-1": ("cl\xe9".encode("latin-1"), "not visible ASCII"),
    "inner space": (b"two words", "not visible ASCII"),
    "tab": (b"a\tb", "not visible ASCII"),
    "too long": (b"k" * (MAX_KEY_CHARS + 1), f"at most {MAX_KEY_CHARS}"),
    "derived-looking": (b"bk#0", "reserves"),
    "separator alone": (b"#", "reserves"),
}


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    root = tmp_path_factory.mktemp("keys")
    running = start_daemon(root / "hub", make_workspace(root / "ws", ["the-custodian"]))
    try:
        yield running
    finally:
        running.stop()


def _journal_size(hub: RunningDaemon) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in (hub.data_dir / "journal").glob("*.jsonl"))


@pytest.mark.parametrize("case", sorted(BAD_HEADER_KEYS))
@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_a_bad_key_header_is_a_400_on_every_write_route_and_writes_nothing(
    hub: RunningDaemon, case: str, method: str, path: str, body: dict[str, object]
) -> None:
    raw, rule = BAD_HEADER_KEYS[case]
    before = _journal_size(hub)
    answer = hub.request(method, path, json=body, headers={"Idempotency-Key": raw})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert rule in problem["detail"] and "visible ASCII characters (0x21-0x7E)" in problem["detail"]
    assert problem["invalid_params"][0]["name"] == "Idempotency-Key"
    assert _journal_size(hub) == before


def test_keys_inside_the_rule_are_accepted_and_replayed(hub: RunningDaemon) -> None:
    every_visible = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "#")
    for key in ("!", "~" * MAX_KEY_CHARS, every_visible):
        body = {"summary": f"accepted key {len(key)}"}
        first = hub.request("POST", "/progress/", json=body, headers={"Idempotency-Key": key})
        again = hub.request("POST", "/progress/", json=body, headers={"Idempotency-Key": key})
        assert first.status_code == 201, first.text
        assert again.status_code == 201 and again.headers.get("idempotent-replayed") == "true"
        assert again.json() == first.json()


@pytest.mark.parametrize("transport", ["http", "stdio"])
def test_mcp_tools_refuse_the_same_keys_with_the_reason(hub: RunningDaemon, transport: str) -> None:
    bad = {
        "clé-ü": "not visible ASCII",
        "line\nbreak": "not visible ASCII",
        "nul\x00": "not visible ASCII",
        "del\x7f": "not visible ASCII",
        " padded ": "not visible ASCII",
        "k" * (MAX_KEY_CHARS + 1): f"at most {MAX_KEY_CHARS}",
        "bk#1": "reserves",
    }
    before = _journal_size(hub)

    async def scenario() -> dict[str, str]:
        texts = {}
        async with connect(hub, transport) as client:
            for key in bad:
                texts[key] = error_text(
                    await client.call_tool("add_progress_event", {"summary": "mcp key check", "idempotency_key": key})
                )
            texts["bulk"] = error_text(
                await client.call_tool(
                    "bulk_update_task_statuses",
                    {"updates": [{"task_id": T05, "status": "progress"}], "idempotency_key": "clé"},
                )
            )
            payload(
                await client.call_tool(
                    "add_progress_event", {"summary": "mcp ok", "idempotency_key": f"ok-{transport}"}
                )
            )
        return texts

    texts = run(scenario())
    for key, rule in bad.items():
        assert rule in texts[key] and "Idempotency-Key" in texts[key], texts[key]
    assert "not visible ASCII" in texts["bulk"]
    assert _journal_size(hub) == before + 1  # only the good one


def test_the_cli_refuses_a_bad_key_before_sending(hub: RunningDaemon) -> None:
    before = _journal_size(hub)
    for key, rule in (("clé", "not visible ASCII"), ("bk#2", "reserves")):
        shown = hub.cli("progress", "cli key check", "--idempotency-key", key)
        assert shown.returncode == 2, shown.stdout + shown.stderr
        assert rule in shown.stdout + shown.stderr
    assert _journal_size(hub) == before
