"""Mixing: channel conversion, fades, concatenation with gaps or crossfades, running-order assembly
(jingles never overlap speech), and a music bed ducked under speech.

Owns: sample-array arithmetic for building a programme. All functions take and return float32
arrays of shape (n,) or (n, ch) at one sample rate (resample in io.py first). No file I/O; must
not import textual, the TUI or the speech engines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import maximum_filter1d
from scipy.signal import lfilter

from studio.audio.loudness import _as_2d, _check_rate
from studio.errors import AudioFormatError, InputError

__all__ = [
    "Clip",
    "Placement",
    "assemble",
    "concat",
    "duck",
    "fade",
    "mix_bed",
    "silence",
    "to_channels",
]

CLIP_KINDS = ("speech", "jingle", "bed", "silence")


def _restore(y: NDArray, mono: bool) -> NDArray[np.float32]:
    y = y.astype(np.float32, copy=False)
    return y[:, 0] if mono and y.ndim == 2 and y.shape[1] == 1 else y


def silence(duration_s: float, rate: int, channels: int = 1) -> NDArray[np.float32]:
    """Digital silence.

    Args:
        duration_s: length in seconds (0 … 3600).
        rate: sample rate in Hz.
        channels: 1 gives shape (n,), more gives (n, channels).

    Returns:
        float32 zeros.

    Raises:
        InputError: negative or absurd duration.
    """
    rate = _check_rate(rate)
    if not (math.isfinite(duration_s) and 0.0 <= duration_s <= 3600.0):
        raise InputError(f"silence duration {duration_s} s is outside 0…3600 s")
    n = round(duration_s * rate)
    return np.zeros(n if channels == 1 else (n, channels), dtype=np.float32)


def to_channels(samples: NDArray, channels: int) -> NDArray[np.float32]:
    """Convert mono ↔ stereo (mono → both channels equal; stereo → mono is the mean).

    Args:
        samples: float array (n,) or (n, ch).
        channels: 1 or 2.

    Returns:
        float32, shape (n,) for 1 channel, (n, 2) for 2.

    Raises:
        AudioFormatError: other channel counts (5.0/5.1 down-mixing is not defined here).
    """
    x = _as_2d(samples)
    if channels not in (1, 2):
        raise AudioFormatError(f"to_channels: target of {channels} channels; expected 1 or 2")
    have = x.shape[1]
    if have not in (1, 2):
        raise AudioFormatError(f"to_channels: input has {have} channels; only mono and stereo convert")
    if channels == 1:
        return (x.mean(axis=1) if have == 2 else x[:, 0]).astype(np.float32)
    return np.repeat(x, 2, axis=1).astype(np.float32) if have == 1 else x.astype(np.float32)


def fade(samples: NDArray, rate: int, *, fade_in_s: float = 0.0, fade_out_s: float = 0.0,
         curve: str = "cosine") -> NDArray[np.float32]:
    """Fade the start and/or end.

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        fade_in_s: fade-in length (clamped to the clip length).
        fade_out_s: fade-out length (clamped to the clip length).
        curve: 'cosine' (raised cosine, smooth) or 'linear'.

    Returns:
        float32 copy of the same shape.

    Raises:
        InputError: negative lengths or an unknown curve.
    """
    rate = _check_rate(rate)
    if fade_in_s < 0 or fade_out_s < 0:
        raise InputError(f"fade lengths must be ≥ 0 s, got in={fade_in_s} out={fade_out_s}")
    if curve not in ("cosine", "linear"):
        raise InputError(f"fade curve {curve!r}: expected 'cosine' or 'linear'")
    x = _as_2d(samples).astype(np.float32, copy=True)
    n = x.shape[0]
    for length_s, rising in ((fade_in_s, True), (fade_out_s, False)):
        m = min(n, round(length_s * rate))
        if m == 0:
            continue
        ramp = _ramp(m, curve)
        if rising:
            x[:m] *= ramp[:, None]
        else:
            x[n - m:] *= ramp[::-1, None]
    return _restore(x, np.asarray(samples).ndim == 1)


def _ramp(m: int, curve: str) -> NDArray[np.float32]:
    t = (np.arange(m, dtype=np.float64) + 0.5) / m
    r = t if curve == "linear" else 0.5 - 0.5 * np.cos(np.pi * t)
    return r.astype(np.float32)


def concat(parts: Sequence[NDArray], rate: int, *, gap_s: float | Sequence[float] = 0.0,
           crossfade_s: float = 0.0) -> NDArray[np.float32]:
    """Join clips end to end, with silence between them or an equal-power crossfade.

    Args:
        parts: clips, all mono (n,) or all with the same channel count (mono clips are
            up-mixed when the others are stereo).
        rate: sample rate in Hz.
        gap_s: silence between consecutive clips, one value for all junctions or one per junction.
        crossfade_s: overlap consecutive clips by this much with an equal-power (sine/cosine)
            crossfade; only at junctions whose gap is 0, and clamped to the shorter clip.

    Returns:
        float32 array; (n,) when every part is mono.

    Raises:
        InputError: negative gap/crossfade, or a wrong number of per-junction gaps.
        AudioFormatError: parts with incompatible channel counts.
    """
    rate = _check_rate(rate)
    if not parts:
        return np.zeros(0, dtype=np.float32)
    gaps = [float(gap_s)] * (len(parts) - 1) if isinstance(gap_s, (int, float)) else [float(g) for g in gap_s]
    if len(gaps) != len(parts) - 1:
        raise InputError(f"concat: {len(gaps)} gaps given for {len(parts) - 1} junctions")
    if any(g < 0 or not math.isfinite(g) for g in gaps) or crossfade_s < 0:
        raise InputError(f"concat: gaps and crossfade must be ≥ 0 s (gaps={gaps}, crossfade={crossfade_s})")
    arrays = [_as_2d(p) for p in parts]
    channels = max(a.shape[1] for a in arrays)
    if channels > 2 and any(a.shape[1] != channels for a in arrays):
        raise AudioFormatError(f"concat: parts have different channel counts {[a.shape[1] for a in arrays]}")
    arrays = [a if a.shape[1] == channels else np.repeat(a, channels, axis=1) for a in arrays]
    mono = all(np.asarray(p).ndim == 1 for p in parts)
    out = arrays[0].astype(np.float32)
    for a, gap in zip(arrays[1:], gaps, strict=True):
        a = a.astype(np.float32)
        m = min(round(crossfade_s * rate), out.shape[0], a.shape[0]) if gap == 0 else 0
        if m > 0:
            t = (np.arange(m) + 0.5) / m
            fade_out = np.cos(0.5 * np.pi * t).astype(np.float32)[:, None]
            fade_in = np.sin(0.5 * np.pi * t).astype(np.float32)[:, None]
            overlap = out[-m:] * fade_out + a[:m] * fade_in
            out = np.concatenate([out[:-m], overlap, a[m:]])
        else:
            pad = np.zeros((round(gap * rate), channels), dtype=np.float32)
            out = np.concatenate([out, pad, a])
    return _restore(out, mono)


@dataclass(frozen=True, slots=True)
class Clip:
    """One entry of a running order for `assemble`."""

    samples: NDArray[np.float32]
    kind: str = "speech"
    """'speech', 'jingle' or 'silence'."""
    gap_after_s: float | None = None
    """Silence after this clip (None: the default gap of `assemble`)."""
    crossfade_s: float = 0.0
    """Overlap with the next clip; honoured only between two non-speech clips (jingle → jingle)."""

    def __post_init__(self) -> None:
        if self.kind not in ("speech", "jingle", "silence"):
            raise InputError(f"clip kind {self.kind!r}: expected speech, jingle or silence")


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a clip landed on the assembled timeline."""

    index: int
    kind: str
    start_s: float
    end_s: float


