"""Giọng đọc: the voices, whether each can speak on this machine (and why not), test one, and choose
the voice for the current bulletin."""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static

from studio.tui.messages import VoicesLoaded, VoiceTested
from studio.tui.screens.base import DeskScreen
from studio.tui.widgets.player import PlayButton

REGIONS = {"bac": "Bắc", "trung": "Trung", "nam": "Nam"}
SAMPLE = "Kính thưa bà con, đây là giọng đọc thử của đài truyền thanh xã, phát lúc 6 giờ 30 sáng."


def clip_path(home: Path, name: str) -> Path:
    """Where a test clip is written (the workspace cache; made again on every test)."""
    return home / "cache" / "tui" / f"{name}.wav"


def speak_to_file(
    registry,
    voice_id: str,
    text: str,
    cache_dir: Path,
    out: Path,
    *,  # type: ignore[no-untyped-def]
    lexicon=None,
    allow_fallback: bool = False,
):  # type: ignore[no-untyped-def]
    """Speak `text` into the WAV file `out` (worker thread); returns the Rendered speech."""
    from studio.audio import io as audio_io
    from studio.tts.cache import synthesize_cached

    rendered = synthesize_cached(
        registry, voice_id, text, cache_dir, allow_fallback=allow_fallback, lexicon=lexicon
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    audio_io.write_audio(out, rendered.samples, rendered.sample_rate)
    return rendered


class VoicesScreen(DeskScreen):
    """Voices and their status."""

    SECTION = "giong-doc"
    AUTO_FOCUS = "#voices"
    BINDINGS = [
        Binding("t", "test", "Đọc thử"),
        Binding("enter", "choose", "Chọn cho bản tin"),
        Binding("l", "listen", "Nghe/Dừng", show=False),
    ]

    def body(self) -> ComposeResult:
        yield DataTable(id="voices", cursor_type="row", zebra_stripes=True)
        yield Static("", id="voice-detail")
        with Horizontal(id="voice-test"):
            yield Label("Câu thử:", classes="field-label")
            yield Input(SAMPLE, id="sample")
        with Horizontal(id="voice-actions"):
            yield PlayButton(self.studio.audio_output, id="player", empty_reason="Nhấn t để đọc thử.")
        yield Label("Đang kiểm tra các giọng…", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#voices", DataTable)
        for label, width in (("Mã", 12), ("Tên", 30), ("Bộ đọc", 7), ("Vùng", 6), ("Dùng được", 12)):
            table.add_column(label, width=width)
        table.focus()
        self.rows: list[tuple[object, bool, str]] = []
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        registry = self.studio.voice_registry()
        rows = []
        for profile in registry.profiles():
            status = registry.status(profile)
            rows.append((profile, status.installed, status.reason))
        self.post_message(VoicesLoaded(rows))

    @on(VoicesLoaded)
    def loaded(self, message: VoicesLoaded) -> None:
        self.rows = message.rows
        table = self.query_one("#voices", DataTable)
        table.clear()
        for profile, ok, _reason in message.rows:
            table.add_row(
                profile.id,
                profile.name,
                profile.engine,
                REGIONS.get(profile.region, profile.region),
                "có" if ok else "không",
                key=profile.id,
            )
        self.show_detail()
        usable = sum(1 for _, ok, _ in message.rows if ok)
        self.query_one("#status", Label).update(
            f"{usable}/{len(message.rows)} giọng dùng được · t đọc thử · Enter chọn cho bản tin đang soạn"
        )

    def current(self):  # type: ignore[no-untyped-def]
        table = self.query_one("#voices", DataTable)
        if not table.row_count or not self.rows:
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#voices")
    def show_detail(self) -> None:
        row = self.current()
        if row is None:
            return
        profile, ok, reason = row
        text = f"[b]{profile.name}[/] — {profile.rate_wpm} từ/phút"
        if profile.online:
            text += ", cần mạng" + (
                f" (mất mạng thì đọc bằng {profile.fallback})" if profile.fallback else ""
            )
        if not ok:
            text += f"\n[red]Không dùng được:[/] {reason}"
        elif profile.attribution:
            text += f"\n{profile.attribution}"
        self.query_one("#voice-detail", Static).update(text)

    def action_test(self) -> None:
        row = self.current()
        if row is None:
            return
        profile, ok, reason = row
        if not ok:
            self.notify(reason, title=f"Giọng {profile.id} không dùng được", severity="warning")
            return
        text = self.query_one("#sample", Input).value.strip() or SAMPLE
        self.query_one("#status", Label).update(f"Đang đọc thử bằng {profile.id}…")
        self.test_voice(profile.id, text)

    @work(thread=True, exclusive=True, group="test", exit_on_error=False, name="Đọc thử giọng")
    def test_voice(self, voice_id: str, text: str) -> None:
        from studio.text import load_lexicon

        ws = self.studio.workspace
        out = clip_path(ws.home, f"thu-{voice_id}")
        rendered = speak_to_file(
            self.studio.voice_registry(),
            voice_id,
            text,
            ws.cache_dir,
            out,
            lexicon=load_lexicon(ws.lexicon_path),
        )
        self.post_message(VoiceTested(voice_id, text, str(out), rendered.duration_s, list(rendered.notes)))

    @on(VoiceTested)
    def tested(self, message: VoiceTested) -> None:
        self.query_one("#player", PlayButton).path = Path(message.path)
        self.query_one("#status", Label).update(
            f"Đã đọc thử bằng {message.voice_id}: {message.duration_s:.1f} giây · l để nghe"
        )
        if self.studio.audio_output.available:
            self.query_one("#player", PlayButton).play()

    def action_listen(self) -> None:
        player = self.query_one("#player", PlayButton)
        if not self.studio.audio_output.available:
            self.notify(self.studio.audio_output.reason, severity="warning")
        elif player.path is not None:
            player.stop() if player.playing else player.play()

    @on(DataTable.RowSelected, "#voices")
    def action_choose(self) -> None:
        row = self.current()
        desk = self.studio.desk
        if row is None:
            return
        profile, ok, reason = row
        if desk.bulletin_id is None:
            self.notify("Chưa có bản tin đang soạn: tạo ở mục 1 Nguồn tin.", severity="warning")
            return
        if not ok:
            self.notify(reason, title=f"Giọng {profile.id} không dùng được", severity="warning")
            return
        desk.voices[str(desk.bulletin_id)] = profile.id
        snapshot = desk.copy()
        self.run_worker(
            lambda: self.studio.saver.save_desk(snapshot), thread=True, group="save", exit_on_error=False
        )
        self.notify(f"Bản tin số {desk.bulletin_id} sẽ đọc bằng {profile.name}.", title="Đã chọn giọng")
