"""The desk's render job: the core's `produce.render_bulletin`, plus the short-term loudness series of
the first rendition for the sparkline. Runs in a worker thread with a threading.Event and a plain
progress callback; never touches a widget."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from threading import Event
from typing import Any

from studio.config import Workspace
from studio.models import DestinationProfile
from studio.store import Store

SERIES_HZ = 10
SPARK_FLOOR_LUFS = -60.0
"""Short-term values below this, undefined (first 3 s) or silent (−inf) are drawn at this floor."""
AUDIO_CONTAINERS = ("wav", "flac", "mp3", "ogg", "opus")
"""What a render writes; an 'mp4' profile (bang-tin) is made by the package stage at approval."""


def renderable(profile: DestinationProfile) -> bool:
    return profile.container in AUDIO_CONTAINERS


@dataclass(frozen=True, slots=True)
class DeskRender:
    """A finished render and what the Sản xuất screen draws from it."""

    render: Any
    """studio.produce.RenderResult."""
    short_term_lufs: list[float]
    """Short-term loudness of the first rendition at SERIES_HZ, floored for drawing."""
    voice_id: str

    @property
    def renditions(self) -> tuple[Any, ...]:
        return tuple(self.render.renditions)

    @property
    def duration_s(self) -> float:
        return float(self.render.programme.duration_s)

    @property
    def notes(self) -> list[str]:
        return list(self.render.programme.fallbacks)


def render_for_desk(
    workspace: Workspace,
    registry: Any,
    bulletin_id: int,
    voice_id: str,
    profile_ids: list[str],
    *,
    cancel: Event,
    on_progress: Callable[[float, str], None],
) -> DeskRender:
    """Render stored bulletin `bulletin_id` and measure its first rendition's short-term loudness.

    Raises:
        StudioError: from the core (unknown voice or profile, engine or audio failure).
        Cancelled: `cancel` was set.
    """
    from studio import produce
    from studio.audio.io import measure_file

    with Store(workspace.db_path) as store:
        result = produce.render_bulletin(
            workspace,
            store,
            bulletin_id,
            profiles=profile_ids,
            voice_id=voice_id,
            registry=registry,
            cancel=cancel,
            on_progress=lambda f, what: on_progress(0.95 * f, what),
            actor="tui",
        )
    on_progress(0.97, "đo độ lớn ngắn hạn")
    report = measure_file(result.renditions[0].path, series_hz=SERIES_HZ)
    series = [
        v if v is not None and math.isfinite(v) and v > SPARK_FLOOR_LUFS else SPARK_FLOOR_LUFS
        for v in report.short_term_lufs
    ]
    on_progress(1.0, "xong")
    return DeskRender(render=result, short_term_lufs=series, voice_id=voice_id)
