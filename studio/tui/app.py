"""The Textual app: one factory for the entry point and the tests."""

from __future__ import annotations

from textual.app import App

from studio.config import Workspace
from studio.tui.screens.home import HomeScreen


class StudioApp(App[int]):
    """studio — bàn biên tập bản tin."""

    CSS_PATH = ["studio.tcss"]
    TITLE = "studio — Bàn biên tập bản tin"

    def __init__(self, workspace: Workspace) -> None:
        super().__init__()
        self.workspace = workspace
        self.sub_title = workspace.settings.station_name

    def on_mount(self) -> None:
        self.push_screen(HomeScreen(self.workspace))


def make_app(workspace: Workspace) -> StudioApp:
    """Build the app for `workspace` (the entry point and the tests use this)."""
    return StudioApp(workspace)


def run_app(workspace: Workspace) -> int:
    """Run the TUI until the user quits; returns the process exit code."""
    result = make_app(workspace).run()
    return int(result or 0)
