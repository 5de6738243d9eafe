"""Ask for a file (or folder) to ingest; Enter takes it, Esc cancels."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class IngestDialog(ModalScreen[Path | None]):
    """A path field with the kinds of file studio reads."""

    BINDINGS = [Binding("escape", "cancel", "Huỷ")]

    def __init__(self, kinds: str, start: Path) -> None:
        super().__init__(classes="dialog-screen")
        self.kinds = kinds
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Nhận tin từ tệp", classes="dialog-title")
            yield Static(
                f"Gõ đường dẫn tệp hoặc thư mục rồi nhấn Enter. Đọc được: {self.kinds}.",
                classes="dialog-body",
            )
            yield Input(value=str(self.start), id="path", placeholder="/đường/dẫn/tệp.json")
            yield Label("", id="ingest-error", classes="error-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Nhận (Enter)", id="ok", variant="primary")
                yield Button("Huỷ (Esc)", id="cancel")

    def on_mount(self) -> None:
        field = self.query_one("#path", Input)
        field.focus()
        field.cursor_position = len(field.value)

    @on(Input.Submitted)
    @on(Button.Pressed, "#ok")
    def take(self) -> None:
        raw = self.query_one("#path", Input).value.strip()
        path = Path(raw).expanduser()
        if not raw or not path.exists():
            self.query_one("#ingest-error", Label).update(f"Không thấy tệp hoặc thư mục: {raw or '(trống)'}")
            return
        self.dismiss(path)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
