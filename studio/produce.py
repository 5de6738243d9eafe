"""The production pipeline: bulletin → spoken text → speech → programme → renditions per destination.

Owns: walking a bulletin's running order (speech through the cached engines, gaps as silence),
assembling the 48 kHz programme with its caption cues, and making one rendition per destination
profile (filter → compress → loudness-normalize → encode → re-measure the written file). Text goes
through studio.text.normalize inside synthesize_cached before any engine sees it.
Must not import package/dispatch/tui.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Event

import numpy as np
from numpy.typing import NDArray

from studio.audio import io as audio_io
from studio.audio.loudness import LoudnessReport
from studio.audio.profiles import prepare
from studio.config import Workspace
from studio.errors import AudioError, Cancelled
from studio.models import Bulletin, DestinationProfile
from studio.tts.base import Rendered
from studio.tts.cache import synthesize_cached
from studio.tts.registry import VoiceRegistry

PROGRAMME_RATE_HZ = 48000
ProgressCallback = Callable[[float, str], None]
"""(fraction done 0–1, what is happening)."""


@dataclass(frozen=True, slots=True)
class Cue:
    """A caption: one sentence and when it is heard in the programme."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Programme:
    """The assembled bulletin audio before any destination processing: mono float32 at 48 kHz."""

    samples: NDArray[np.float32]
    sample_rate: int
    cues: tuple[Cue, ...]
    voice_id: str
    fallbacks: tuple[str, ...]
    """Notes on voices that failed and what read instead."""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True, slots=True)
class Rendition:
    """One written file for one destination, with what was measured on the file itself."""

    profile: DestinationProfile
    path: Path
    report: LoudnessReport


def render_programme(bulletin: Bulletin, registry: VoiceRegistry, voice_id: str, *, cache_dir: Path | None,
                     cancel: Event | None = None, on_progress: ProgressCallback | None = None) -> Programme:
    """Speak every speech segment and lay the running order out on one 48 kHz timeline.

    Raises:
        ConfigError: unknown voice.
        EngineError: the voice and its fallback failed.
        Cancelled: `cancel` was set.
    """
    pieces: list[NDArray[np.float32]] = []
    cues: list[Cue] = []
    fallbacks: list[str] = []
    t = 0
    speech_total = sum(1 for s in bulletin.segments if s.kind == "speech") or 1
    done = 0
    for segment in bulletin.segments:
        if cancel is not None and cancel.is_set():
            raise Cancelled("dựng bản tin đã bị huỷ")
        if segment.kind == "gap":
            n = int(round(segment.duration_s * PROGRAMME_RATE_HZ))
            pieces.append(np.zeros(n, dtype=np.float32))
            t += n
            continue
        if segment.kind != "speech":
            raise AudioError(f"bulletin {bulletin.title!r}: segment kind {segment.kind!r} is not supported yet")
        if on_progress is not None:
            on_progress(done / speech_total, f"đọc đoạn {done + 1}/{speech_total}")
        rendered: Rendered = synthesize_cached(registry, voice_id, segment.text, cache_dir, cancel=cancel,
                                               sample_rate=PROGRAMME_RATE_HZ)
        if rendered.fallback_from:
            fallbacks.extend(rendered.notes)
        offset_s = t / PROGRAMME_RATE_HZ
        cues.extend(Cue(tm.text, offset_s + tm.start_s, offset_s + tm.end_s) for tm in rendered.timings)
        pieces.append(rendered.samples.astype(np.float32, copy=False))
        t += len(rendered.samples)
        done += 1
    if on_progress is not None:
        on_progress(1.0, "xong phần đọc")
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    return Programme(samples=samples, sample_rate=PROGRAMME_RATE_HZ, cues=tuple(cues), voice_id=voice_id,
                     fallbacks=tuple(fallbacks))


def render_rendition(programme: Programme, profile: DestinationProfile, path: Path, *, title: str = "") -> Rendition:
    """Process `programme` for `profile`, write it to `path`, and keep what was measured on the file.

    The written file is decoded and measured again (encoders add peaks); the report is of that.

    Raises:
        AudioError: the audio cannot be processed, written or read back.
    """
    samples, rate, _ = prepare(programme.samples, programme.sample_rate, profile)
    report = audio_io.write_for_profile(path, samples, rate, profile, title=title)
    return Rendition(profile=profile, path=path, report=report)


def speak(workspace: Workspace, text: str, voice_id: str, output: Path) -> Rendered:
    """Speak `text` (written form; normalized here) with `voice_id` into the WAV file `output`.

    Raises:
        ConfigError: unknown voice. EngineError: the engine failed. AudioError: cannot write.
    """
    registry = VoiceRegistry(workspace.voices_dir)
    voice = registry.get(voice_id)
    rendered = synthesize_cached(registry, voice.id, text, workspace.cache_dir)
    audio_io.write_audio(output, rendered.samples, rendered.sample_rate)
    return rendered
