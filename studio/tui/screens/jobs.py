"""Công việc: the queue's jobs (studio.jobs) with their progress, and the long work of this session."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Label, Static
from textual.worker import WorkerState

from studio.tui.screens.base import DeskScreen

JOB_STATES = {
    "queued": "chờ",
    "running": "đang chạy",
    "done": "xong",
    "failed": "lỗi",
    "cancelled": "đã huỷ",
    "cancelling": "đang huỷ",
    "interrupted": "bị ngắt",
}
WORKER_STATES = {
    WorkerState.PENDING: "chờ",
    WorkerState.RUNNING: "đang chạy",
    WorkerState.SUCCESS: "xong",
    WorkerState.ERROR: "lỗi",
    WorkerState.CANCELLED: "đã huỷ",
}
REFRESH_S = 1.0


def bar(fraction: float, width: int = 10) -> str:
    """A text progress bar: ███████░░░ 70%."""
    fraction = min(max(fraction, 0.0), 1.0)
    full = int(round(fraction * width))
    return "█" * full + "░" * (width - full) + f" {fraction:4.0%}"


class JobsScreen(DeskScreen):
    """Queue jobs and session work, refreshed every second."""

    SECTION = "cong-viec"
    AUTO_FOCUS = "#jobs"
    BINDINGS = [
        Binding("x", "cancel_job", "Huỷ việc"),
        Binding("r", "reload", "Tải lại"),
    ]

    def body(self) -> ComposeResult:
        yield Label("Hàng đợi công việc", classes="panel-title")
        yield DataTable(id="jobs", cursor_type="row", zebra_stripes=True)
        yield Label("Việc của phiên này", classes="panel-title")
        yield DataTable(id="session", cursor_type="row", zebra_stripes=True)
        yield Static("", id="status")

    def on_mount(self) -> None:
        jobs = self.query_one("#jobs", DataTable)
        for label, width in (("Số", 4), ("Loại", 9), ("Trạng thái", 10), ("Tiến độ", 15), ("Ghi chú", 36)):
            jobs.add_column(label, width=width)
        session = self.query_one("#session", DataTable)
        for label, width in (("Việc", 20), ("Trạng thái", 10), ("Tiến độ", 15), ("Đang làm", 30)):
            session.add_column(label, width=width)
        self.load()
        self.set_interval(REFRESH_S, self.refresh_all)

    def on_screen_resume(self) -> None:
        self.refresh_all()

    def refresh_all(self) -> None:
        self.show_session()
        self.load()

    def action_reload(self) -> None:
        self.refresh_all()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        from studio.jobs.records import JobStore

        with JobStore(self.studio.workspace.db_path) as store:
            records = store.list(limit=100)
        self.app.call_from_thread(self.show_jobs, records)

    def show_jobs(self, records: list) -> None:  # type: ignore[type-arg]
        table = self.query_one("#jobs", DataTable)
        keep = table.cursor_row
        table.clear()
        for rec in records:
            note = rec.error or rec.message or rec.spec
            table.add_row(
                str(rec.id),
                rec.kind,
                JOB_STATES.get(rec.state, rec.state),
                bar(rec.progress),
                note,
                key=str(rec.id),
            )
        if records:
            table.move_cursor(row=min(keep, len(records) - 1))
        running = sum(1 for r in records if r.state == "running")
        waiting = sum(1 for r in records if r.state == "queued")
        self.query_one("#status", Static).update(
            f"{len(records)} việc trong hàng đợi: {running} đang chạy, {waiting} đang chờ"
            " · x huỷ việc đang chọn"
            if records
            else "Hàng đợi trống. Việc theo lịch và thư mục nóng hiện ở đây (studio jobs)."
        )

    def show_session(self) -> None:
        table = self.query_one("#session", DataTable)
        table.clear()
        for worker in self.app.workers:
            if (
                not worker.name
                or worker.name.startswith("_")
                or worker.group in ("load", "save", "explain", "estimate", "pick")
            ):
                continue
            fraction, what = self.studio.job_progress.get(
                worker.name, (1.0 if worker.is_finished else 0.0, "")
            )
            table.add_row(
                worker.name, WORKER_STATES.get(worker.state, str(worker.state)), bar(fraction), what
            )

    def action_cancel_job(self) -> None:
        table = self.query_one("#jobs", DataTable)
        if not table.row_count:
            self.notify("Không có việc nào để huỷ.", severity="warning")
            return
        job_id = int(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        self.cancel_job(job_id)

    @work(thread=True, group="cancel", exit_on_error=False)
    def cancel_job(self, job_id: int) -> None:
        from studio.jobs.records import JobStore

        with JobStore(self.studio.workspace.db_path) as store:
            record = store.cancel(job_id, actor="tui")
        self.app.call_from_thread(
            self.notify, f"Việc số {job_id}: {JOB_STATES.get(record.state, record.state)}.", title="Công việc"
        )
        self.app.call_from_thread(self.load)
