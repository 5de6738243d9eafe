"""The production pipeline: bulletin → spoken text → speech → programme → renditions per destination.

Owns: walking a bulletin's running order (speech through the cached engines, jingles and tones from
templates/assets, gaps as silence), assembling the 48 kHz programme with its caption cues and an
optional music bed ducked under it, making one rendition per destination profile (filter → compress →
loudness-normalize → encode → re-measure the written file), and `render_bulletin`, which runs all of
that for a stored bulletin, writes the captions (WebVTT + SRT) and keeps the render history and audit
entries. Text goes through studio.text.normalize inside synthesize_cached before any engine sees it;
the speech cache is per sentence, so a re-render after an edit speaks only the changed sentences.
Must not import dispatch/tui; of the package stage only the caption writers.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from studio.audio import io as audio_io
from studio.audio.loudness import LoudnessReport
from studio.audio.profiles import prepare
from studio.config import Workspace
from studio.errors import AudioError, Cancelled, InputError, StudioError
from studio.locks import own_lock_file, try_lock_file, unlock_file
from studio.models import Bulletin, DestinationProfile
from studio.tts.base import Rendered
from studio.tts.cache import SpeechCache, synthesize_cached
from studio.tts.registry import VoiceRegistry

if TYPE_CHECKING:
    from studio.store import Store

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
class Part:
    """One segment of the running order and where it lies in the programme."""

    kind: str
    """'speech', 'jingle' or 'gap'."""
    label: str
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
    parts: tuple[Part, ...] = ()
    """The running order on the timeline: the programme is exactly these parts end to end."""
    synthesized: int = 0
    """Sentences an engine had to speak (the rest came from the speech cache)."""
    cached: int = 0
    """Sentences served from the speech cache."""

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


@dataclass(frozen=True, slots=True)
class Rendition:
    """One written file for one destination, with what was measured on the file itself."""

    profile: DestinationProfile
    path: Path
    report: LoudnessReport


@lru_cache(maxsize=16)
def _asset_samples(path: Path, mtime_ns: int) -> NDArray[np.float32]:
    samples, rate = audio_io.read_audio(path)
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    return audio_io.resample(mono.astype(np.float32), rate, PROGRAMME_RATE_HZ)


def load_asset(name: str, assets_dir: Path | None = None) -> NDArray[np.float32]:
    """A jingle, tone or bed from templates/assets (the workspace's first), mono at 48 kHz.

    Raises:
        ConfigError: no such asset. AudioFormatError: the file cannot be decoded.
    """
    from studio.compose import find_asset  # the asset lookup is the templates' (compose owns them)

    path = find_asset(name, assets_dir)
    return _asset_samples(path, path.stat().st_mtime_ns)


def render_programme(bulletin: Bulletin, registry: VoiceRegistry, voice_id: str, *,
                     cache_dir: Path | SpeechCache | None, cancel: Event | None = None,
                     on_progress: ProgressCallback | None = None, assets_dir: Path | None = None,
                     lexicon: Any = None) -> Programme:
    """Speak every speech segment and lay the running order out on one 48 kHz timeline.

    Speech, jingles and gaps follow one another without overlap, so the programme's length is
    exactly the sum of its parts; a music bed (bulletin.music_bed) is then ducked under the whole.

    Args:
        bulletin: the running order.
        registry: the workspace's voices.
        voice_id: the voice reading every speech segment.
        cache_dir: the workspace cache folder, a SpeechCache (to read its hit/miss counts), or None.
        cancel: set it to stop between sentences.
        on_progress: (fraction, what) as segments are done.
        assets_dir: the workspace's templates folder (its assets/ overrides the shipped jingles).
        lexicon: the workspace's studio.text Lexicon, or None for the shipped one.

    Raises:
        ConfigError: unknown voice or audio asset.
        EngineError: the voice and its fallback failed.
        Cancelled: `cancel` was set.
    """
    cache = SpeechCache(cache_dir / "speech") if isinstance(cache_dir, Path) else cache_dir
    hits0, misses0 = (cache.hits, cache.misses) if cache is not None else (0, 0)
    pieces: list[NDArray[np.float32]] = []
    cues: list[Cue] = []
    parts: list[Part] = []
    fallbacks: list[str] = []
    t = 0
    total = len(bulletin.segments) or 1
    for done, segment in enumerate(bulletin.segments):
        if cancel is not None and cancel.is_set():
            raise Cancelled("dựng bản tin đã bị huỷ")
        if on_progress is not None:
            on_progress(done / total, f"đoạn {done + 1}/{total}: {segment.kind}")
        if segment.kind == "gap":
            audio = np.zeros(int(round(segment.duration_s * PROGRAMME_RATE_HZ)), dtype=np.float32)
            label = f"{segment.duration_s:g} s"
        elif segment.kind == "jingle":
            audio, label = load_asset(segment.text, assets_dir), segment.text
        elif segment.kind == "speech":
            rendered: Rendered = synthesize_cached(registry, voice_id, segment.text, cache, cancel=cancel,
                                                   sample_rate=PROGRAMME_RATE_HZ, lexicon=lexicon)
            if rendered.fallback_from:
                fallbacks.extend(rendered.notes)
            offset_s = t / PROGRAMME_RATE_HZ
            cues.extend(Cue(tm.text, offset_s + tm.start_s, offset_s + tm.end_s) for tm in rendered.timings)
            audio, label = rendered.samples.astype(np.float32, copy=False), segment.text[:60]
        else:
            raise AudioError(f"bulletin {bulletin.title!r}: segment kind {segment.kind!r} is not supported")
        parts.append(Part(segment.kind, label, t / PROGRAMME_RATE_HZ, (t + len(audio)) / PROGRAMME_RATE_HZ))
        pieces.append(audio)
        t += len(audio)
    samples = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
    if bulletin.music_bed and samples.size:
        from studio.audio.mix import mix_bed

        if on_progress is not None:
            on_progress(0.99, "nhạc nền")
        samples = mix_bed(samples, load_asset(bulletin.music_bed, assets_dir), PROGRAMME_RATE_HZ,
                          bed_level_db=_bed_level(bulletin, assets_dir))
    if on_progress is not None:
        on_progress(1.0, "xong phần đọc")
    hits, misses = (cache.hits - hits0, cache.misses - misses0) if cache is not None else (0, 0)
    if cache is None:
        misses = sum(1 for _ in cues)
    return Programme(samples=samples.astype(np.float32, copy=False), sample_rate=PROGRAMME_RATE_HZ,
                     cues=tuple(cues), voice_id=voice_id, fallbacks=tuple(fallbacks), parts=tuple(parts),
                     synthesized=misses, cached=hits)


def _bed_level(bulletin: Bulletin, assets_dir: Path | None) -> float:
    """The bed level of the bulletin's template (−20 dB when the template is gone)."""
    from studio.compose import load_template
    from studio.errors import ConfigError

    try:
        return load_template(bulletin.template, extra_dir=assets_dir).bed_level_db
    except ConfigError:
        return -20.0


def render_workspace_programme(workspace: Workspace, bulletin: Bulletin, registry: VoiceRegistry, voice_id: str, *,
                               cancel: Event | None = None,
                               on_progress: ProgressCallback | None = None) -> Programme:
    """render_programme as a workspace reads: its speech cache, its audio assets and its lexicon.

    Every caller that speaks a bulletin for a workspace (render, approve, convert, scheduled jobs,
    the demo, the desk) goes through here, so a reading fixed in the workspace lexicon is heard in
    every product, not only in some.
    """
    from studio.text import load_lexicon

    return render_programme(bulletin, registry, voice_id, cache_dir=SpeechCache(workspace.cache_dir / "speech"),
                            cancel=cancel, on_progress=on_progress, assets_dir=workspace.home / "templates",
                            lexicon=load_lexicon(workspace.lexicon_path))


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
    """Speak `text` (written form; normalized here with the workspace lexicon) into the WAV file `output`.

    Raises:
        ConfigError: unknown voice. EngineError: the engine failed. AudioError: cannot write.
    """
    from studio.text import load_lexicon

    rendered = synthesize_cached(VoiceRegistry(workspace.voices_dir), voice_id, text, workspace.cache_dir,
                                 lexicon=load_lexicon(workspace.lexicon_path))
    audio_io.write_audio(output, rendered.samples, rendered.sample_rate)
    return rendered


_SUFFIX = {"wav": ".wav", "mp3": ".mp3", "flac": ".flac", "ogg": ".ogg", "opus": ".opus"}


_RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
"""A render run's id, and the name of its folder (anything else in the folder is never swept)."""


def sweep_render_runs(store: Store, folder: Path, bulletin_id: int) -> list[str]:
    """Remove the run folders under `folder` (renders/bulletin-<id>/) that no render row records and no
    live render owns: what renders killed (or failed) half-way left. A render holds `.<run id>.lock`
    from before its folder exists until its rows are written, so a render running in another process is
    never touched. Returns the run ids removed."""
    if not folder.is_dir():
        return []
    names = {p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink()}
    names |= {p.name[1:-5] for p in folder.glob(".*.lock")}
    removed = []
    for name in sorted(n for n in names - {r.run_id for r in store.renders(bulletin_id)} if _RUN_ID.fullmatch(n)):
        lock = folder / f".{name}.lock"
        fd = try_lock_file(lock)
        if fd is None:
            continue  # a live render
        try:
            if any(r.run_id == name for r in store.renders(bulletin_id)):
                continue  # recorded meanwhile, by a render that has just finished
            run = folder / name
            if run.is_dir() and not run.is_symlink():
                shutil.rmtree(run)
            removed.append(name)
        finally:
            unlock_file(lock, fd)
    return removed


@dataclass(frozen=True, slots=True)
class RenderResult:
    """One render of a stored bulletin: the programme, its renditions and captions, where they are."""

    bulletin_id: int
    run_id: str
    folder: Path
    programme: Programme
    renditions: tuple[Rendition, ...]
    captions: tuple[Path, ...]
    """The WebVTT and SRT files."""


def render_bulletin(workspace: Workspace, store: Store, bulletin_id: int, *, profiles: Sequence[str],
                    voice_id: str | None = None, registry: VoiceRegistry | None = None,
                    output_dir: Path | None = None, cancel: Event | None = None,
                    on_progress: ProgressCallback | None = None, actor: str = "studio") -> RenderResult:
    """Render stored bulletin `bulletin_id`: speech → programme → one rendition per profile + captions.

    Files go to `output_dir` (default `<workspace>/renders/bulletin-<id>/<run id>/`): `<profile>.<ext>`,
    `captions.vtt`, `captions.srt`. The renditions of a run are recorded in the render history in one
    transaction (a kill never leaves a run recorded in part); the audit log gets render.start,
    render.programme, one render.rendition per file, and render.done (or render.cancelled /
    render.failed with the reason). In the default folder, a render first removes the run folders of
    this bulletin that no row records and no live render owns (sweep_render_runs: what killed, failed
    or cancelled renders left).

    Args:
        workspace: the workspace (voices, cache, lexicon, templates, settings).
        store: its open store.
        bulletin_id: the bulletin.
        profiles: destination profile ids (studio.audio.profiles).
        voice_id: the voice (default: the settings' default voice).
        registry: voices to use (default: the workspace's).
        output_dir: where to write.
        cancel: set it to stop (between sentences and between renditions).
        on_progress: (fraction 0–1, what) — speech is the first 70 %, renditions the rest.
        actor: who asked, for the audit log.

    Raises:
        StoreError: no such bulletin. ConfigError: unknown profile, voice or asset. InputError: a
        profile this stage cannot write (mp4 belongs to the package stage). EngineError, AudioError.
        Cancelled: `cancel` was set (files of this run already written are left, and not recorded; in
        the default folder the next render of the bulletin removes them).
    """
    from studio.audio.profiles import get_profile

    if not profiles:
        raise InputError("render: no destination profile given")
    chosen = [get_profile(p) for p in profiles]  # unknown ids fail before any work
    for profile in chosen:
        if profile.container not in _SUFFIX:
            raise InputError(f"profile {profile.id!r}: container {profile.container!r} is made by the package "
                             "stage, not by `bulletin render`")
    stored = store.get_bulletin(bulletin_id)
    bulletin = stored.bulletin
    registry = registry or VoiceRegistry(workspace.voices_dir)
    voice_id = voice_id or workspace.settings.default_voice
    registry.get(voice_id)
    run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    runs = workspace.home / "renders" / f"bulletin-{bulletin_id}"
    lock: tuple[Path, int] | None = None
    if output_dir is None:
        runs.mkdir(parents=True, exist_ok=True)
        fd = own_lock_file(runs / f".{run_id}.lock")  # held from before the folder exists until recorded
        if fd is None:
            raise StudioError(f"{runs / run_id}: render run {run_id} is already being written by another process")
        lock = (runs / f".{run_id}.lock", fd)
    try:
        if lock is not None:
            sweep_render_runs(store, runs, bulletin_id)
        return _render_run(workspace, store, bulletin_id, bulletin, chosen, voice_id, registry, run_id,
                           output_dir or runs / run_id, cancel, on_progress, actor, profiles)
    finally:
        if lock is not None:
            unlock_file(*lock)


def _render_run(workspace: Workspace, store: Store, bulletin_id: int, bulletin: Bulletin,
                chosen: list[DestinationProfile], voice_id: str, registry: VoiceRegistry, run_id: str,
                folder: Path, cancel: Event | None, on_progress: ProgressCallback | None, actor: str,
                profiles: Sequence[str]) -> RenderResult:
    from studio.package.captions import write_captions

    folder.mkdir(parents=True, exist_ok=True)
    subject = f"bulletin:{bulletin_id}"
    store.audit(actor, "render.start", subject, {"run": run_id, "voice": voice_id, "profiles": list(profiles)})

    def progress(lo: float, hi: float) -> ProgressCallback | None:
        if on_progress is None:
            return None
        return lambda frac, what: on_progress(lo + (hi - lo) * frac, what)

    try:
        programme = render_workspace_programme(workspace, bulletin, registry, voice_id, cancel=cancel,
                                               on_progress=progress(0.0, 0.7))
        store.audit(actor, "render.programme", subject,
                    {"run": run_id, "duration_s": round(programme.duration_s, 3), "sentences": len(programme.cues),
                     "synthesized": programme.synthesized, "cached": programme.cached,
                     "fallbacks": list(programme.fallbacks)})
        captions = write_captions(programme.cues, folder / "captions")
        renditions: list[Rendition] = []
        for n, profile in enumerate(chosen):
            if cancel is not None and cancel.is_set():
                raise Cancelled("dựng bản tin đã bị huỷ")
            if on_progress is not None:
                on_progress(0.7 + 0.3 * n / len(chosen), f"bản {profile.id}")
            path = folder / f"{profile.id}{_SUFFIX[profile.container]}"
            renditions.append(render_rendition(programme, profile, path, title=bulletin.title))
        # One transaction for the whole run: killed half-way, a run is recorded completely or not at all.
        store.add_renders(bulletin_id,
                          [(r.profile.id, r.path, r.report.duration_s, r.report.integrated_lufs,
                            r.report.true_peak_dbtp) for r in renditions],
                          voice_id=voice_id, run_id=run_id, captions=captions,
                          synthesized=programme.synthesized, cached=programme.cached, actor=actor)
    except Cancelled:
        store.audit(actor, "render.cancelled", subject, {"run": run_id})
        raise
    except StudioError as exc:
        store.audit(actor, "render.failed", subject, {"run": run_id, "error": exc.message})
        raise
    store.audit(actor, "render.done", subject, {"run": run_id, "folder": str(folder)})
    if on_progress is not None:
        on_progress(1.0, "xong")
    return RenderResult(bulletin_id=bulletin_id, run_id=run_id, folder=folder, programme=programme,
                        renditions=tuple(renditions), captions=captions)