def assemble(clips: Sequence[Clip], rate: int, *, gap_s: float = 0.4,
             jingle_gap_s: float = 0.3) -> tuple[NDArray[np.float32], tuple[Placement, ...]]:
    """Lay a running order out on one timeline. Jingles never overlap speech.

    Speech and jingles are placed strictly one after another: a crossfade is honoured only between
    two non-speech clips, and at least `jingle_gap_s` of silence separates a jingle from speech
    (jingle tails are faded out over that gap's length if they would ring into it).

    Args:
        clips: the running order.
        rate: sample rate in Hz.
        gap_s: default silence after a clip.
        jingle_gap_s: minimum silence between a jingle and speech.

    Returns:
        (samples, placements): float32 audio (mono unless a clip is stereo) and one Placement per clip.

    Raises:
        InputError: negative gaps.
        AudioFormatError: clips with incompatible channel counts.
    """
    rate = _check_rate(rate)
    if gap_s < 0 or jingle_gap_s < 0:
        raise InputError(f"assemble: gaps must be ≥ 0 s (gap_s={gap_s}, jingle_gap_s={jingle_gap_s})")
    if not clips:
        return np.zeros(0, dtype=np.float32), ()
    arrays = [_as_2d(c.samples) for c in clips]
    channels = max(a.shape[1] for a in arrays)
    if channels > 2:
        raise AudioFormatError(f"assemble: clips must be mono or stereo, got {channels} channels")
    arrays = [np.repeat(a, channels, axis=1) if a.shape[1] != channels else a for a in arrays]
    out = np.zeros((0, channels), dtype=np.float32)
    placements: list[Placement] = []
    for i, (clip, a) in enumerate(zip(clips, arrays, strict=True)):
        a = a.astype(np.float32)
        prev = clips[i - 1] if i else None
        overlap = 0
        if prev is not None and prev.kind != "speech" and clip.kind != "speech" and prev.crossfade_s > 0:
            overlap = min(round(prev.crossfade_s * rate), out.shape[0], a.shape[0])
        start = out.shape[0] - overlap
        if overlap:
            t = (np.arange(overlap) + 0.5) / overlap
            fade_out = np.cos(0.5 * np.pi * t)[:, None]
            fade_in = np.sin(0.5 * np.pi * t)[:, None]
            mixed = out[start:] * fade_out + a[:overlap] * fade_in
            out = np.concatenate([out[:start], mixed.astype(np.float32), a[overlap:]])
        else:
            out = np.concatenate([out, a])
        placements.append(Placement(i, clip.kind, start / rate, out.shape[0] / rate))
        nxt = clips[i + 1] if i + 1 < len(clips) else None
        if nxt is None or (clip.kind != "speech" and nxt.kind != "speech" and clip.crossfade_s > 0):
            continue
        gap = gap_s if clip.gap_after_s is None else clip.gap_after_s
        if "jingle" in (clip.kind, nxt.kind) and "speech" in (clip.kind, nxt.kind):
            gap = max(gap, jingle_gap_s)
        out = np.concatenate([out, np.zeros((round(gap * rate), channels), dtype=np.float32)])
    return _restore(out, channels == 1), tuple(placements)


