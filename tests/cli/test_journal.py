"""`devhub journal show | verify | compact` as a user runs them: a real subprocess on a real data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from relay.journal import Journal
from relay.position import PositionFile
from tests.relay.helpers import make_fields

ROOT = Path(__file__).resolve().parents[2]
HOLDER = r"""
import sys
from pathlib import Path
from relay.journal import Journal
from relay.position import PositionFile
journal = Journal.open(Path(sys.argv[1]))
print("locked", flush=True)
sys.stdin.read()
"""


def devhub(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEVHUB_DATA_DIR": str(data_dir), "DEVHUB_CONFIG_DIR": str(data_dir / "config")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "devhub", "journal", *args], capture_output=True, text=True, env=env, timeout=60
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    with Journal.open(tmp_path / "journal", segment_bytes=700) as journal:
        for number in range(10):
            journal.append(make_fields(number))
    PositionFile(tmp_path / "relay" / "cursor").store((6, ()))
    return tmp_path


def test_show_lists_envelopes_with_their_relay_state(data_dir: Path) -> None:
    result = devhub(data_dir, "show", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["last_seq"], document["cursor"], document["pending"]) == (10, 6, 4)
    assert [r["seq"] for r in document["records"]] == list(range(1, 11))
    assert [r["relay_state"] for r in document["records"]] == ["relayed"] * 6 + ["pending"] * 4
    assert document["records"][0]["idempotency_key"] == "key-0"

    pending = json.loads(devhub(data_dir, "show", "--pending", "--json", "--limit", "3").stdout)
    assert [r["seq"] for r in pending["records"]] == [7, 8, 9]  # the next three to relay

    table = devhub(data_dir, "show", "--limit", "2")
    assert table.returncode == 0, table.stderr
    assert "key-9" in table.stdout and "key-7" not in table.stdout and "pending" in table.stdout
    assert "2 of 10 envelope(s) shown; 4 pending relay" in table.stdout


def test_show_and_verify_work_while_the_daemon_holds_the_lock_but_compact_refuses(data_dir: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir / "journal")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        assert devhub(data_dir, "show", "--json").returncode == 0
        assert devhub(data_dir, "verify").returncode == 0
        refused = devhub(data_dir, "compact", "--retention-days", "0")
        assert refused.returncode != 0
        assert f"the daemon is running (pid {holder.pid})" in refused.stderr
        assert "devhub down" in refused.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=10)


def test_verify_reports_where_a_line_is_bad_and_exits_1(data_dir: Path) -> None:
    clean = devhub(data_dir, "verify")
    assert clean.returncode == 0 and "10 good line(s), seq 1..10" in clean.stdout and "ok" in clean.stdout
    first = sorted((data_dir / "journal").glob("*.jsonl"))[0]
    data = bytearray(first.read_bytes())
    data[5] ^= 0x01
    first.write_bytes(bytes(data))
    broken = devhub(data_dir, "verify")
    assert broken.returncode == 1
    assert f"bad line: {first}@0" in broken.stdout and "checksum mismatch" in broken.stdout
    assert "FAILED" in broken.stdout
    report = json.loads(devhub(data_dir, "verify", "--json").stdout)
    assert report["ok"] is False and report["bad_lines"][0]["segment"] == first.name


def test_compact_drops_only_relayed_segments_past_retention(data_dir: Path) -> None:
    kept = json.loads(devhub(data_dir, "compact", "--json").stdout)
    assert kept["removed"] == []  # everything is younger than the default 7 days
    result = devhub(data_dir, "compact", "--retention-days", "0", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["removed"] and all(s["last_seq"] <= 6 for s in report["removed"])
    remaining = json.loads(devhub(data_dir, "show", "--json", "--limit", "0").stdout)
    assert remaining["records"][-1]["seq"] == 10
    assert all(r["seq"] > report["removed"][-1]["last_seq"] for r in remaining["records"])
    assert [r["seq"] for r in json.loads(devhub(data_dir, "show", "--pending", "--json").stdout)["records"]] == [
        7,
        8,
        9,
        10,
    ]


def test_commands_on_a_data_dir_without_a_journal(tmp_path: Path) -> None:
    shown = devhub(tmp_path, "show", "--json")
    assert shown.returncode == 0 and json.loads(shown.stdout)["records"] == []
    assert devhub(tmp_path, "verify").returncode == 0
    assert devhub(tmp_path, "compact", "--json").returncode == 0
