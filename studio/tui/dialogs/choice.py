"""Pick one option (a voice, a template, an item) or several (destination profiles)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList, SelectionList
from textual.widgets.option_list import Option


class ChoiceDialog(ModalScreen[str | None]):
    """↑ ↓ and Enter pick one option; Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Huỷ")]

    def __init__(
        self,
        title: str,
        options: list[tuple[str, str]],
        *,
        current: str | None = None,
        hint: str = "↑ ↓ chọn, Enter lấy, Esc huỷ",
    ) -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.options, self.current, self.hint = title, options, current, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield OptionList(*(Option(label, id=key) for key, label in self.options), id="choices")
            yield Label(self.hint, classes="muted")

    def on_mount(self) -> None:
        choices = self.query_one("#choices", OptionList)
        if self.current is not None:
            try:
                choices.highlighted = choices.get_option_index(self.current)
            except Exception:  # noqa: BLE001 - an unknown current id just leaves the first highlighted
                choices.highlighted = 0
        choices.focus()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class MultiChoiceDialog(ModalScreen[list[str] | None]):
    """Space ticks options, Ctrl+S or the button confirms, Esc cancels."""

    BINDINGS = [Binding("escape", "cancel", "Huỷ"), Binding("ctrl+s", "done", "Xong")]

    def __init__(self, title: str, options: list[tuple[str, str, bool]], *, hint: str = "") -> None:
        super().__init__(classes="dialog-screen")
        self.title_text, self.options = title, options
        self.hint = hint or "↑ ↓ chọn, Space đánh dấu, Ctrl+S xong, Esc huỷ"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield SelectionList[str](*((label, key, on) for key, label, on in self.options), id="choices")
            yield Label(self.hint, classes="muted")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Xong (Ctrl+S)", id="done", variant="primary")
                yield Button("Huỷ (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#choices", SelectionList).focus()

    @on(Button.Pressed, "#done")
    def action_done(self) -> None:
        self.dismiss(list(self.query_one("#choices", SelectionList).selected))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
