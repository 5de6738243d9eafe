"""Keyboard-only flows on the fake engine: ingest → compose → edit → render → approve → package →
dispatch; drafts surviving a crash; a lexicon reading changing the next render; help and palette."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.command import CommandPalette
from textual.widgets import Button, DataTable, Input, Label, Static, TextArea
from textual.worker import WorkerState

from studio.config import Workspace
from studio.store import Store
from studio.tui.dialogs.ingest import IngestDialog
from studio.tui.screens.editor import EXPLAIN_DELAY_S, EditorScreen
from studio.tui.screens.help import HelpScreen
from studio.tui.screens.inbox import InboxScreen
from studio.tui.screens.lexicon import LexiconScreen
from studio.tui.screens.produce import ProduceScreen
from tests.tui.helpers import NO_AUDIO, desk_app, settle

SIZE = (100, 30)
SHORT_ITEMS = Path(__file__).parent / "data" / "tin-ngan.json"


async def type_text(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    for ch in text:
        await pilot.press("space" if ch == " " else ch)


async def go_to_row(pilot, table: DataTable, row: int) -> None:  # type: ignore[no-untyped-def]
    """Move the table's cursor to `row` with ↑/↓, as a user would."""
    step = "down" if row > table.cursor_row else "up"
    await pilot.press(*[step] * abs(row - table.cursor_row))


async def ingest_short_items(pilot) -> None:  # type: ignore[no-untyped-def]
    """i, clear the path field, type the file's path, Enter."""
    await pilot.press("i")
    await pilot.pause()
    assert isinstance(pilot.app.screen, IngestDialog)
    await pilot.press("ctrl+u")
    await type_text(pilot, str(SHORT_ITEMS))
    await pilot.press("enter")
    await settle(pilot)


async def compose_urgent_bulletin(pilot) -> None:  # type: ignore[no-untyped-def]
    """Ingest, mark the khẩn cấp item (listed first), compose; lands in Biên tập."""
    await ingest_short_items(pilot)
    table = pilot.app.screen.query_one("#items", DataTable)
    assert table.row_count == 2
    await pilot.press("space", "n")
    await settle(pilot)
    await settle(pilot)
    assert isinstance(pilot.app.screen, EditorScreen)


async def only_loa(pilot) -> None:  # type: ignore[no-untyped-def]
    """In Biên tập: d, untick phat-song (second option), Ctrl+S: render one rendition only."""
    await pilot.press("d")
    await pilot.pause()
    await pilot.press("down", "space", "ctrl+s")
    await settle(pilot)


async def render(pilot) -> ProduceScreen:  # type: ignore[no-untyped-def]
    await pilot.press("3")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ProduceScreen)
    await pilot.press("r")
    await settle(pilot)
    await settle(pilot)
    return screen


def rendition_rows(screen: ProduceScreen) -> list[list[str]]:
    table = screen.query_one("#renditions", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_inbox_shows_priority_announces_urgent_filters_and_quits(stocked: Workspace) -> None:
    app = desk_app(stocked)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, InboxScreen)
        table = screen.query_one("#items", DataTable)
        assert table.row_count == 3
        first = table.get_row_at(0)
        assert first[1].plain == "khẩn cấp" and first[1].style == "bold red"
        assert "bão số 5" in first[2]
        alert = screen.query_one("#alert", Static)
        assert not alert.has_class("hidden") and "KHẨN CẤP" in str(alert.content)
        assert any(n.title == "Tin khẩn cấp mới" and n.severity == "error" for n in app._notifications)
        assert "bão số 5" in str(screen.query_one("#preview-body", Static).content)
        await pilot.press("p")  # khẩn cấp only
        await pilot.pause()
        assert table.row_count == 1
        assert "khẩn cấp" in str(screen.query_one("#filter-label", Label).content)
        await pilot.press("p", "p", "p")  # back to all
        await pilot.press("slash")
        await type_text(pilot, "tiêm")
        await pilot.press("enter")
        await pilot.pause()
        assert table.row_count == 1 and "tiêm chủng" in table.get_row_at(0)[2].lower()
        assert str(screen.query_one("#status", Label).content).startswith("1/3 tin")
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 3
        await pilot.press("q")
    assert app.return_code == 0


