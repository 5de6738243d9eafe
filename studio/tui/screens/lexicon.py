"""Từ điển: the workspace lexicon. Teach how an abbreviation or a name is read, hear it, remove it.
The next render reads with it (the lexicon file is read again whenever it changes)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, Label, Select, Static

from studio.tui.dialogs.confirm import ConfirmDialog
from studio.tui.messages import LexiconLoaded, ReadingExplained, VoiceTested
from studio.tui.screens.base import DeskScreen
from studio.tui.screens.voices import clip_path, speak_to_file
from studio.tui.widgets.player import PlayButton
from studio.tui.widgets.reading import reading_text

SECTIONS = (
    ("abbreviations", "Viết tắt (phân biệt hoa thường)"),
    ("words", "Từ, tên riêng (không phân biệt hoa thường)"),
    ("documents", "Ký hiệu văn bản (QĐ, UBND…)"),
)
SECTION_SHORT = {"abbreviations": "viết tắt", "words": "từ/tên", "documents": "văn bản"}


class LexiconScreen(DeskScreen):
    """The workspace's own readings."""

    SECTION = "tu-dien"
    AUTO_FOCUS = "#entries"
    BINDINGS = [
        Binding("ctrl+s", "save", "Lưu"),
        Binding("ctrl+t", "hear", "Nghe thử"),
        Binding("delete", "remove", "Xoá"),
        Binding("n", "new", "Mục mới"),
        Binding("escape", "leave_field", "Rời ô chữ", show=False),
    ]

    def body(self) -> ComposeResult:
        with Vertical(id="lexicon-form"):
            with Horizontal(classes="form-row"):
                yield Label("Chữ viết:", classes="field-label")
                yield Input(placeholder="vd. HTX, Zalo", id="key")
                yield Select(
                    ((label, key) for key, label in SECTIONS),
                    value="abbreviations",
                    allow_blank=False,
                    id="section",
                    compact=True,
                )
            with Horizontal(classes="form-row"):
                yield Label("Cách đọc:", classes="field-label")
                yield Input(placeholder="vd. hợp tác xã (Enter để lưu)", id="reading")
            yield Static("Gõ chữ viết để xem máy đang đọc thế nào.", id="lexicon-preview")
            yield PlayButton(self.studio.audio_output, id="player", empty_reason="Ctrl+T để nghe thử.")
        yield DataTable(id="entries", cursor_type="row", zebra_stripes=True)
        yield Label("", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#entries", DataTable)
        for label, width in (("Bảng", 9), ("Chữ viết", 16), ("Cách đọc", 40)):
            table.add_column(label, width=width)
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        from studio.text import default_lexicon
        from studio.text.lexicon import workspace_entries

        shipped = default_lexicon()
        count = len(shipped.abbreviations) + len(shipped.words) + len(shipped.documents)
        self.post_message(LexiconLoaded(workspace_entries(self.studio.workspace.lexicon_path), count))

    @on(LexiconLoaded)
    def loaded(self, message: LexiconLoaded) -> None:
        table = self.query_one("#entries", DataTable)
        table.clear()
        n = 0
        for section, _label in SECTIONS:
            for key, reading in sorted(message.entries.get(section, {}).items()):
                table.add_row(SECTION_SHORT[section], key, reading, key=f"{section}\t{key}")
                n += 1
        self.query_one("#status", Label).update(
            f"{n} mục của đài này, {message.shipped_count} mục có sẵn · Enter ở ô Cách đọc để lưu · "
            "Delete xoá mục đang chọn"
        )

    # -- preview --------------------------------------------------------------------------------------

    @on(Input.Changed, "#key")
    def key_changed(self, event: Input.Changed) -> None:
        if event.value.strip():
            self.explain(event.value.strip())
        else:
            self.query_one("#lexicon-preview", Static).update("Gõ chữ viết để xem máy đang đọc thế nào.")

    @work(thread=True, exclusive=True, group="explain", exit_on_error=False)
    def explain(self, text: str) -> None:
        from studio.text import explain, load_lexicon

        ws = self.studio.workspace
        self.post_message(
            ReadingExplained(text, explain(text, ws.settings.region, load_lexicon(ws.lexicon_path)))
        )

    @on(ReadingExplained)
    def explained(self, message: ReadingExplained) -> None:
        if message.text != self.query_one("#key", Input).value.strip():
            return
        preview = Text(f"Máy đang đọc “{message.text}” là: ")
        preview.append_text(reading_text(message.tokens))
        self.query_one("#lexicon-preview", Static).update(preview)

    # -- save / remove --------------------------------------------------------------------------------

    @on(Input.Submitted, "#key")
    def key_done(self) -> None:
        self.query_one("#reading", Input).focus()

    @on(Input.Submitted, "#reading")
    def action_save(self) -> None:
        key = self.query_one("#key", Input).value.strip()
        reading = self.query_one("#reading", Input).value.strip()
        if not key or not reading:
            self.notify("Cần cả chữ viết và cách đọc.", severity="warning")
            return
        section = str(self.query_one("#section", Select).value)
        self.save_entry(key, reading, section)

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def save_entry(self, key: str, reading: str, section: str) -> None:
        from studio.text import add_entry

        add_entry(self.studio.workspace.lexicon_path, key, reading, section)
        self.app.call_from_thread(self.saved, key, reading)

    def saved(self, key: str, reading: str) -> None:
        self.notify(f"{key} → {reading}. Lần dựng sau sẽ đọc như vậy.", title="Đã lưu vào từ điển")
        self.load()
        self.explain(key)
        self.query_one("#entries", DataTable).focus()

    def action_new(self) -> None:
        for field in ("#key", "#reading"):
            self.query_one(field, Input).value = ""
        self.query_one("#key", Input).focus()

    @on(DataTable.RowHighlighted, "#entries")
    def entry_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is None:
            return
        section, key = event.row_key.value.split("\t", 1)
        row = event.data_table.get_row(event.row_key)
        self.query_one("#key", Input).value = key
        self.query_one("#reading", Input).value = str(row[2])
        self.query_one("#section", Select).value = section

    def action_remove(self) -> None:
        table = self.query_one("#entries", DataTable)
        if not table.row_count or self.focused is not table:
            self.notify("Chọn một mục trong bảng (Tab tới bảng, ↑ ↓) rồi nhấn Delete.", severity="warning")
            return
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        assert row_key is not None
        section, key = row_key.split("\t", 1)

        def confirmed(ok: bool | None) -> None:
            if ok:
                self.remove_entry(key, section)

        self.app.push_screen(
            ConfirmDialog("Xoá khỏi từ điển", f"Xoá cách đọc của “{key}”? Máy sẽ đọc như mặc định."),
            confirmed,
        )

    @work(thread=True, exclusive=True, group="save", exit_on_error=False)
    def remove_entry(self, key: str, section: str) -> None:
        from studio.text import remove_entry

        remove_entry(self.studio.workspace.lexicon_path, key, section)
        self.app.call_from_thread(self.notify, f"Đã xoá {key}.", title="Từ điển")
        self.app.call_from_thread(self.load)

    # -- hear -----------------------------------------------------------------------------------------

    def action_hear(self) -> None:
        key = self.query_one("#key", Input).value.strip()
        if not key:
            self.notify("Gõ chữ viết cần nghe trước.", severity="warning")
            return
        desk = self.studio.desk
        voice_id = desk.voice_for(desk.bulletin_id, self.studio.workspace.settings.default_voice)
        self.query_one("#status", Label).update(f"Đang đọc “{key}” bằng {voice_id}…")
        self.hear(key, voice_id)

    @work(thread=True, exclusive=True, group="hear", exit_on_error=False, name="Nghe thử từ điển")
    def hear(self, key: str, voice_id: str) -> None:
        from studio.text import load_lexicon

        ws = self.studio.workspace
        out = clip_path(ws.home, "tu-dien")
        rendered = speak_to_file(
            self.studio.voice_registry(),
            voice_id,
            key,
            ws.cache_dir,
            out,
            lexicon=load_lexicon(ws.lexicon_path),
            allow_fallback=True,
        )
        self.post_message(VoiceTested(voice_id, key, str(out), rendered.duration_s, list(rendered.notes)))

    @on(VoiceTested)
    def heard(self, message: VoiceTested) -> None:
        player = self.query_one("#player", PlayButton)
        player.path = Path(message.path)
        self.query_one("#status", Label).update(
            f"Đã đọc “{message.text}” bằng {message.voice_id}: {message.duration_s:.1f} giây"
        )
        if self.studio.audio_output.available:
            player.play()

    def action_leave_field(self) -> None:
        self.query_one("#entries", DataTable).focus()
