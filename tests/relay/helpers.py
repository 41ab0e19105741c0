"""Helpers for the journal tests: realistic envelope fields and an fsync-counting file layer."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from relay.fslayer import OsFileLayer


def make_fields(number: int, summary_length: int = 40) -> dict[str, Any]:
    """The fields a devhub write hands the journal, numbered so tests can tell them apart."""
    return {
        "idempotency_key": f"key-{number}",
        "method": "POST",
        "path": "/progress/",
        "body": {"summary": f"step {number} " + "é" * (number % 7) + "x" * summary_length, "n": number},
        "origin": {"agent": "tester", "host": "laptop", "repo": "devhub", "session": "s1"},
        "observed": {"status": "todo"},
    }


class CountingFileLayer(OsFileLayer):
    """The real file layer, counting fsync calls (to prove group commit)."""

    def __init__(self) -> None:
        super().__init__()
        self.fsync_calls = 0
        self._count_guard = threading.Lock()

    def fsync(self, path: Path) -> None:
        with self._count_guard:
            self.fsync_calls += 1
        super().fsync(path)
