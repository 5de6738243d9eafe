"""Listening: find how this machine plays audio, and a play/stop button that says why it cannot.

Playback runs an external player (pw-play, paplay, aplay, ffplay or afplay) as a child process, so the
UI thread never waits on audio; stop terminates it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Button, Label

_PLAYERS: tuple[tuple[str, ...], ...] = (
    ("pw-play",),
    ("paplay",),
    ("aplay", "-q"),
    ("ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"),
)


@dataclass(frozen=True, slots=True)
class AudioOutput:
    """How to play a file here (`command` + path), or None with the reason in Vietnamese."""

    command: tuple[str, ...] | None
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.command is not None


def _sound_server() -> bool:
    if os.environ.get("PULSE_SERVER"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return bool(runtime) and any((Path(runtime) / name).exists() for name in ("pulse/native", "pipewire-0"))


def detect_audio_output() -> AudioOutput:
    """Look for a sound device and a player program (a few stat calls; no audio library is loaded)."""
    if sys.platform == "darwin" and shutil.which("afplay"):
        return AudioOutput(("afplay",))
    has_card = Path("/dev/snd").is_dir()
    has_server = _sound_server()
    if not has_card and not has_server:
        return AudioOutput(
            None,
            "Không nghe được: máy không có thiết bị âm thanh (/dev/snd) hay PulseAudio/PipeWire.",
        )
    for command in _PLAYERS:
        if command[0] in ("pw-play", "paplay") and not has_server:
            continue
        if command[0] == "aplay" and not has_card:
            continue
        exe = shutil.which(command[0])
        if exe:
            return AudioOutput((exe, *command[1:]))
    return AudioOutput(None, "Không có chương trình phát âm thanh (pw-play, paplay, aplay hoặc ffplay).")


class PlayButton(Horizontal):
    """▶ Nghe / ■ Dừng for one file; disabled, with the reason beside it, when nothing can play."""

    path: reactive[Path | None] = reactive(None)
    """The file to play; None while there is nothing to hear yet."""
    playing: reactive[bool] = reactive(False)
    """Whether the player process is running."""

    class Changed(Message):
        """Playback started or stopped."""

        def __init__(self, control: PlayButton, playing: bool) -> None:
            super().__init__()
            self._control = control
            self.playing = playing

        @property
        def control(self) -> PlayButton:
            return self._control

    def __init__(
        self,
        output: AudioOutput,
        *,
        empty_reason: str = "Chưa có âm thanh để nghe.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.output = output
        self.empty_reason = empty_reason
        self._process: subprocess.Popen[bytes] | None = None
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Button("▶ Nghe", id="play", compact=True)
        yield Label("", classes="play-reason")

    def on_mount(self) -> None:
        self._refresh()

    def watch_path(self) -> None:
        self.stop()
        self._refresh()

    def watch_playing(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        if not self.children:  # a watcher can run before compose
            return
        button = self.query_one("#play", Button)
        reason = self.query_one(".play-reason", Label)
        if not self.output.available:
            button.disabled, why = True, self.output.reason
        elif self.path is None:
            button.disabled, why = True, self.empty_reason
        else:
            button.disabled, why = False, ""
        button.label = "■ Dừng" if self.playing else "▶ Nghe"
        button.tooltip = why or None
        reason.update(why)

    @on(Button.Pressed, "#play")
    def toggle(self, event: Button.Pressed) -> None:
        event.stop()
        if self.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        if self.output.command is None or self.path is None:
            return
        self._process = subprocess.Popen(
            [*self.output.command, str(self.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.playing = True
        self._timer = self.set_interval(0.25, self._poll)
        self.post_message(self.Changed(self, True))

    def _poll(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            self.stop()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
            self._process = None
        if self.playing:
            self.playing = False
            self.post_message(self.Changed(self, False))

    def on_unmount(self) -> None:
        self.stop()
