"""TUI test helpers: a workspace read by the fake engine (voice "fake", "Giọng thử"), the shipped sample
items, a fixed date and no audio output, so flows are fast and snapshots are the same everywhere."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from studio.config import Workspace, open_workspace, shipped_dir
from studio.store import Store
from studio.tui.app import StudioApp, make_app
from studio.tui.widgets.player import AudioOutput

TODAY = date(2026, 11, 28)
NO_AUDIO = AudioOutput(
    None, "Không nghe được: máy không có thiết bị âm thanh (/dev/snd) hay PulseAudio/PipeWire."
)
FAKE_VOICE = """\
id = "fake"
name = "Giọng thử"
engine = "fake"
region = "bac"
"""
SIZES = {"100x30": (100, 30), "80x24": (80, 24)}


def prepare_workspace(home: Path) -> Workspace:
    """A workspace whose default voice is the fake one, and whose bulletins go to 'loa' only."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "settings.toml").write_text('default_voice = "fake"\nissuer = "huyen-test"\n', encoding="utf-8")
    workspace = open_workspace(home)
    (workspace.voices_dir / "fake.toml").write_text(FAKE_VOICE, encoding="utf-8")
    return workspace


def stock(workspace: Workspace) -> list[int]:
    """Ingest the shipped sample items; returns their ids."""
    from studio.ingest import ingest

    ids = []
    with Store(workspace.db_path) as store:
        for path in sorted((shipped_dir("samples") / "items").glob("*.json")):
            ids.extend(o.item_id for o in ingest(store, path) if o.item_id is not None)
    return ids


def desk_app(workspace: Workspace) -> StudioApp:
    return make_app(workspace, today=TODAY, audio_output=NO_AUDIO)


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait for every worker and the refresh that follows."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
