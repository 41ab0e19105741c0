"""The relay samples file: bounded by age and by rows, and started afresh when corrupt."""

from __future__ import annotations

from pathlib import Path

from devhub.store.relay_samples import RelaySamples


def test_old_samples_and_surplus_rows_are_dropped_on_insert(tmp_path: Path) -> None:
    samples = RelaySamples(tmp_path / "s.sqlite", keep_seconds=100, max_rows=3)
    try:
        for second in range(0, 200, 20):  # ten samples, 20 s apart
            samples.record(f"t{second:03d}", float(second), "idle", second, None)
        kept = samples.since(0)
        assert [s["ts"] for s in kept] == ["t140", "t160", "t180"]  # the newest 3 (within 100 s of the last)
        assert samples.since(170) == [{"ts": "t180", "state": "idle", "pending": 180,
                                       "oldest_pending_age_seconds": None}]
    finally:
        samples.close()
    bounded = RelaySamples(tmp_path / "age.sqlite", keep_seconds=50, max_rows=100)
    try:
        for second in range(0, 200, 20):
            bounded.record(f"t{second:03d}", float(second), "idle", 1, 1.5)
        assert [s["ts"] for s in bounded.since(0)] == ["t140", "t160", "t180"]  # 180 - 50 = 130 and later
    finally:
        bounded.close()


def test_a_corrupt_samples_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "relay-samples.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    samples = RelaySamples(path)
    try:
        samples.record("2026-12-01T00:00:00.000Z", 1.0, "disabled", 3, 9.0)
        assert len(samples.since(0)) == 1
    finally:
        samples.close()
