"""Fixtures for the journal tests."""

from __future__ import annotations

import pytest

from tests.relay.helpers import CountingFileLayer


@pytest.fixture
def counting_fs() -> CountingFileLayer:
    return CountingFileLayer()
