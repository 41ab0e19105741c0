"""The read model's disk fills up while the journal still takes writes (SQLITE_FULL for real).

SQLite's own limit makes the condition: `PRAGMA max_page_count` on the writer's connection
(at the pages it has now) makes the next growing transaction fail with SQLITE_FULL, "database
or disk is full", exactly as a full disk does. The REST app runs in-process so the test can
set that pragma on the daemon's own writer connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from devhub.daemon.app import compose_app
from devhub.registry import Registry
from devhub.service.hub import Hub
from devhub.settings import Settings
from tests.support.waiting import wait_for

SQLITE_MAX_PAGES = 1_073_741_823


@pytest.fixture
def app_client(tmp_path: Path, workspace: list[Path]) -> Iterator[tuple[TestClient[Any], Hub]]:
    config = Settings(data_dir=tmp_path / "data", config_dir=tmp_path / "config", no_relay=True)
    Registry(config.registry_path).register(workspace)
    hub = Hub(config)
    with TestClient(app=compose_app(hub)) as client:
        yield client, hub


def _fill_the_disk(hub: Hub, pages: int | None = None) -> None:
    assert hub.writer is not None
    conn = hub.writer.conn
    limit = pages if pages is not None else conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {limit}")


def _journaled(hub: Hub) -> list[dict[str, Any]]:
    lines = []
    for segment in sorted(hub.config.journal_dir.glob("*.jsonl")):
        lines += [json.loads(line) for line in segment.read_text().splitlines() if line.strip()]
    return lines


def test_a_full_read_model_answers_the_saved_write_refuses_the_next_and_catches_up(
    app_client: tuple[TestClient[Any], Hub],
) -> None:
    client, hub = app_client
    _fill_the_disk(hub)
    big = {"summary": "saved while the disk was full " + "x" * 8000}
    first = client.post("/progress/", json=big)
    # Saved in the journal: its real answer, not a 500 about a rollback.
    assert first.status_code == 201, first.text
    assert [e["body"]["summary"] for e in _journaled(hub)] == [big["summary"]]
    state = client.get("/state/daemon").json()["read_model"]
    assert state["state"] == "degraded" and "full" in state["reason"]

    refused = client.post("/progress/", json={"summary": "while degraded"})
    assert refused.status_code == 507, refused.text
    assert "NOT saved" in refused.json()["detail"] and "saved in the journal" in refused.json()["detail"]
    assert len(_journaled(hub)) == 1  # refused before the journal
    reads = client.get("/tasks/")
    assert reads.status_code == 200  # reads keep serving (without the unapplied write)

    _fill_the_disk(hub, SQLITE_MAX_PAGES)  # space returns

    def caught_up() -> bool:
        summaries = [e["summary"] for e in client.get("/progress/").json()]
        return big["summary"] in summaries

    wait_for(caught_up, timeout=10, what="the saved write to be applied once space returned")
    assert client.get("/state/daemon").json()["read_model"]["state"] == "ok"
    assert client.post("/progress/", json={"summary": "after"}).status_code == 201


def test_a_patch_on_a_full_read_model_is_not_a_misleading_500(app_client: tuple[TestClient[Any], Hub]) -> None:
    client, hub = app_client
    _fill_the_disk(hub)
    answers = [
        client.patch("/tasks/CUST-WP-0054-T05", json={"status": "progress", "note": "n" * 4000}) for _ in range(3)
    ]
    codes = [a.status_code for a in answers]
    assert 500 not in codes, [a.text for a in answers]
    saved = len(_journaled(hub))
    assert codes[:saved] == [200] * saved and codes[saved:] == [507] * (3 - saved)
    _fill_the_disk(hub, SQLITE_MAX_PAGES)
    wait_for(
        lambda: client.get("/tasks/CUST-WP-0054-T05").json()["status"] == "progress",
        timeout=10,
        what="the saved PATCH to show",
    )
