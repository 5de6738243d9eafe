"""Speech for the pipeline: sentence by sentence, cached by content, with the offline fallback.

Owns: `synthesize_cached` (text → script units via studio.text → one engine call per sentence, or a
cached clip → engine padding trimmed → resampled to 48 kHz → joined with the front-end's pauses, with
per-sentence timings),
the online→offline fallback (recorded in `Rendered.fallback_from` and `notes`), and `SpeechCache`,
the content-addressed clip store in `<workspace cache>/speech/`. Must not import anything above the
tts stage (audio files are studio.audio's: clips here are numpy archives, not audio files).

A cache entry is one sentence ready for the programme (trimmed, at the output rate): a hit costs a
file read, no resampling. Each is a single `.clip` file (magic, JSON header, raw float32) written
atomically (temp + rename), so concurrent processes never see a torn clip; two processes making the
same clip both write the same content. Least recently used clips (by mtime, touched on every hit)
are evicted past the size bound.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from threading import Event
from typing import Any

import numpy as np

from studio.config import atomic_write_bytes
from studio.errors import ConfigError, EngineError, InputError, StorageError
from studio.models import VoiceProfile, nfc
from studio.tts.base import Rendered, SentenceTiming, check_cancel
from studio.tts.registry import VoiceRegistry

OUTPUT_RATE_HZ = 48000
"""Every render leaves here at the programme rate (DESIGN.md §3: the master is 48 kHz)."""
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
"""About 45 minutes of 48 kHz float32 speech or 100 minutes at espeak's 22.05 kHz."""
CACHE_FORMAT = 2
_MAGIC = b"STUDIO-CLIP\n"
_HEADER = struct.Struct("<I")  # length of the JSON header that follows the magic
_STALE_TEMP_S = 3600.0
# Options that change how a voice behaves on failure, not what it sounds like: not in the cache key.
_NON_AUDIO_OPTIONS = frozenset({"deadline_s", "retry_after_s"})
# Used only if studio.text is absent (it normalizes and splits with pauses when present).
_FALLBACK_PAUSES_S = {"sentence": 0.45, "paragraph": 0.8}
_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n")

ProgressCallback = Callable[[int, int], None]
"""on_progress(done, total): sentences finished so far, of all sentences."""


