"""Fixtures for bulletin tests: a workspace with the fake voice, stored items, an engine-call counter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from studio.config import Workspace
from studio.models import Priority, SourceItem
from studio.store import Store
from studio.tts.fake import FakeEngine

FAKE_VOICE = 'id = "fake"\nname = "Giọng thử"\nengine = "fake"\n'


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """The test workspace with the deterministic fake voice as its default."""
    (workspace.voices_dir / "fake.toml").write_text(FAKE_VOICE, encoding="utf-8")
    (workspace.home / "settings.toml").write_text(
        'station_name = "Đài Truyền thanh xã Nghĩa Hà"\ndefault_voice = "fake"\ndefault_profile = "phat-song"\n',
        encoding="utf-8")
    from studio.config import open_workspace

    return open_workspace(workspace.home)


@pytest.fixture
def store(ws: Workspace) -> Iterator[Store]:
    with Store(ws.db_path) as s:
        yield s


def add_items(store: Store) -> list[int]:
    """Three short notices (a few seconds each with the fake voice)."""
    rows = [
        SourceItem(source="ubnd-xa", source_id="1", title="Lịch cắt điện", priority=Priority.THONG_THUONG,
                   body="Thứ Bảy cắt điện cả ngày. Bà con chủ động.", published=datetime(2026, 11, 27, 8, tzinfo=UTC)),
        SourceItem(source="ubnd-xa", source_id="2", title="Phòng chống bão", priority=Priority.KHAN_CAP,
                   body="Bão số 9 sắp đổ bộ. Không ra khơi.", published=datetime(2026, 11, 27, 9, tzinfo=UTC)),
        SourceItem(source="ubnd-xa", source_id="3", title="Tiêm chủng", priority=Priority.UU_TIEN,
                   body="Tiêm vắc xin sởi cho trẻ. Mang theo sổ tiêm.",
                   published=datetime(2026, 11, 27, 7, tzinfo=UTC)),
    ]
    return [store.add_item(r)[0] for r in rows]


@pytest.fixture
def engine_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the fake engine is asked to speak (one call per sentence not in the cache)."""
    calls: list[str] = []
    original = FakeEngine.synthesize

    def counting(self, text, voice, *, cancel=None):  # type: ignore[no-untyped-def]
        calls.append(text)
        return original(self, text, voice, cancel=cancel)

    monkeypatch.setattr(FakeEngine, "synthesize", counting)
    return calls
