"""Yes/no before something that cannot be undone (frogmouth's YesNoDialog)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmDialog(ModalScreen[bool]):
    """Ask a question; `c` or Enter on Đồng ý says yes, `k` or Esc says no."""

    BINDINGS = [
        Binding("escape,k", "answer(False)", "Không"),
        Binding("c", "answer(True)", "Có"),
    ]

    def __init__(self, title: str, question: str, *, yes: str = "Đồng ý (c)", no: str = "Không (k)") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.question, self.yes, self.no = title, question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="primary")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")
