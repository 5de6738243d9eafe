"""Nguồn tin: the inbox. Items by priority (colour and word), filter and search, a preview, ingest a
file, mark items and compose a bulletin from them. New khẩn cấp items announce themselves."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.reactive import reactive
from textual.widgets import DataTable, Input, Label, Static

from studio.models import ItemState, Priority
from studio.store import Store, StoredItem
from studio.tui.dialogs.ingest import IngestDialog
from studio.tui.messages import IngestFinished, ItemsLoaded
from studio.tui.screens.base import DeskScreen

PRIORITY_STYLE = {Priority.KHAN_CAP: "bold red", Priority.UU_TIEN: "bold yellow", Priority.THONG_THUONG: ""}
FILTERS: tuple[Priority | None, ...] = (None, Priority.KHAN_CAP, Priority.UU_TIEN, Priority.THONG_THUONG)
POLL_S = 5.0
"""How often the store is read again, so items ingested elsewhere (hot folder, CLI) show up."""


def state_label(state: str) -> str:
    try:
        return ItemState(state).label
    except ValueError:
        return state


def priority_text(priority: Priority) -> Text:
    """The priority word in its colour ('khẩn cấp' in red)."""
    return Text(priority.label, style=PRIORITY_STYLE[priority])


def when(item_published: object) -> str:
    """dd/mm HH:MM in the item's own offset, or '—'."""
    from datetime import datetime

    if isinstance(item_published, datetime):
        return f"{item_published:%d/%m %H:%M}"
    return "—"


