"""Sản xuất: render the current bulletin in a thread worker with progress and cancel; show each
rendition's measured loudness (integrated, range, true peak) and the short-term loudness over time."""

from __future__ import annotations

import math

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Label, ProgressBar, Sparkline, Static
from textual.worker import Worker, WorkerState, get_current_worker

from studio.store import Store
from studio.tui.messages import BulletinLoaded, RenderFinished, RenderProgress
from studio.tui.screens.base import DeskScreen
from studio.tui.widgets.player import PlayButton


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return "−∞"
    return fmt.format(value).replace("-", "−")


class ProduceScreen(DeskScreen):
    """Render, measure, listen."""

    SECTION = "san-xuat"
    AUTO_FOCUS = "#renditions"
    BINDINGS = [
        Binding("r", "render", "Dựng"),
        Binding("escape", "cancel", "Huỷ dựng"),
        Binding("l", "listen", "Nghe/Dừng"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.stored = None
        self.render_worker: Worker[None] | None = None

    def body(self) -> ComposeResult:
        yield Static("", id="produce-summary")
        with Horizontal(id="produce-actions"):
            yield Button("Dựng (r)", id="render", variant="primary", compact=True)
            yield Button("Huỷ (Esc)", id="cancel", compact=True, disabled=True)
            yield PlayButton(self.studio.audio_output, id="player")
        yield ProgressBar(id="progress", total=1.0, show_eta=False)
        yield Label("Chưa dựng.", id="render-status")
        yield DataTable(id="renditions", cursor_type="row", zebra_stripes=True)
        with Vertical(id="loudness"):
            yield Label("Độ lớn ngắn hạn (LUFS, 10 lần/giây)", id="spark-title", classes="panel-title")
            yield Sparkline([], id="spark")
        yield Label("", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#renditions", DataTable)
        for label, width in (
            ("Nơi phát", 10),
            ("Tệp", 14),
            ("Dài", 7),
            ("Độ lớn", 11),
            ("Biên độ", 8),
            ("Đỉnh thực", 10),
            ("Mục tiêu", 16),
        ):
            table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        if self.render_worker is None or self.render_worker.is_finished:
            self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        app = self.studio
        bid = app.desk.bulletin_id
        stored = None
        if bid is not None:
            with Store(app.workspace.db_path) as store:
                stored = store.get_bulletin(bid)
        app.voice_registry()
        self.post_message(BulletinLoaded(stored))

    @on(BulletinLoaded)
    def loaded(self, message: BulletinLoaded) -> None:
        self.stored = message.stored
        summary = self.query_one("#produce-summary", Static)
        render = self.query_one("#render", Button)
        if self.stored is None:
            summary.update("Chưa có bản tin. Tạo ở mục 1 Nguồn tin (n), sửa ở mục 2 Biên tập.")
            render.disabled = True
            return
        render.disabled = False
        desk, bid = self.studio.desk, self.stored.id
        voice_id = desk.voice_for(bid, self.studio.workspace.settings.default_voice)
        summary.update(
            f"[b]{self.stored.bulletin.title}[/] · giọng [b]{voice_id}[/] · "
            f"nơi phát [b]{', '.join(desk.profiles_for(bid))}[/]"
        )
        previous = self.studio.renders.get(bid)
        if isinstance(previous, RenderFinished):
            self.show_result(previous)

    # -- render ---------------------------------------------------------------------------------------

    @on(Button.Pressed, "#render")
    def action_render(self) -> None:
        if self.stored is None:
            self.notify("Chưa có bản tin để dựng.", severity="warning")
            return
        if self.render_worker is not None and self.render_worker.is_running:
            self.notify("Đang dựng, chờ xong hoặc nhấn Esc để huỷ.", severity="warning")
            return
        desk, bid = self.studio.desk, self.stored.id
        voice_id = desk.voice_for(bid, self.studio.workspace.settings.default_voice)
        self.query_one("#progress", ProgressBar).update(progress=0.0)
        self.query_one("#render-status", Label).update("Bắt đầu dựng…")
        self.query_one("#cancel", Button).disabled = False
        self.query_one("#render", Button).disabled = True
        self.render_worker = self.start_render(bid, voice_id, desk.profiles_for(bid))

    @work(thread=True, exclusive=True, group="render", exit_on_error=False, name="Dựng bản tin")
    def start_render(self, bulletin_id: int, voice_id: str, profile_ids: list[str]) -> None:
        from studio.tui.produce import render_for_desk

        cancel = get_current_worker().cancelled_event
        result = render_for_desk(
            self.studio.workspace,
            self.studio.voice_registry(),
            bulletin_id,
            voice_id,
            profile_ids,
            cancel=cancel,
            on_progress=lambda f, what: self.post_message(RenderProgress(f, what)),
        )
        self.post_message(RenderFinished(bulletin_id, result))

    @on(RenderProgress)
    def progressed(self, message: RenderProgress) -> None:
        self.query_one("#progress", ProgressBar).update(progress=message.fraction)
        self.query_one("#render-status", Label).update(f"{message.what} ({message.fraction:.0%})")
        self.studio.job_progress["Dựng bản tin"] = (message.fraction, message.what)

    @on(RenderFinished)
    def finished(self, message: RenderFinished) -> None:
        self.studio.renders[message.bulletin_id] = message
        self.show_result(message)
        self.notify("Dựng xong. Sang mục 4 Duyệt & phát để đóng gói.", title="Sản xuất")

    def show_result(self, message: RenderFinished) -> None:
        result = message.result
        table = self.query_one("#renditions", DataTable)
        table.clear()
        for r in result.renditions:
            rep = r.report
            table.add_row(
                r.profile.id,
                r.path.name,
                f"{rep.duration_s:.1f} s",
                f"{_num(rep.integrated_lufs)} LUFS",
                f"{_num(rep.loudness_range_lu)} LU",
                f"{_num(rep.true_peak_dbtp)} dBTP",
                f"{_num(r.profile.target_lufs, '{:g}')} / ≤{_num(r.profile.true_peak_dbtp, '{:g}')}",
            )
        first = result.renditions[0]
        self.query_one("#spark", Sparkline).data = result.short_term_lufs
        low, high = min(result.short_term_lufs, default=None), max(result.short_term_lufs, default=None)
        self.query_one("#spark-title", Label).update(
            f"Độ lớn ngắn hạn của bản {first.profile.id} (LUFS, 10 lần/giây, {_num(low)} … {_num(high)})"
        )
        self.query_one("#player", PlayButton).path = first.path
        self.query_one("#progress", ProgressBar).update(progress=1.0)
        notes = f" · {'; '.join(result.notes)}" if result.notes else ""
        self.query_one("#render-status", Label).update(
            f"Đã dựng: {result.duration_s:.1f} s, giọng {result.voice_id}{notes}"
        )

    @on(Worker.StateChanged)
    def render_state(self, event: Worker.StateChanged) -> None:
        if event.worker is not self.render_worker:
            return
        running = event.state in (WorkerState.PENDING, WorkerState.RUNNING)
        self.query_one("#cancel", Button).disabled = not running
        self.query_one("#render", Button).disabled = running or self.stored is None
        if not running:
            self.studio.job_progress.pop("Dựng bản tin", None)
        if event.state == WorkerState.CANCELLED or (
            event.state == WorkerState.ERROR and type(event.worker.error).__name__ == "Cancelled"
        ):
            self.query_one("#render-status", Label).update("Đã huỷ dựng.")
        elif event.state == WorkerState.ERROR:
            self.query_one("#render-status", Label).update("Dựng không thành: xem thông báo lỗi.")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.render_worker is not None and self.render_worker.is_running:
            self.render_worker.cancel()
            self.query_one("#render-status", Label).update("Đang huỷ…")

    def action_listen(self) -> None:
        player = self.query_one("#player", PlayButton)
        if not self.studio.audio_output.available:
            self.notify(self.studio.audio_output.reason, severity="warning")
        elif player.path is None:
            self.notify("Chưa có bản dựng để nghe: nhấn r để dựng.", severity="warning")
        elif player.playing:
            player.stop()
        else:
            player.play()