@dataclass(frozen=True, slots=True)
class ScriptUnit:
    """One sentence to speak: as written (for captions), as spoken (for the engine), then a pause."""

    written: str
    spoken: str
    pause_after_s: float


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What the speech cache holds."""

    folder: Path
    entries: int
    total_bytes: int
    max_bytes: int
    by_engine: dict[str, tuple[int, int]] = field(default_factory=dict)
    """engine → (entries, bytes)."""
    oldest_used: float | None = None
    """Unix time of the least recently used clip."""
    newest_used: float | None = None


class SpeechCache:
    """Content-addressed speech clips in one folder, bounded to `max_bytes` with LRU eviction.

    Args:
        folder: where clips live (`Workspace.cache_dir / "speech"`); created on first write.
        max_bytes: size bound enforced by `evict` (synthesize_cached calls it after each render).
    """

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"speech cache: max_bytes {max_bytes} must be positive")
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.hits = 0
        """Clips served from the cache by this instance."""
        self.misses = 0
        """Clips this instance had to synthesize."""
        self.unstored = 0
        """Clips not kept because the disk is full or read-only (the render used them all the same)."""

    @staticmethod
    def key(engine_version: str, voice: VoiceProfile, spoken: str, sample_rate: int = OUTPUT_RATE_HZ) -> str:
        """The clip's identity: engine + its version, the voice's sound parameters, the spoken text,
        and the rate it was resampled to."""
        payload = {
            "format": CACHE_FORMAT,
            "sample_rate": sample_rate,
            "engine": voice.engine,
            "engine_version": engine_version,
            "engine_voice": voice.engine_voice,
            "rate_wpm": voice.rate_wpm,
            "pitch": voice.pitch,
            "volume": voice.volume,
            "options": {k: v for k, v in sorted(voice.options.items()) if k not in _NON_AUDIO_OPTIONS},
            "text": nfc(spoken),
        }
        blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def path_for(self, engine: str, key: str) -> Path:
        return self.folder / engine / key[:2] / f"{key}.clip"

    def get(self, engine: str, key: str) -> Rendered | None:
        """The cached clip, or None. A corrupt or foreign file counts as a miss and is removed."""
        path = self.path_for(engine, key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            samples, meta = _decode_clip(data)
            if meta.get("key") != key or samples.size != int(meta["samples"]):
                raise ValueError("not this clip")
            rendered = Rendered(samples=samples, sample_rate=int(meta["sample_rate"]),
                                voice_id=str(meta["voice_id"]), engine=engine,
                                timings=tuple(SentenceTiming(t, s, e) for t, s, e in meta["timings"]))
        except (ValueError, KeyError, TypeError, struct.error, UnicodeDecodeError):
            try:
                path.unlink(missing_ok=True)  # torn or foreign: a miss, made again
            except OSError:
                pass  # a read-only workspace: still a miss
            return None
        try:
            os.utime(path)  # LRU: mtime is the last use
        except OSError:
            pass  # evicted by another process after we read it, or a read-only workspace: the clip is good
        return rendered

    def put(self, key: str, rendered: Rendered) -> Path:
        """Store a clip atomically; returns its path.

        Raises:
            DiskFullError, ReadOnlyError: the cache folder's disk is full or read-only; nothing is left
                behind (no temp file), and clips stored before are untouched.
        """
        samples = np.ascontiguousarray(rendered.samples, dtype="<f4")
        meta = {
            "format": CACHE_FORMAT, "key": key, "engine": rendered.engine, "voice_id": rendered.voice_id,
            "sample_rate": rendered.sample_rate, "samples": int(samples.size),
            "timings": [[t.text, t.start_s, t.end_s] for t in rendered.timings],
        }
        header = json.dumps(meta, ensure_ascii=False).encode("utf-8")
        path = self.path_for(rendered.engine, key)
        atomic_write_bytes(path, _MAGIC + _HEADER.pack(len(header)) + header + samples.tobytes())
        return path

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every clip; removes temp files left by crashed writers."""
        out: list[tuple[float, int, Path]] = []
        if not self.folder.is_dir():
            return out
        now = time.time()
        for path in self.folder.glob("*/*/*"):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if path.name.endswith(".clip") and not path.name.startswith("."):
                out.append((st.st_mtime, st.st_size, path))
            elif path.name.endswith(".tmp") and now - st.st_mtime > _STALE_TEMP_S:
                try:
                    path.unlink(missing_ok=True)
                except OSError:
                    pass  # a read-only workspace: left for a later run
        return out

    def evict(self) -> int:
        """Remove least recently used clips until the folder fits in `max_bytes`; returns bytes freed."""
        entries = sorted(self._entries())
        total = sum(size for _, size, _ in entries)
        freed = 0
        for _, size, path in entries:
            if total - freed <= self.max_bytes:
                break
            try:
                path.unlink(missing_ok=True)
            except OSError:  # a read-only workspace: nothing can be freed now (it runs in a finally)
                break
            freed += size
        return freed

    def clear(self) -> int:
        """Remove every clip; returns how many."""
        entries = self._entries()
        for _, _, path in entries:
            path.unlink(missing_ok=True)
        return len(entries)

    def stats(self) -> CacheStats:
        entries = self._entries()
        by_engine: dict[str, tuple[int, int]] = {}
        for _, size, path in entries:
            engine = path.parent.parent.name
            n, b = by_engine.get(engine, (0, 0))
            by_engine[engine] = (n + 1, b + size)
        times = [m for m, _, _ in entries]
        return CacheStats(folder=self.folder, entries=len(entries), total_bytes=sum(s for _, s, _ in entries),
                          max_bytes=self.max_bytes, by_engine=dict(sorted(by_engine.items())),
                          oldest_used=min(times, default=None), newest_used=max(times, default=None))


