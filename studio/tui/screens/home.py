"""Tổng quan: the workspace's items and packages."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from studio.config import Workspace
from studio.models import Priority
from studio.store import Store
from studio.tui.messages import WorkspaceLoaded

PRIORITY_STYLE = {Priority.KHAN_CAP: "bold red", Priority.UU_TIEN: "bold yellow", Priority.THONG_THUONG: ""}


class HomeScreen(Screen[None]):
    """Items (Nguồn tin) and packages (Gói tin) of the workspace."""

    BINDINGS = [
        Binding("r", "reload", "Tải lại"),
        Binding("q", "app.quit", "Thoát"),
    ]

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="home"):
            yield Label("Nguồn tin", classes="section-title")
            yield DataTable(id="items", cursor_type="row", zebra_stripes=True)
            yield Label("Gói tin đã tạo", classes="section-title")
            yield DataTable(id="packages", cursor_type="row", zebra_stripes=True)
            yield Label("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        items = self.query_one("#items", DataTable)
        for label, width in (("Mã", 4), ("Mức độ", 12), ("Nguồn", 16), ("Trạng thái", 10), ("Tiêu đề", 60)):
            items.add_column(label, width=width)
        packages = self.query_one("#packages", DataTable)
        for label, width in (("Số", 4), ("Mức độ", 12), ("Tạo lúc", 25), ("Gói tin", 40)):
            packages.add_column(label, width=width)
        self.query_one("#status", Label).update("Đang tải…")
        self.load()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        """Read the store off the UI thread."""
        with Store(self.workspace.db_path) as store:
            message = WorkspaceLoaded(items=store.items(), packages=store.packages())
        self.post_message(message)

    @on(WorkspaceLoaded)
    def show(self, message: WorkspaceLoaded) -> None:
        items = self.query_one("#items", DataTable)
        items.clear()
        for row in message.items:
            prio = row.item.priority
            style = PRIORITY_STYLE[prio]
            label = f"[{style}]{prio.label}[/]" if style else prio.label
            items.add_row(str(row.id), label, row.item.source, row.state, row.item.title, key=str(row.id))
        packages = self.query_one("#packages", DataTable)
        packages.clear()
        for pkg in message.packages:
            packages.add_row(str(pkg.sequence), pkg.priority.label, pkg.created_at, pkg.package_id,
                             key=pkg.package_id)
        self.query_one("#status", Label).update(
            f"{len(message.items)} tin, {len(message.packages)} gói tin — thư mục {self.workspace.home}")
