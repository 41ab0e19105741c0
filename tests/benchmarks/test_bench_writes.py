"""The durable-write benchmark against its same-stack floor: both servers real, every write acknowledged kept.

Timing targets are reported by the benchmark, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.bench_writes import FloorServer, write_rate

REPO = Path(__file__).resolve().parents[2]


def test_the_floor_app_fsyncs_one_line_per_acknowledged_write(tmp_path: Path) -> None:
    floor = FloorServer(tmp_path)
    try:
        assert write_rate(floor.url, 1, 5) > 0
        assert write_rate(floor.url, 4, 3) > 0
        lines = [json.loads(line) for line in floor.file.read_text().splitlines()]
    finally:
        floor.stop()
    assert len(lines) == 5 + 4 * 3
    assert {line["author"] for line in lines} == {"bench-agent"}


def test_quick_writes_run_reports_devhub_next_to_the_floor_with_ratios() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "writes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)["benchmarks"]["writes"]
    figures = {figure["name"]: figure for figure in result["figures"]}
    one, many, gain = (
        figures["POST /progress/ durable writes, 1 client, vs the same-stack floor"],
        figures["POST /progress/ durable writes, 32 clients, vs the same-stack floor"],
        figures["POST /progress/ durable writes, 32 clients vs 1 client (group commit)"],
    )
    assert one["target"] == many["target"] == ">= 0.8x floor" and gain["target"] == ">= 1.5x floor"
    assert "Litestar + uvicorn" in one["floor_name"] and "32 clients" in many["floor_name"]
    assert gain["floor"] == one["value"]  # the 1-client rate of the same run
    for figure in (one, many, gain):
        assert figure["value"] > 0 and figure["floor"] > 0 and figure["better"] == "higher"
        assert abs(figure["ratio"] - figure["value"] / figure["floor"]) < 1e-9
    assert set(one["server_cpu_us_per_write"]) == {"floor1", "devhub1", "floorN", "devhubN"}
