"""The fleet snapshot's own file (devhub/store/fleet_snapshot.py): bounded, replaced per collection, survives reopening,
and a damaged file is started afresh rather than refusing to serve."""

from __future__ import annotations

from pathlib import Path

from devhub.store.fleet_snapshot import SNAPSHOT_FILE, SnapshotStore


def _message(n: int, **extra: object) -> dict[str, object]:
    return {
        "id": f"m{n}",
        "from_agent": "orchestrator",
        "to_agent": "me",
        "subject": f"s{n}",
        "body": "b",
        "thread_id": None,
        "created_at": f"2026-12-01T00:00:{n:02d}Z",
        "read": False,
        "read_at": None,
        "archived": False,
        "archived_at": None,
        **extra,
    }


def test_the_bound_keeps_the_newest_messages_and_a_reopened_file_still_has_them(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / SNAPSHOT_FILE)
    dropped = store.put_messages([_message(n) for n in range(10)], replace_all=True, keep=4)
    assert dropped == 6
    assert [m["id"] for m in store.messages()] == ["m9", "m8", "m7", "m6"]
    store.put_messages([_message(10), _message(9, read=True)], replace_all=False, keep=4)
    assert [m["id"] for m in store.messages(unread_only=True)] == ["m10", "m8", "m7"]
    store.set_meta({"as_of": "2026-12-01T00:01:00Z"})
    store.close()

    again = SnapshotStore(tmp_path / SNAPSHOT_FILE)
    assert [m["id"] for m in again.messages(to_agent="me")] == ["m10", "m9", "m8", "m7"]
    assert again.messages(to_agent="someone-else") == []
    assert again.meta()["as_of"] == "2026-12-01T00:01:00Z"


def test_a_collection_is_replaced_whole_and_topics_resolve_by_slug(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / SNAPSHOT_FILE)
    store.replace_collection("topics", [{"id": "u1", "slug": "a"}, {"id": "u2", "slug": "b"}])
    store.replace_collection("topics", [{"id": "u2", "slug": "b"}, {"id": "u3", "slug": "c"}])
    assert [t["slug"] for t in store.collection("topics")] == ["b", "c"]
    assert store.topic_id("c") == "u3" and store.topic_id("a") is None
    assert store.counts()["topics"] == 2


def test_a_damaged_file_is_started_afresh(tmp_path: Path) -> None:
    path = tmp_path / SNAPSHOT_FILE
    path.write_bytes(b"this is not a database" * 100)
    store = SnapshotStore(path)
    assert store.counts()["messages"] == 0
    store.put_messages([_message(1)], replace_all=True, keep=10)
    assert store.message("m1") is not None