def _decode_clip(data: bytes) -> tuple[np.ndarray, dict[str, Any]]:
    if not data.startswith(_MAGIC):
        raise ValueError("not a studio clip")
    (size,) = _HEADER.unpack_from(data, len(_MAGIC))
    start = len(_MAGIC) + _HEADER.size
    meta = json.loads(data[start:start + size].decode("utf-8"))
    if meta.get("format") != CACHE_FORMAT:
        raise ValueError("another cache format")
    body = data[start + size:]
    if len(body) % 4:
        raise ValueError("torn samples")
    return np.frombuffer(body, dtype="<f4").astype(np.float32, copy=False), meta


def script_units(text: str, region: str, lexicon: Any = None) -> tuple[tuple[ScriptUnit, ...], str]:
    """Split `text` into sentences with their pauses and spoken forms (studio.text's `sentences` and
    `normalize`, with `lexicon` = the workspace's, or None for the shipped one).

    Returns:
        The units (those with nothing to say dropped) and a note ('' when the text front-end was used).
    """
    text = nfc(text)
    try:
        from studio.text import normalize, sentences
    except ImportError:  # the text stage missing from an install: read the text as written
        units = [ScriptUnit(s, s, pause) for s, pause in _plain_sentences(text)]
        note = "studio.text is not available: text read as written"
    else:
        units, note = [], ""
        for sentence in sentences(text):
            spoken = nfc(normalize(sentence.text, region, lexicon)).strip()
            units.append(ScriptUnit(sentence.text.strip(), spoken, float(sentence.pause_s)))
    # A unit with no letter or digit (a stray "…", a bullet) has nothing to say.
    return tuple(u for u in units if any(ch.isalnum() for ch in u.spoken)), note


def _plain_sentences(text: str) -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    for paragraph in _PARAGRAPH.split(text.strip()):
        parts = [p.strip() for p in _SENTENCE_END.split(paragraph) if p.strip()]
        for k, part in enumerate(parts):
            last = k == len(parts) - 1
            out.append((part, _FALLBACK_PAUSES_S["paragraph" if last else "sentence"]))
    return out


def trim_silence(samples: np.ndarray, rate_hz: int, *, threshold_dbfs: float = -50.0,
                 margin_s: float = 0.02) -> np.ndarray:
    """Cut an engine's leading and trailing silence (keeping `margin_s`): pauses between sentences
    come from the text front-end, the same for every engine, not from each engine's padding."""
    loud = np.flatnonzero(np.abs(samples) > 10 ** (threshold_dbfs / 20))
    if loud.size == 0:
        return samples
    margin = int(margin_s * rate_hz)
    return samples[max(loud[0] - margin, 0):min(loud[-1] + 1 + margin, samples.size)]


def resample(samples: np.ndarray, rate_hz: int, target_hz: int) -> np.ndarray:
    """Resample mono float32 with libsoxr's high-quality filter."""
    if rate_hz == target_hz or samples.size == 0:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    return np.asarray(soxr.resample(samples, rate_hz, target_hz, quality="HQ"), dtype=np.float32)