def _envelope_db(x: NDArray, rate: int, window_s: float = 0.02) -> NDArray[np.float64]:
    """Short-time level (dB of mean square over `window_s`, max over channels)."""
    power = (x.astype(np.float64) ** 2).max(axis=1)
    a = math.exp(-1.0 / (window_s * rate))
    smoothed = lfilter([1.0 - a], [1.0, -a], power)
    return 10.0 * np.log10(np.maximum(smoothed, 1e-20))


def duck(bed: NDArray, speech: NDArray, rate: int, *, depth_db: float = -12.0, threshold_db: float = -45.0,
         attack_s: float = 0.08, release_s: float = 0.6, hold_s: float = 0.25) -> NDArray[np.float32]:
    """Lower a music bed while speech is present (side-chain ducking).

    The side chain is the speech's short-time level: where it is above `threshold_db` (plus
    `hold_s` either side, so the bed does not pump between words) the bed is turned down by
    `depth_db`. The gain moves with first-order attack/release smoothing. The bed stays audible:
    depth is limited to −40 … −3 dB.

    Args:
        bed: music bed, same rate; looped or trimmed to the speech length.
        speech: the side-chain signal.
        rate: sample rate in Hz.
        depth_db: gain applied to the bed under speech (−40 … −3 dB).
        threshold_db: speech level (dBFS, 20 ms mean square) that counts as "speaking".
        attack_s: time constant of the duck (0.005 … 2 s).
        release_s: time constant of the recovery (0.02 … 5 s).
        hold_s: how long the duck is held after/before speech (0 … 2 s).

    Returns:
        float32 bed of the speech's length and the bed's channel count.

    Raises:
        InputError: a parameter is out of range, or the bed is empty.
    """
    rate = _check_rate(rate)
    checks = ((depth_db, -40.0, -3.0, "depth_db"), (attack_s, 0.005, 2.0, "attack_s"),
              (release_s, 0.02, 5.0, "release_s"), (hold_s, 0.0, 2.0, "hold_s"),
              (threshold_db, -90.0, 0.0, "threshold_db"))
    for value, low, high, name in checks:
        if not low <= value <= high:
            raise InputError(f"duck: {name} {value} is outside {low:g}…{high:g}")
    b = _as_2d(bed)
    s = _as_2d(speech)
    if b.shape[0] == 0:
        raise InputError("duck: the music bed is empty")
    n = s.shape[0]
    reps = -(-n // b.shape[0])
    b = np.tile(b, (reps, 1))[:n] if reps > 1 else b[:n]
    active = (_envelope_db(s, rate) > threshold_db).astype(np.float64)
    hold = 2 * round(hold_s * rate) + 1
    if hold > 1:
        active = maximum_filter1d(active, size=hold, mode="constant")
    target_db = active * depth_db
    # Two one-pole followers of the target: the fast one leads when the gain falls (attack), the
    # slow one lags when it rises (release), so their minimum has both time constants.
    a_att = math.exp(-1.0 / (attack_s * rate))
    a_rel = math.exp(-1.0 / (release_s * rate))
    fast = lfilter([1.0 - a_att], [1.0, -a_att], target_db)
    slow = lfilter([1.0 - a_rel], [1.0, -a_rel], target_db)
    gain_db = np.clip(np.minimum(fast, slow), depth_db, 0.0)
    return _restore(b * (10.0 ** (gain_db / 20.0))[:, None], np.asarray(bed).ndim == 1)


def mix_bed(speech: NDArray, bed: NDArray, rate: int, *, bed_level_db: float = -18.0,
            **duck_options: float) -> NDArray[np.float32]:
    """Speech over a music bed: bed attenuated by `bed_level_db`, ducked under speech, summed.

    Args:
        speech: the foreground.
        bed: music bed (looped or trimmed to the speech length).
        rate: sample rate in Hz.
        bed_level_db: bed gain before ducking (−60 … 0 dB).
        **duck_options: passed to `duck` (depth_db, threshold_db, attack_s, release_s, hold_s).

    Returns:
        float32 sum with the speech's length; stereo if either input is.

    Raises:
        InputError: bad levels or duck options.
    """
    if not -60.0 <= bed_level_db <= 0.0:
        raise InputError(f"mix_bed: bed_level_db {bed_level_db} is outside −60…0 dB")
    ducked = _as_2d(duck(bed, speech, rate, **duck_options)) * 10.0 ** (bed_level_db / 20.0)
    s = _as_2d(speech)
    channels = max(s.shape[1], ducked.shape[1])
    if channels > 2:
        raise AudioFormatError("mix_bed: only mono and stereo inputs are supported")
    s = np.repeat(s, channels, axis=1) if s.shape[1] != channels else s
    ducked = np.repeat(ducked, channels, axis=1) if ducked.shape[1] != channels else ducked
    return _restore(s + ducked, channels == 1)
