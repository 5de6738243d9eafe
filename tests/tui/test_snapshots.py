"""Layout snapshots of every section and the help, at 100×30 and 80×24 (pytest-textual-snapshot).

Each test's workspace holds the shipped sample items, the fake voice, a fixed date and no
audio output, so the images are the same on every run. Review the report before updating them.
"""

from __future__ import annotations

import pytest

from studio.config import Workspace
from studio.store import Store
from studio.tui.desk import DeskState, desk_path
from tests.tui.helpers import SIZES, TODAY, desk_app, settle


def draft(workspace: Workspace) -> None:
    """A draft of all three sample items, current on the desk, rendered for 'loa' only."""
    from studio.compose import new_draft
    from studio.text import add_entry

    with Store(workspace.db_path) as store:
        ids = [r.id for r in store.items()]
        bulletin_id = new_draft(store, workspace.settings, "ban-tin", ids, today=TODAY)
    desk = DeskState(bulletin_id=bulletin_id, profiles={str(bulletin_id): ["loa"]})
    desk_path(workspace).write_text(desk.to_json(), encoding="utf-8")
    add_entry(workspace.lexicon_path, "ĐTTX", "đài truyền thanh xã")


def section(key: str, *then: str, keep_notices: bool = False):  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        for k in then:
            await pilot.press(k)
            await pilot.pause(0.3)
            await settle(pilot)
        if not keep_notices:  # toasts time out: only the inbox's khẩn cấp notice is part of an image
            pilot.app.clear_notifications()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_inbox(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Nguồn tin: the section bar with '1 Nguồn tin' highlighted, a red 'KHẨN CẤP: … bão số 5' banner,
    the three items (khẩn cấp first, in red), the storm item's preview on the right, the status line
    '3 tin · …', a 'Tin khẩn cấp mới' notice, and a footer with Nhận tệp, Đánh dấu, Tạo bản tin."""
    assert snap_compare(
        desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("1", keep_notices=True)
    )


@pytest.mark.parametrize("size", SIZES)
def test_editor(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Biên tập: title 'Bản tin hằng ngày 28/11/2026', the summary line (mẫu ban-tin, 3 tin, giọng
    Giọng thử, nơi phát loa, an estimate), the running order on the left (Nhạc, Mở đầu, Tin 1–3,
    Kết) with the opening selected, its text, and 'Cách đọc' with the date read out ('hai mươi tám')
    highlighted."""
    draft(snapshot_workspace)
    assert snap_compare(
        desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("2", "down", "down")
    )


@pytest.mark.parametrize("size", SIZES)
def test_produce(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Sản xuất after a render (r): a full progress bar, 'Đã dựng: … giọng fake', one row for loa.mp3
    at −16.0 LUFS with its range and true peak, the short-term loudness sparkline, and the ▶ Nghe
    button disabled with the reason 'Không nghe được: …' beside it."""
    draft(snapshot_workspace)
    assert snap_compare(desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("3", "r"))


@pytest.mark.parametrize("size", SIZES)
def test_dispatch(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Duyệt & phát: 'Bản tin số 1 … khẩn cấp — cần khoá khẩn cấp', 'Khoá ký: chưa có (t để tạo)',
    the three buttons, an empty package table, and the footer with Duyệt & đóng gói, Gửi đi, Tạo khoá."""
    draft(snapshot_workspace)
    assert snap_compare(desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("4"))


@pytest.mark.parametrize("size", SIZES)
def test_jobs(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Công việc: the empty queue table with its Vietnamese headings, the session table, and
    'Hàng đợi trống …'."""
    assert snap_compare(desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("5"))


@pytest.mark.parametrize("size", SIZES)
def test_voices(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Giọng đọc: every voice with engine, region and 'có'/'không' (fake 'Giọng thử' is 'có'), the
    first voice's detail, the test sentence field, and ▶ Nghe disabled with its reason."""
    assert snap_compare(desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("6"))


@pytest.mark.parametrize("size", SIZES)
def test_lexicon(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """Từ điển: the form (Chữ viết / Cách đọc / table), filled from the one workspace entry
    'ĐTTX → đài truyền thanh xã', shown in the table below with the shipped entry count."""
    draft(snapshot_workspace)
    assert snap_compare(desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("7"))


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare, snapshot_workspace: Workspace, size: str) -> None:
    """The ? help over the inbox: 'Cách làm một bản tin, chỉ bằng bàn phím', steps 1–7 with their
    keys, and the keys that work everywhere."""
    assert snap_compare(
        desk_app(snapshot_workspace), terminal_size=SIZES[size], run_before=section("1", "question_mark")
    )