async def test_whole_flow_by_keyboard(workspace: Workspace) -> None:
    """Ingest → compose → edit → render → create a key → approve (sign + package) → dispatch."""
    app = desk_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await compose_urgent_bulletin(pilot)
        editor = app.screen
        segments = editor.query_one("#segments", DataTable)
        kinds = [str(segments.get_row_at(i)[0]) for i in range(segments.row_count)]
        assert [k for k in kinds if k not in ("Nghỉ", "Nhạc")] == ["Mở đầu", "Tin 1", "Kết"]
        await go_to_row(pilot, segments, kinds.index("Tin 1"))
        await pilot.press("enter")  # the item's text
        area = editor.query_one("#segment-text", TextArea)
        assert area.has_focus and "sông Cầu" in area.text
        await type_text(pilot, " Xin nhắc lại.")
        await pilot.press("escape")
        await pilot.pause(EXPLAIN_DELAY_S * 2)
        await settle(pilot)
        reading = str(editor.query_one("#reading-title", Label).content)
        assert "chỗ đọc khác chữ viết" in reading
        await only_loa(pilot)
        await pilot.pause(0.3)
        with Store(workspace.db_path) as store:
            stored = store.get_bulletin(app.desk.bulletin_id)
        item_text = next(s.text for s in stored.bulletin.segments if s.item_id is not None)
        assert "Xin nhắc lại." in item_text

        produce = await render(pilot)
        rows = rendition_rows(produce)
        assert len(rows) == 1 and rows[0][0] == "loa" and rows[0][1] == "loa.mp3"
        lufs = float(rows[0][3].split()[0].replace("−", "-"))
        assert abs(lufs - -16.0) <= 0.5
        assert len(produce.query_one("#spark").data) > 10

        await pilot.press("4")
        await settle(pilot)
        assert app.screen.query_one("#approve", Button).disabled is False
        await pilot.press("k")  # no key yet: told to make one
        await pilot.pause()
        assert any("khoá khẩn cấp" in str(n.message) for n in app._notifications)
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("down", "enter")  # an emergency key, since the bulletin is khẩn cấp
        await settle(pilot)
        assert (workspace.keys_dir / "khan-cap.key").is_file()
        await pilot.press("k")
        await pilot.pause()
        await pilot.press("enter")  # sign with khan-cap
        await settle(pilot)
        await settle(pilot)
        packages = app.screen.query_one("#packages", DataTable)
        assert packages.row_count == 1
        assert str(packages.get_row_at(0)[2]) == "đã duyệt"
        await pilot.press("s")
        await settle(pilot)
        await settle(pilot)
        assert str(packages.get_row_at(0)[2]) == "đã gửi"
        spooled = [p for p in (workspace.home / "spool").iterdir() if not p.name.startswith(".")]
        assert len(spooled) == 1
        manifest = json.loads((spooled[0] / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["priority"] == "khan-cap" and (spooled[0] / "manifest.json.minisig").is_file()
        assert "đã tới" in str(app.screen.query_one("#package-detail", Static).content)


async def test_draft_survives_a_crash(workspace: Workspace) -> None:
    """Every change is in the store at once: a second app (after no clean exit) shows the edit."""
    app = desk_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await compose_urgent_bulletin(pilot)
        segments = app.screen.query_one("#segments", DataTable)
        kinds = [str(segments.get_row_at(i)[0]) for i in range(segments.row_count)]
        await go_to_row(pilot, segments, kinds.index("Mở đầu"))
        await pilot.press("enter")  # the opening
        await pilot.press("ctrl+home")
        await type_text(pilot, "Alo alo. ")
        await settle(pilot)
        bulletin_id = app.desk.bulletin_id
        with Store(workspace.db_path) as store:  # read while the app still runs, as after a crash
            stored = store.get_bulletin(bulletin_id).bulletin
            opening = next(s.text for s in stored.segments if s.kind == "speech")
        assert opening.startswith("Alo alo. Đây là")
        opening_row = kinds.index("Mở đầu")
    again = desk_app(workspace)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        assert again.desk.bulletin_id == bulletin_id
        await go_to_row(pilot, again.screen.query_one("#segments", DataTable), opening_row)
        await pilot.pause()
        assert again.screen.query_one("#segment-text", TextArea).text.startswith("Alo alo. Đây là")


async def test_lexicon_reading_changes_the_next_render(workspace: Workspace) -> None:
    """ĐTTX is spelled out ('đê tê tê ích') until Từ điển says 'đài truyền thanh xã': longer speech."""
    app = desk_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await compose_urgent_bulletin(pilot)
        await only_loa(pilot)
        before = float(rendition_rows(await render(pilot))[0][2].split()[0])

        await pilot.press("7")
        await settle(pilot)
        assert isinstance(app.screen, LexiconScreen)
        await pilot.press("n")  # focus the Chữ viết field
        await type_text(pilot, "ĐTTX")
        await settle(pilot)
        assert "đê tê tê ích" in str(app.screen.query_one("#lexicon-preview", Static).content)
        await pilot.press("enter")  # on to Cách đọc
        await type_text(pilot, "đài truyền thanh xã")
        await pilot.press("enter")
        await settle(pilot)
        entries = app.screen.query_one("#entries", DataTable)
        assert entries.row_count == 1 and str(entries.get_row_at(0)[2]) == "đài truyền thanh xã"
        assert "đài truyền thanh xã" in workspace.lexicon_path.read_text(encoding="utf-8")
        await pilot.press("ctrl+t")  # hear it: no audio output here, but the clip is made
        await settle(pilot)
        assert (workspace.home / "cache" / "tui" / "tu-dien.wav").is_file()

        await pilot.press("2")
        await settle(pilot)
        segments = app.screen.query_one("#segments", DataTable)
        kinds = [str(segments.get_row_at(i)[0]) for i in range(segments.row_count)]
        await go_to_row(pilot, segments, kinds.index("Tin 1"))
        await pilot.pause(EXPLAIN_DELAY_S * 2)
        await settle(pilot)
        assert segments.cursor_row == kinds.index("Tin 1"), (segments.cursor_row, app.focused)
        assert "đài truyền thanh xã" in str(app.screen.query_one("#reading-body", Static).content)
        after = float(rendition_rows(await render(pilot))[0][2].split()[0])
    # 7 more characters at the fake engine's 60 ms each (± the encoder's padding).
    assert after - before == pytest.approx(7 * 0.06, abs=0.08)


async def test_play_is_disabled_with_the_reason_without_audio_output(workspace: Workspace) -> None:
    app = desk_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await settle(pilot)
        assert app.screen.query_one("#play", Button).disabled
        assert str(app.screen.query_one(".play-reason", Label).content) == NO_AUDIO.reason
        await pilot.press("l")
        await pilot.pause()
        assert any(n.message == NO_AUDIO.reason for n in app._notifications)


async def test_help_palette_and_sections_by_keyboard_and_mouse(workspace: Workspace) -> None:
    app = desk_app(workspace)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, InboxScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)
        await type_text(pilot, "từ điển")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await settle(pilot)
        assert app.current_mode == "tu-dien"
        await pilot.click("#nav-giong-doc")
        await settle(pilot)
        assert app.current_mode == "giong-doc"
        voices = app.screen.query_one("#voices", DataTable)
        ids = [str(voices.get_row_at(i)[0]) for i in range(voices.row_count)]
        fake = ids.index("fake")
        assert str(voices.get_row_at(fake)[4]) == "có"
        await pilot.press(*["down"] * fake)
        await pilot.press("t")
        await settle(pilot)
        assert "Đã đọc thử bằng fake" in str(app.screen.query_one("#status", Label).content)
        await pilot.press("enter")  # choose this voice for the bulletin: none yet, so a warning
        await pilot.pause()
        assert any("Chưa có bản tin" in str(n.message) for n in app._notifications)


async def test_digits_typed_in_a_field_stay_there(workspace: Workspace) -> None:
    """Section keys 1–7 act from tables and lists; in a text field they are text."""
    app = desk_app(workspace)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await type_text(pilot, "12")
        await pilot.pause()
        assert app.current_mode == "nguon-tin"
        assert app.screen.query_one("#search", Input).value == "12"
        await pilot.press("escape", "2")
        await pilot.pause()
        assert app.current_mode == "bien-tap"


async def test_keys_are_handled_while_a_render_runs(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The render waits inside the engine; meanwhile help, sections, filters and the jobs view all
    answer, and Esc cancels the render."""
    from studio.tts.registry import ENGINES
    from tests.tui import engines

    monkeypatch.setitem(ENGINES, "gated", "tests.tui.engines:GatedEngine")
    (workspace.voices_dir / "gated.toml").write_text(
        'id = "gated"\nname = "Giọng chờ"\nengine = "gated"\n', encoding="utf-8"
    )
    engines.GATE.clear()
    engines.ENTERED.clear()
    app = desk_app(workspace)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await compose_urgent_bulletin(pilot)
            app.desk.voices[str(app.desk.bulletin_id)] = "gated"
            await pilot.press("3")
            await settle(pilot)
            produce = app.screen
            assert isinstance(produce, ProduceScreen)
            await pilot.press("r")
            for _ in range(500):
                if engines.ENTERED.is_set():
                    break
                await pilot.pause(0.02)
            assert engines.ENTERED.is_set() and produce.render_worker is not None
            assert produce.render_worker.is_running
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape", "1")
            await pilot.pause()
            assert app.current_mode == "nguon-tin"
            await pilot.press("p")
            await pilot.pause()
            assert "khẩn cấp" in str(app.screen.query_one("#filter-label", Label).content)
            await pilot.press("5")
            await pilot.pause(1.2)
            session = app.screen.query_one("#session", DataTable)
            rows = [[str(c) for c in session.get_row_at(i)] for i in range(session.row_count)]
            assert ["Dựng bản tin", "đang chạy"] in [r[:2] for r in rows]
            await pilot.press("3")
            await pilot.pause()
            assert produce.render_worker.is_running
            assert not produce.query_one("#cancel", Button).disabled
            await pilot.press("escape")  # cancel
            for _ in range(500):
                if produce.render_worker.is_finished:
                    break
                await pilot.pause(0.02)
            await pilot.pause()
            assert produce.render_worker.state == WorkerState.CANCELLED
            assert str(produce.query_one("#render-status", Label).content) == "Đã huỷ dựng."
            assert produce.query_one("#cancel", Button).disabled
    finally:
        engines.GATE.set()