class InboxScreen(DeskScreen):
    """Items waiting to be read on air."""

    SECTION = "nguon-tin"
    AUTO_FOCUS = "#items"
    BINDINGS = [
        Binding("i", "ingest", "Nhận tệp"),
        Binding("space", "mark", "Đánh dấu"),
        Binding("n", "compose", "Tạo bản tin"),
        Binding("slash", "search", "Tìm", key_display="/"),
        Binding("p", "filter", "Lọc mức độ"),
        Binding("r", "reload", "Tải lại", show=False),
        Binding("escape", "clear_search", "Xoá tìm", show=False),
    ]

    priority_filter: reactive[int] = reactive(0)
    """Index into FILTERS: all, khẩn cấp, ưu tiên, thông thường."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[StoredItem] = []
        self.marked: set[int] = set()
        self.announced: set[int] = set()
        self._loaded_once = False

    def body(self) -> ComposeResult:
        yield Static("", id="alert", classes="hidden")
        with Horizontal(id="inbox-tools"):
            yield Input(placeholder="Tìm trong tiêu đề, nội dung, nguồn… (/)", id="search")
            yield Label("Mức độ: tất cả", id="filter-label")
        with Horizontal(id="inbox"):
            yield DataTable(id="items", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="preview"):
                yield Static("Chọn một tin để xem.", id="preview-body")
        yield Label("Đang tải…", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#items", DataTable)
        table.add_column("✓", width=1, key="mark")
        table.add_column("Mức độ", width=12, key="prio")
        table.add_column("Tiêu đề", width=44, key="title")
        table.add_column("Thời gian", width=11, key="time")
        table.add_column("Trạng thái", width=10, key="state")
        table.add_column("Nguồn", width=12, key="source")
        table.focus()
        self.load()
        self.set_interval(POLL_S, self.load)

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        """Read the items off the UI thread; nothing reaches the screen when they are as shown already.

        Rebuilding the table costs the UI thread about 0.5 ms per item (DataTable measures every cell):
        with 2,000 items the screen froze for ~2 s on every 5-second poll even when nothing had changed.
        """
        with Store(self.studio.workspace.db_path) as store:
            items = store.items()
        if self._loaded_once and items == self.items:
            return
        self.post_message(ItemsLoaded(items))

    @on(ItemsLoaded)
    def loaded(self, message: ItemsLoaded) -> None:
        self.items = message.items
        self.show_items()
        self.announce(
            [i for i in message.items if i.item.priority is Priority.KHAN_CAP and i.state == ItemState.NEW]
        )
        self._loaded_once = True

    def announce(self, urgent: list[StoredItem]) -> None:
        """A red banner for unread khẩn cấp items; a bell and a notice for each one not seen before."""
        alert = self.query_one("#alert", Static)
        if not urgent:
            alert.add_class("hidden")
            return
        first = urgent[0].item
        more = f" (và {len(urgent) - 1} tin khẩn cấp khác)" if len(urgent) > 1 else ""
        alert.update(f"⚠ KHẨN CẤP: {first.title}{more}")
        alert.remove_class("hidden")
        fresh = [u for u in urgent if u.id not in self.announced]
        self.announced.update(u.id for u in urgent)
        if fresh:
            self.app.bell()
            for u in fresh:
                self.notify(u.item.title, title="Tin khẩn cấp mới", severity="error", timeout=10)

    def visible_items(self) -> list[StoredItem]:
        query = self.query_one("#search", Input).value.strip().casefold()
        prio = FILTERS[self.priority_filter]
        rows = []
        for row in self.items:
            if prio is not None and row.item.priority is not prio:
                continue
            if query and query not in " ".join((row.item.title, row.item.body, row.item.source)).casefold():
                continue
            rows.append(row)
        return rows

    def show_items(self) -> None:
        table = self.query_one("#items", DataTable)
        keep = (
            table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value if table.row_count else None
        )
        table.clear()
        rows = self.visible_items()
        for row in rows:
            table.add_row(
                "✓" if row.id in self.marked else "",
                priority_text(row.item.priority),
                row.item.title,
                when(row.item.published),
                state_label(row.state),
                row.item.source,
                key=str(row.id),
            )
        if keep is not None and any(str(r.id) == keep for r in rows):
            table.move_cursor(row=table.get_row_index(keep))
        self.update_status(len(rows))
        self.show_preview()

    def update_status(self, shown: int | None = None) -> None:
        shown = len(self.visible_items()) if shown is None else shown
        total = len(self.items)
        text = f"{total} tin" if shown == total else f"{shown}/{total} tin"
        if self.marked:
            text += f" · đã đánh dấu {len(self.marked)} (n: tạo bản tin)"
        elif total:
            text += " · Space đánh dấu, n tạo bản tin, i nhận tệp"
        else:
            text += " · i để nhận tin từ tệp"
        self.query_one("#status", Label).update(text)

    def current(self) -> StoredItem | None:
        table = self.query_one("#items", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.items if str(r.id) == key), None)

    @on(DataTable.RowHighlighted, "#items")
    def show_preview(self) -> None:
        body = self.query_one("#preview-body", Static)
        row = self.current()
        if row is None:
            body.update("Không có tin nào." if not self.items else "Không có tin khớp bộ lọc.")
            return
        item = row.item
        text = Text()
        text.append(item.title + "\n", style="bold")
        text.append_text(priority_text(item.priority))
        text.append(f" · {item.source} · {when(item.published)}")
        if item.category:
            text.append(f" · {item.category}")
        text.append("\n\n" + item.body)
        body.update(text)

    @on(DataTable.RowSelected, "#items")
    def selected(self) -> None:
        self.action_mark()

    def action_mark(self) -> None:
        row = self.current()
        if row is None:
            return
        self.marked ^= {row.id}
        table = self.query_one("#items", DataTable)
        table.update_cell(str(row.id), "mark", "✓" if row.id in self.marked else "")
        self.update_status()

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_clear_search(self) -> None:
        search = self.query_one("#search", Input)
        if search.value:
            search.value = ""
        self.query_one("#items", DataTable).focus()

    @on(Input.Changed, "#search")
    def searched(self) -> None:
        self.show_items()

    @on(Input.Submitted, "#search")
    def search_done(self) -> None:
        self.query_one("#items", DataTable).focus()

    def action_filter(self) -> None:
        self.priority_filter = (self.priority_filter + 1) % len(FILTERS)

    def watch_priority_filter(self, value: int) -> None:
        prio = FILTERS[value]
        self.query_one("#filter-label", Label).update(f"Mức độ: {prio.label if prio else 'tất cả'}")
        self.show_items()

    # -- ingest ---------------------------------------------------------------------------------------

    def action_ingest(self) -> None:
        from studio.tui.ingest import KINDS  # deferred: keeps startup light

        self.app.push_screen(IngestDialog(KINDS, self.studio.workspace.inbox), self.ingest_chosen)

    def ingest_chosen(self, path: Path | None) -> None:
        if path is not None:
            self.query_one("#status", Label).update(f"Đang nhận {path.name}…")
            self.ingest(path)

    @work(thread=True, group="ingest", exit_on_error=False, name="Nhận tin")
    def ingest(self, path: Path) -> None:
        from studio.tui.ingest import ingest_path

        summary = ingest_path(self.studio.workspace, path)
        self.post_message(IngestFinished(str(path), summary.added, summary.known, summary.problems))

    @on(IngestFinished)
    def ingested(self, message: IngestFinished) -> None:
        name = Path(message.path).name
        text = f"{name}: {message.added} tin mới, {message.known} tin đã có"
        if message.errors:
            text += f", {len(message.errors)} mục lỗi hoặc bỏ qua"
            self.studio.show_error(f"Có mục không nhận được từ {name}", "\n".join(message.errors))
        self.notify(text, title="Đã nhận tin")
        self.load()

    # -- compose --------------------------------------------------------------------------------------

    def action_compose(self) -> None:
        ids = [r.id for r in self.items if r.id in self.marked]
        if not ids:
            row = self.current()
            if row is None:
                self.notify("Chưa có tin nào. Nhấn i để nhận tin từ tệp.", severity="warning")
                return
            ids = [row.id]
        self.query_one("#status", Label).update("Đang tạo bản tin…")
        self.compose_bulletin(ids)

    @work(thread=True, exclusive=True, group="compose", exit_on_error=False)
    def compose_bulletin(self, ids: list[int]) -> None:
        from studio.compose import new_draft

        app = self.studio
        ws = app.workspace
        with Store(ws.db_path) as store:
            bulletin_id = new_draft(
                store,
                ws.settings,
                "ban-tin",
                ids,
                extra_dir=ws.home / "templates",
                today=app.compose_date(),
                actor="tui",
            )
        desk = app.desk.copy()
        desk.bulletin_id = bulletin_id
        app.saver.save_desk(desk)
        app.call_from_thread(self.composed, bulletin_id)

    def composed(self, bulletin_id: int) -> None:
        self.studio.desk.bulletin_id = bulletin_id
        self.marked.clear()
        self.notify("Đã tạo bản tin nháp. Sửa lời ở mục Biên tập.", title="Bản tin mới")
        self.load()
        self.app.switch_mode("bien-tap")
