"""Fixtures for the journal tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.relay.helpers import CountingFileLayer


@pytest.fixture
def counting_fs() -> CountingFileLayer:
    return CountingFileLayer()


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A real directory on tmpfs when there is one: sweeps that reopen a journal thousands of times
    test recovery logic, not the disk, and should not wait on thousands of disk fsyncs."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    directory = Path(tempfile.mkdtemp(prefix="devhub-journal-", dir=shm))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
