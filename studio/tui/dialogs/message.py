"""A dialog to read an error (or any message) in full, closed with Enter or Esc."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class MessageDialog(ModalScreen[None]):
    """A title, the message, and an OK button."""

    BINDINGS = [Binding("escape", "dismiss", "Đóng")]

    def __init__(self, title: str, message: str, *, error: bool = True) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text = title
        self.message = message
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog" + (" -error" if self.error else "")):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(self.message, markup=False)
            yield Button("Đóng (Enter)", id="ok", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self) -> None:
        self.dismiss(None)
