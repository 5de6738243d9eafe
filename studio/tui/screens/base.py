"""What every desk screen shares: the section bar, the footer, and one place for worker failures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import events, on
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, WorkerState

from studio.errors import Cancelled, StudioError
from studio.tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from studio.tui.app import StudioApp


class DeskScreen(Screen[None]):
    """A section of the desk. Subclasses set SECTION and implement `body()`."""

    SECTION = ""
    RETRIED_GROUPS: tuple[str, ...] = ()
    """Worker groups whose failures the screen reports itself (retried on their own): no error dialog."""

    @property
    def studio(self) -> StudioApp:
        from studio.tui.app import StudioApp

        assert isinstance(self.app, StudioApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield NavBar(self.SECTION)
        yield from self.body()
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        raise NotImplementedError

    @on(events.ScreenResume)
    def refocus(self) -> None:
        """Coming back to a section, the keys act on its main table again (not on a text field)."""
        if self.AUTO_FOCUS and (self.focused is None or not self.focused.can_focus):
            self.set_focus(self.query_one(self.AUTO_FOCUS))

    @on(Worker.StateChanged)
    def worker_failed(self, event: Worker.StateChanged) -> None:
        """Worker errors end here: a notice the user can retry from, or the details in a dialog."""
        if event.state != WorkerState.ERROR or event.worker.group in self.RETRIED_GROUPS:
            return
        error = event.worker.error
        if isinstance(error, Cancelled):
            self.notify(error.message, title="Đã huỷ")
        elif isinstance(error, StudioError):
            self.studio.show_error(error.title, error.message)
        elif error is not None:
            self.studio.show_error("Lỗi không mong đợi", f"{type(error).__name__}: {error}")
