"""Fixtures for the ingest tests: the committed samples, a store, and the time the samples are read at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from studio.store import Store

DATA = Path(__file__).resolve().parent.parent / "data"
CAP = DATA / "cap"
FEEDS = DATA / "feeds"
DOCUMENTS = DATA / "documents"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
"""The samples were issued on 27–28 November 2026; expiry is judged at this moment."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "studio.db") as s:
        yield s
