"""The Textual app: one factory for the entry point and the tests.

Seven sections are app modes (keys 1–7, the bar at the top, or the command palette), so each keeps its
state while the others are used. What they share — the current draft and the choices made for it —
is `StudioApp.desk`, persisted by `DraftSaver` in worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import date
from threading import Lock
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen

from studio.config import Workspace
from studio.tui.desk import DeskState, DraftSaver, load_desk
from studio.tui.dialogs.message import MessageDialog
from studio.tui.screens.dispatch import DispatchScreen
from studio.tui.screens.editor import EditorScreen
from studio.tui.screens.help import HelpScreen
from studio.tui.screens.inbox import InboxScreen
from studio.tui.screens.jobs import JobsScreen
from studio.tui.screens.lexicon import LexiconScreen
from studio.tui.screens.produce import ProduceScreen
from studio.tui.screens.voices import VoicesScreen
from studio.tui.widgets.nav import SECTIONS
from studio.tui.widgets.player import AudioOutput, detect_audio_output

if TYPE_CHECKING:
    from studio.tts.registry import VoiceRegistry


QUIT_AGAIN_S = 10.0
"""A second q this soon after a quit refused for unsaved drafts quits anyway."""


class StudioApp(App[int]):
    """studio — bàn biên tập bản tin."""

    CSS_PATH = ["studio.tcss"]
    TITLE = "studio — Bàn biên tập bản tin"
    MODES = {
        "nguon-tin": InboxScreen,
        "bien-tap": EditorScreen,
        "san-xuat": ProduceScreen,
        "duyet-phat": DispatchScreen,
        "cong-viec": JobsScreen,
        "giong-doc": VoicesScreen,
        "tu-dien": LexiconScreen,
    }
    DEFAULT_MODE = "nguon-tin"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (90, "-wide")]
    BINDINGS = [
        *(
            Binding(str(n), f"section('{mode}')", label, show=False)
            for n, (mode, label) in enumerate(SECTIONS, start=1)
        ),
        Binding("question_mark", "help", "Trợ giúp", key_display="?"),
        Binding("q", "quit", "Thoát"),
        Binding("ctrl+p", "command_palette", "Lệnh", show=False, priority=True, key_display="^p"),
    ]

    def __init__(
        self, workspace: Workspace, *, today: date | None = None, audio_output: AudioOutput | None = None
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.today = today
        """The date bulletins are composed for; None means the real today (tests fix it)."""
        self.audio_output = audio_output if audio_output is not None else detect_audio_output()
        self.desk: DeskState = load_desk(workspace)
        self.saver = DraftSaver(workspace)
        self._quit_warned_at: float | None = None
        """When a quit was refused for unsaved drafts: a q within QUIT_AGAIN_S of it quits."""
        self.sub_title = workspace.settings.station_name
        self.renders: dict[int, object] = {}
        """Render results of this session by bulletin id (studio.tui.messages.RenderFinished)."""
        self.job_progress: dict[str, tuple[float, str]] = {}
        """Progress of this session's long work by worker name, for the Công việc section."""
        self._voices: VoiceRegistry | None = None
        self._voices_lock = Lock()

    def voice_registry(self) -> VoiceRegistry:
        """The workspace's voices, read once (call from a worker thread: it reads the voice files)."""
        with self._voices_lock:
            if self._voices is None:
                from studio.tts.registry import VoiceRegistry  # deferred: numpy and the engine table

                self._voices = VoiceRegistry(self.workspace.voices_dir)
            return self._voices

    def compose_date(self) -> date:
        return self.today or date.today()

    def action_section(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(
                CommandPalette(
                    placeholder="Tìm lệnh… (gõ vài chữ, ↑ ↓ chọn, Enter chạy)", id="--command-palette"
                )
            )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for n, (mode, label) in enumerate(SECTIONS, start=1):
            yield SystemCommand(
                f"Mục {n}: {label}",
                f"Chuyển đến mục {label} (phím {n})",
                lambda mode=mode: self.action_section(mode),
            )
        for binding in screen.active_bindings.values():
            b = binding.binding
            if b.show and b.description and binding.node is screen:
                yield SystemCommand(
                    b.description,
                    f"Phím {b.key_display or b.key} trong mục này",
                    lambda action=b.action: self.run_action(action, screen),
                )
        yield SystemCommand("Trợ giúp", "Các phím và cách làm một bản tin (phím ?)", self.action_help)
        yield SystemCommand("Đổi giao diện màu", "Chọn bảng màu khác", self.action_change_theme)
        yield SystemCommand("Thoát", "Đóng chương trình (phím q)", self.action_quit)

    async def action_quit(self) -> None:
        """Quit, unless a draft change is not in the store yet (a save waiting for the lock, or failed and
        being retried): then say so once; pressing q again quits and gives those changes up."""
        unsaved = self.saver.unsaved
        now = time.monotonic()
        if unsaved and (self._quit_warned_at is None or now - self._quit_warned_at > QUIT_AGAIN_S):
            self._quit_warned_at = now
            self.notify(f"{unsaved} bản nháp còn thay đổi chưa lưu vào kho (đang thử lưu lại). "
                        "Chờ dòng trạng thái báo 'đã lưu' rồi thoát; nhấn q lần nữa (trong 10 giây) "
                        "để thoát và bỏ các thay đổi đó.",
                        title="Chưa lưu xong", severity="warning", timeout=10)
            return
        await super().action_quit()

    def show_error(self, title: str, message: str) -> None:
        """Details the user must read: a dialog (retryable problems use notify instead)."""
        self.push_screen(MessageDialog(title, message))


def make_app(
    workspace: Workspace, *, today: date | None = None, audio_output: AudioOutput | None = None
) -> StudioApp:
    """Build the app for `workspace` (the entry point and the tests use this).

    Args:
        workspace: the open workspace.
        today: the date new bulletins are composed for (tests fix it; default: today).
        audio_output: how to play audio (tests pass one; default: detected on this machine).
    """
    return StudioApp(workspace, today=today, audio_output=audio_output)


def run_app(workspace: Workspace) -> int:
    """Run the TUI until the user quits; returns the process exit code."""
    result = make_app(workspace).run()
    return int(result or 0)
