"""Shared fixtures: every test gets its own workspace; nothing touches the user's folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.config import Workspace, open_workspace

REPO = Path(__file__).resolve().parent.parent
STANDARDS = REPO.parent / "shared" / "standards"
SEEDS = REPO.parent / "shared" / "seeds"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "studio-home"
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("STUDIO_CONFIG_FILE", raising=False)
    return home


@pytest.fixture
def workspace(_isolated_home: Path) -> Workspace:
    return open_workspace(_isolated_home)


@pytest.fixture
def ffmpeg() -> str:
    """Path to an ffmpeg binary (imageio-ffmpeg wheel, else the system one)."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        exe = shutil.which("ffmpeg")
        if exe is None:
            pytest.skip("no ffmpeg: install the 'video' extra (imageio-ffmpeg)")
        return exe
