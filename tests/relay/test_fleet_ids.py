"""The one durable id map: answers recorded per kind survive a reopen, a torn last line, and the three files of
earlier versions are folded in once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devhub.service.relay_link import created_uuids
from relay.codec import encode_line
from relay.fleet_ids import FLEET_IDS_FILE, FleetIds

UUID_A = "0f8fad5b-d9cb-469f-a165-70867728950e"
UUID_B = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def test_answers_are_kept_per_kind_and_survive_a_reopen(tmp_path: Path) -> None:
    ids = FleetIds.open(tmp_path)
    ids.put("task", "the-custodian:CUST-WP-0054-T20", UUID_A, envelope="env-1", seq=3)
    ids.put("message", "the-custodian:CUST-WP-0054-T20", "m-77", envelope="env-2", seq=4)  # same local, other kind
    reopened = FleetIds.open(tmp_path)
    assert reopened.get("task", "the-custodian:CUST-WP-0054-T20") == UUID_A
    assert reopened.get("message", "the-custodian:CUST-WP-0054-T20") == "m-77"
    assert reopened.get("workplan", "the-custodian:CUST-WP-0054-T20") is None
    [first, _] = [json.loads(line) for line in (tmp_path / FLEET_IDS_FILE).read_text().splitlines()]
    assert (first["envelope"], first["seq"]) == ("env-1", 3)  # the creating write the answer belongs to


def test_a_repeated_answer_is_not_written_twice_and_a_torn_tail_is_cut(tmp_path: Path) -> None:
    ids = FleetIds.open(tmp_path)
    ids.put("decision", "d-1", UUID_A)
    ids.put("decision", "d-1", UUID_A)  # a resend after a crash: the upstream replays the same answer
    path = tmp_path / FLEET_IDS_FILE
    assert len(path.read_text().splitlines()) == 1
    with path.open("ab") as handle:
        handle.write(b'{"kind": "decision", "local": "d-2", "fle')  # a crash mid-put
    again = FleetIds.open(tmp_path)
    assert again.get("decision", "d-2") is None
    again.put("decision", "d-3", UUID_B)
    assert FleetIds.open(tmp_path).get("decision", "d-3") == UUID_B


def test_unknown_kinds_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        FleetIds.open(tmp_path).put("topic", "custodian", UUID_A)


def test_the_three_files_of_earlier_versions_are_folded_in_once(tmp_path: Path) -> None:
    def lines(*pairs: tuple[str, str]) -> bytes:  # what relay.idmap.IdMap wrote
        return b"".join(encode_line({"local": local, "upstream": upstream}) for local, upstream in pairs)

    (tmp_path / "message_ids.jsonl").write_bytes(lines(("m-local", "m-fleet")))
    (tmp_path / "decision_ids.jsonl").write_bytes(lines(("d-local", UUID_A)))
    (tmp_path / "created_ids.jsonl").write_bytes(
        lines(("task:the-custodian:CUST-WP-0054-T20", UUID_B), ("workplan:state-hub:SH-WP-0009", UUID_A), ("junk", "x"))
    )
    ids = FleetIds.open(tmp_path)
    assert ids.get("message", "m-local") == "m-fleet"
    assert ids.get("decision", "d-local") == UUID_A
    assert ids.entries("task") == {"the-custodian:CUST-WP-0054-T20": UUID_B}
    assert ids.entries("workplan") == {"state-hub:SH-WP-0009": UUID_A}
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "created_ids.jsonl.migrated",
        "decision_ids.jsonl.migrated",
        FLEET_IDS_FILE,
        "message_ids.jsonl.migrated",
    ]
    assert FleetIds.open(tmp_path).migrate_legacy() == 0  # nothing left to fold in
    # writeback's lookup reads the same map, and only UUIDs (a devhub fleet hub answers with file ids)
    lookup = created_uuids(tmp_path)
    assert lookup("task:the-custodian:CUST-WP-0054-T20") == UUID_B
    assert lookup("message:m-local") is None
