"""The journal's everyday contract: envelopes, seqs, segments, reopen, read-only snapshots, codec."""

from __future__ import annotations

import ast
import itertools
import json
import re
import zlib
from pathlib import Path

import pytest

from relay.codec import encode_line, finish_line, prepare_record
from relay.errors import JournalReadOnly
from relay.journal import Journal
from tests.relay.helpers import make_fields

RELAY_DIR = Path(__file__).resolve().parents[2] / "relay"


def test_append_returns_a_complete_envelope_that_is_on_disk(tmp_path: Path) -> None:
    with Journal.open(tmp_path / "j") as journal:
        envelope = journal.append(make_fields(1))
    assert envelope["v"] == 1
    assert envelope["seq"] == 1
    assert re.fullmatch(r"[0-9a-f]{32}", envelope["id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", envelope["ts"])
    assert envelope["body"] == make_fields(1)["body"]
    (segment,) = sorted((tmp_path / "j").glob("*.jsonl"))
    assert segment.name == "00000000000000000001.jsonl"
    line = segment.read_bytes()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == envelope
    prefix = line[: line.rindex(b',"crc":')]
    assert envelope["crc"] == f"{zlib.crc32(prefix):08x}"


def test_ids_and_seqs_increase_and_survive_reopen(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        first = [journal.append(make_fields(i)) for i in range(20)]
    with Journal.open(tmp_path) as journal:
        assert journal.open_report.records == 20 and journal.last_seq == 20
        second = [journal.append(make_fields(i)) for i in range(20, 25)]
        stored = list(journal.records())
    everything = first + second
    assert [e["seq"] for e in everything] == list(range(1, 26))
    assert [e["id"] for e in everything] == sorted(e["id"] for e in everything)
    assert len({e["id"] for e in everything}) == 25
    assert stored == everything
    assert [r["seq"] for r in Journal.open(tmp_path, read_only=True).records(after_seq=22)] == [23, 24, 25]


def test_segments_roll_over_and_records_span_them(tmp_path: Path) -> None:
    with Journal.open(tmp_path, segment_bytes=1000) as journal:
        for i in range(30):
            journal.append(make_fields(i))
        segments = journal.segments()
        assert len(segments) > 5
        assert [s.path.name for s in segments] == sorted(s.path.name for s in segments)
        assert all(s.bytes <= 1000 for s in segments)
        for earlier, later in itertools.pairwise(segments):
            assert earlier.last_seq is not None and later.first_seq == earlier.last_seq + 1
            assert later.path.name == f"{later.first_seq:020d}.jsonl"
        assert sum(s.bytes for s in segments) == journal.size_bytes
        assert [r["seq"] for r in journal.records(after_seq=13)] == list(range(14, 31))
        assert journal.verify().ok


def test_append_many_gets_consecutive_seqs_in_order(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        journal.append(make_fields(0))
        batch = journal.append_many([make_fields(i) for i in range(1, 6)])
        assert [e["seq"] for e in batch] == [2, 3, 4, 5, 6]
        assert [e["body"]["n"] for e in batch] == [1, 2, 3, 4, 5]
        assert journal.append_many([]) == []
        assert [r["seq"] for r in journal.records()] == list(range(1, 7))


def test_caller_keys_are_kept_and_reserved_keys_refused(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as journal:
        envelope = journal.append({**make_fields(1), "zeta": [1, 2], "aa": None})
        assert (envelope["zeta"], envelope["aa"]) == ([1, 2], None)
        assert next(journal.records())["zeta"] == [1, 2]
        for key in ("seq", "crc", "id", "ts", "v"):
            with pytest.raises(ValueError, match=key):
                journal.append({**make_fields(2), key: 1})
        with pytest.raises(ValueError, match="JSON-serialisable"):
            journal.append({"body": object()})
        with pytest.raises(ValueError, match="JSON-serialisable"):
            journal.append({"body": float("nan")})
        assert journal.append(make_fields(3))["seq"] == 2  # the refused writes consumed nothing


def test_spliced_line_is_exactly_the_canonical_encoding() -> None:
    samples = [
        make_fields(3),
        {},
        {"zz": 1, "a": "é", "ts0": True},
        {"body": {"note": '"id":"\x00id" inside a value'}},
        {"body": {"id": "\x00id"}},  # a caller value holding the splice marker verbatim
    ]
    for fields in samples:
        line = finish_line(prepare_record(fields), b"0" * 32, 12345, b"2026-01-01T00:00:00.000Z")
        envelope = {**fields, "id": "0" * 32, "seq": 12345, "ts": "2026-01-01T00:00:00.000Z", "v": 1}
        assert line == encode_line(envelope)
        decoded = json.loads(line)
        decoded.pop("crc")
        assert decoded == envelope


def test_read_only_open_takes_no_lock_and_refuses_writes(tmp_path: Path) -> None:
    with Journal.open(tmp_path) as writer:
        writer.append(make_fields(1))
        reader = Journal.open(tmp_path, read_only=True)
        writer.append(make_fields(2))
        assert [r["seq"] for r in reader.records()] == [1]  # a snapshot as of its open
        assert reader.verify().ok
        with pytest.raises(JournalReadOnly):
            reader.append(make_fields(3))
        with pytest.raises(JournalReadOnly):
            reader.compact(10, 0)
    assert not (tmp_path / "missing").exists()
    empty = Journal.open(tmp_path / "missing", read_only=True)
    assert empty.last_seq == 0 and list(empty.records()) == [] and not (tmp_path / "missing").exists()


def test_relay_package_imports_nothing_from_devhub() -> None:
    offenders = []
    for module in sorted(RELAY_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(), str(module))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{module.name}: {n}" for n in names if n == "devhub" or n.startswith("devhub.")]
    assert offenders == []
