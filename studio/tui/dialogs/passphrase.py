"""Ask for a signing key's passphrase (hidden); Enter takes it, Esc cancels."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class PassphraseDialog(ModalScreen[str | None]):
    """A password field for an encrypted key."""

    BINDINGS = [Binding("escape", "cancel", "Huỷ")]

    def __init__(self, key_name: str) -> None:
        super().__init__(classes="dialog-screen")
        self.key_name = key_name

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Mật khẩu của khoá {self.key_name}", classes="dialog-title")
            yield Static(
                "Khoá ký được mã hoá. Gõ mật khẩu rồi nhấn Enter (Esc để huỷ).", classes="dialog-body"
            )
            yield Input(password=True, id="passphrase")

    def on_mount(self) -> None:
        self.query_one("#passphrase", Input).focus()

    @on(Input.Submitted)
    def take(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