def synthesize_cached(registry: VoiceRegistry, voice_id: str, text: str, cache_dir: Path | SpeechCache | None,
                      *, cancel: Event | None = None, on_progress: ProgressCallback | None = None,
                      allow_fallback: bool = True, sample_rate: int = OUTPUT_RATE_HZ,
                      lexicon: Any = None) -> Rendered:
    """Speak `text` with `voice_id` sentence by sentence, reusing cached clips, at `sample_rate`.

    When the voice fails (no network, deadline passed, model missing…) and it names a `fallback`
    voice, the whole text is read by the fallback instead (one voice per render), and the result's
    `fallback_from` names the voice that failed; `notes` says why.

    Args:
        registry: the workspace's voices.
        voice_id: the voice to use.
        text: the written text (NFC'd here; studio.text turns it into spoken form per sentence).
        cache_dir: the workspace cache folder (clips go in its `speech/` folder), a SpeechCache, or
            None to synthesize everything afresh.
        cancel: set it to stop between sentences (and inside gTTS's wait).
        on_progress: called with (done, total) sentences.
        allow_fallback: False to fail instead of falling back (`studio voices test`).
        sample_rate: output rate; 48 kHz by default.
        lexicon: the workspace's `studio.text.Lexicon` (load_lexicon), or None for the shipped one.

    Returns:
        Mono float32 at `sample_rate`, with one timing per sentence (the written text, start and end
        excluding the pause after it).

    Raises:
        ConfigError: unknown voice id (the message lists the voices), or a bad profile option.
        InputError: nothing to say (empty text, or only punctuation).
        EngineError: the voice failed and no fallback could read the text either.
        Cancelled: `cancel` was set.
    """
    voice = registry.get(voice_id)
    if not nfc(text).strip():
        raise InputError(f"voice {voice_id!r}: nothing to say (the text is empty)")
    cache = SpeechCache(cache_dir / "speech") if isinstance(cache_dir, Path) else cache_dir
    failures: list[str] = []
    tried = {voice.id}
    current = voice
    try:
        while True:
            try:
                rendered = _render(registry, current, text, cache, cancel, on_progress, sample_rate, lexicon)
                break
            except EngineError as exc:
                failures.append(exc.message)
                nxt = current.fallback
                if not allow_fallback or not nxt or nxt in tried:
                    if len(failures) == 1:
                        raise
                    raise EngineError("no voice could read the text: " + "; ".join(failures)) from exc
                try:
                    current = registry.get(nxt)
                except ConfigError as missing:
                    raise EngineError("; ".join(failures) + f"; fallback: {missing.message}") from exc
                tried.add(current.id)
    finally:
        if cache is not None and cache.misses:
            cache.evict()
    if current.id == voice.id:
        return rendered
    note = f"{voice.id} failed ({'; '.join(failures)}); read by {current.id} instead"
    return replace(rendered, fallback_from=voice.id, notes=rendered.notes + (note,))


def _render(registry: VoiceRegistry, voice: VoiceProfile, text: str, cache: SpeechCache | None,
            cancel: Event | None, on_progress: ProgressCallback | None, sample_rate: int,
            lexicon: Any) -> Rendered:
    units, note = script_units(text, voice.region, lexicon)
    if not units:
        raise InputError(f"voice {voice.id!r}: nothing to say (the text has no words)")
    engine = registry.engine_for(voice)
    ok, why = engine.voice_status(voice)
    if not ok:
        raise EngineError(f"{engine.name}: voice {voice.id!r}: {why}")
    version = engine.version(voice) if cache is not None else ""
    pieces: list[np.ndarray] = []
    timings: list[SentenceTiming] = []
    position = 0
    for done, unit in enumerate(units):
        check_cancel(cancel)
        clip: Rendered | None = None
        key = ""
        if cache is not None:
            key = cache.key(version, voice, unit.spoken, sample_rate)
            clip = cache.get(engine.name, key)
        if clip is None:
            raw = engine.synthesize(unit.spoken, voice, cancel=cancel)
            ready = resample(trim_silence(raw.samples, raw.sample_rate), raw.sample_rate, sample_rate)
            clip = replace(raw, samples=ready, sample_rate=sample_rate,
                           timings=(SentenceTiming(unit.spoken, 0.0, ready.size / sample_rate),))
            if cache is not None:
                cache.misses += 1
                try:
                    cache.put(key, clip)
                except StorageError:  # a full or read-only cache disk: the clip is good, only not kept
                    cache.unstored += 1
        elif cache is not None:
            cache.hits += 1
        audio = clip.samples
        end = position + audio.size
        timings.append(SentenceTiming(unit.written, position / sample_rate, end / sample_rate))
        pieces.append(audio)
        position += audio.size
        if done < len(units) - 1:
            gap = int(round(unit.pause_after_s * sample_rate))
            pieces.append(np.zeros(gap, dtype=np.float32))
            position += gap
        if on_progress is not None:
            on_progress(done + 1, len(units))
    samples = np.concatenate(pieces).astype(np.float32, copy=False)
    peak = float(np.max(np.abs(samples)))
    if peak > 1.0:
        # Resampling a full-scale engine (espeak) overshoots by a fraction of a dB: scale, don't clip;
        # the loudness stage sets the final level anyway.
        samples = (samples / peak).astype(np.float32)
    return Rendered(samples=samples, sample_rate=sample_rate, voice_id=voice.id, engine=engine.name,
                    timings=tuple(timings), notes=(note,) if note else ())
