"""Dynamics: a look-ahead true-peak limiter, a gentle speech compressor, loudness normalization.

Owns: gain computation on sample arrays. Normalization is measure → gain → true-peak limit →
re-measure, repeated until the integrated loudness lands within ±0.05 LU of the target with the true
peak at or below the ceiling (both read with our BS.1770 meter). No file I/O here (see io.py); must
not import textual, the TUI or the speech engines.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import minimum_filter1d, uniform_filter1d
from scipy.signal import lfilter

from studio.audio.loudness import LoudnessReport, _as_2d, _check_rate, measure, true_peak_envelope
from studio.errors import AudioError, AudioFormatError, InputError

__all__ = [
    "MAX_TARGET_LUFS",
    "MIN_TARGET_LUFS",
    "apply_gain_db",
    "compress",
    "limit_true_peak",
    "normalize",
]

MIN_TARGET_LUFS = -60.0
MAX_TARGET_LUFS = -5.0
MIN_CEILING_DBTP = -20.0
MAX_CEILING_DBTP = 0.0
NORMALIZE_TOLERANCE_LU = 0.04
"""Normalization stops when |measured − target| ≤ this (leaves room in the ±0.1 LU promise for
other meters, which read a few hundredths apart on programme material)."""
_LIMIT_MARGIN_DB = 0.01
"""The limiter aims this far below the ceiling, so float32 rounding cannot read as an over."""


def _restore_shape(y: NDArray, like: NDArray) -> NDArray[np.float32]:
    y = y.astype(np.float32, copy=False)
    return y[:, 0] if np.asarray(like).ndim == 1 else y


def _finite_check(x: NDArray) -> None:
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise AudioFormatError(f"samples contain NaN/Inf values (first at frame {bad})")


def apply_gain_db(samples: NDArray, gain_db: float) -> NDArray[np.float32]:
    """Scale samples by `gain_db` decibels.

    Args:
        samples: float array (n,) or (n, ch).
        gain_db: gain in dB (negative attenuates).

    Returns:
        float32 array of the same shape.
    """
    if not math.isfinite(gain_db):
        raise InputError(f"gain_db must be finite, got {gain_db!r}")
    return (np.asarray(samples, dtype=np.float64) * 10.0 ** (gain_db / 20.0)).astype(np.float32)


def limit_true_peak(samples: NDArray, rate: int, *, ceiling_dbtp: float, lookahead_ms: float = 3.0,
                    release_ms: float = 80.0) -> NDArray[np.float32]:
    """Look-ahead true-peak limiter: afterwards no interpolated peak exceeds the ceiling.

    The gain needed at each frame comes from the BS.1770 Annex 2 true-peak envelope (channels
    linked). A centred minimum filter then a moving average of the same width (the look-ahead)
    turn it into a smooth gain that starts falling `lookahead_ms` before each peak and is never
    above the needed gain; a one-pole release (in dB) smooths recovery. The result is checked with
    the true-peak meter and the ceiling tightened by the measured overshoot if gain modulation made
    a new inter-sample over (rare; at most three passes).

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        ceiling_dbtp: maximum true peak in dBTP (−20 … 0).
        lookahead_ms: attack/look-ahead time (0.5 … 20 ms).
        release_ms: release time constant (5 … 2000 ms).

    Returns:
        float32 array of the same shape.

    Raises:
        InputError: a parameter is out of range.
        AudioFormatError: bad shape or NaN/Inf samples.
    """
    rate = _check_rate(rate)
    if not MIN_CEILING_DBTP <= ceiling_dbtp <= MAX_CEILING_DBTP:
        raise InputError(
            f"true-peak ceiling {ceiling_dbtp} dBTP is outside "
            f"{MIN_CEILING_DBTP:g}…{MAX_CEILING_DBTP:g} dBTP")
    if not 0.5 <= lookahead_ms <= 20.0:
        raise InputError(f"lookahead_ms {lookahead_ms} is outside 0.5…20 ms")
    if not 5.0 <= release_ms <= 2000.0:
        raise InputError(f"release_ms {release_ms} is outside 5…2000 ms")
    x = _as_2d(samples).astype(np.float64)
    _finite_check(x)
    if x.shape[0] == 0:
        return _restore_shape(x, samples)
    envelope = true_peak_envelope(x, rate)  # computed once: the check and the needed gain both use it
    if float(envelope.max()) <= 10.0 ** (ceiling_dbtp / 20.0):
        return _restore_shape(x, samples)
    width = 2 * max(1, round(lookahead_ms * rate / 1000.0)) + 1
    a = math.exp(-1.0 / (release_ms * rate / 1000.0))
    aim = 10.0 ** ((ceiling_dbtp - _LIMIT_MARGIN_DB) / 20.0)

    def smoothed(needed: NDArray[np.float64]) -> NDArray[np.float64]:
        # min over ±W then mean over ±W: each average only uses minima whose window covers n, so the
        # smoothed gain is ≤ needed[n] everywhere (no overs) while ramping over the look-ahead.
        held = minimum_filter1d(needed, size=width, mode="nearest")
        return uniform_filter1d(held, size=width, mode="nearest")

    reduction_db = -20.0 * np.log10(np.minimum(smoothed(np.minimum(1.0, aim / np.maximum(envelope, 1e-12))), 1.0))
    released = lfilter([1.0 - a], [1.0, -a], reduction_db)
    gain = 10.0 ** (-np.maximum(reduction_db, released) / 20.0)
    over_db = 0.0
    for _ in range(4):
        y = x * gain[:, None]
        env = true_peak_envelope(y, rate)
        over_db = 20.0 * math.log10(max(float(env.max()), 1e-12)) - ceiling_dbtp
        if over_db <= 0.0:
            return _restore_shape(y, samples)
        # gain modulation made a new inter-sample peak: pull the gain down around it only, so the
        # correction (and the loudness) changes smoothly with the input level
        gain = gain * np.minimum(1.0, smoothed(np.minimum(1.0, aim / np.maximum(env, 1e-12))))
    raise AudioError(f"true-peak limiter could not bring the signal under {ceiling_dbtp} dBTP "
                     f"(still {over_db:.2f} dB over after 4 passes)")


def compress(samples: NDArray, rate: int, *, threshold_lu: float = -6.0, ratio: float = 2.0,
             knee_db: float = 6.0, attack_ms: float = 15.0, release_ms: float = 250.0) -> NDArray[np.float32]:
    """Gentle speech compressor (feed-forward RMS detector, soft knee, attack/release smoothing).

    The threshold is relative to the signal's own integrated loudness, so the same settings work on
    any input level: with the defaults, passages more than 6 dB below the programme loudness are
    untouched and louder syllables are reduced at 2:1. No make-up gain (normalize afterwards).

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        threshold_lu: threshold relative to the integrated loudness, in LU (−30 … 0).
        ratio: compression ratio above the threshold (1 … 10).
        knee_db: soft-knee width in dB (0 … 20).
        attack_ms: attack time constant (1 … 200 ms).
        release_ms: release time constant (20 … 3000 ms).

    Returns:
        float32 array of the same shape.

    Raises:
        InputError: a parameter is out of range.
        AudioFormatError: bad shape, NaN/Inf, or zero-length audio.
    """
    rate = _check_rate(rate)
    checks = ((threshold_lu, -30.0, 0.0, "threshold_lu"), (ratio, 1.0, 10.0, "ratio"),
              (knee_db, 0.0, 20.0, "knee_db"), (attack_ms, 1.0, 200.0, "attack_ms"),
              (release_ms, 20.0, 3000.0, "release_ms"))
    for value, low, high, name in checks:
        if not low <= value <= high:
            raise InputError(f"compressor {name} {value} is outside {low:g}…{high:g}")
    x = _as_2d(samples).astype(np.float64)
    _finite_check(x)
    report = measure(x, rate, true_peak=False)
    if not math.isfinite(report.integrated_lufs) or ratio == 1.0:
        return _restore_shape(x, samples)
    hop = max(1, round(0.005 * rate))  # 5 ms detector frames
    n = x.shape[0]
    frames = -(-n // hop)
    power = np.zeros(frames * hop)
    power[:n] = (x * x).mean(axis=1)
    level_db = 10.0 * np.log10(power.reshape(frames, hop).mean(axis=1) + 1e-20) + 3.01  # sine RMS ≈ peak
    threshold_db = report.integrated_lufs + threshold_lu
    over = level_db - threshold_db
    slope = 1.0 - 1.0 / ratio
    half = knee_db / 2.0
    reduction = np.where(over <= -half, 0.0,
                         np.where(over >= half, slope * over,
                                  slope * (over + half) ** 2 / (2.0 * knee_db) if knee_db > 0 else 0.0))
    a_att = math.exp(-hop / (attack_ms * rate / 1000.0))
    a_rel = math.exp(-hop / (release_ms * rate / 1000.0))
    smoothed = np.empty(frames)
    state = 0.0
    for i, target in enumerate(reduction.tolist()):  # ~200 iterations per second of audio
        coef = a_att if target > state else a_rel
        state = coef * state + (1.0 - coef) * target
        smoothed[i] = state
    centres = (np.arange(frames) + 0.5) * hop
    gain_db = -np.interp(np.arange(n), centres, smoothed)
    return _restore_shape(x * (10.0 ** (gain_db / 20.0))[:, None], samples)


def _check_targets(target_lufs: float, true_peak_dbtp: float) -> None:
    if not (isinstance(target_lufs, (int, float)) and math.isfinite(target_lufs)
            and MIN_TARGET_LUFS <= target_lufs <= MAX_TARGET_LUFS):
        raise InputError(f"target loudness {target_lufs!r} LUFS is outside "
                         f"{MIN_TARGET_LUFS:g}…{MAX_TARGET_LUFS:g} LUFS")
    if not (isinstance(true_peak_dbtp, (int, float)) and math.isfinite(true_peak_dbtp)
            and MIN_CEILING_DBTP <= true_peak_dbtp <= MAX_CEILING_DBTP):
        raise InputError(f"true-peak ceiling {true_peak_dbtp!r} dBTP is outside "
                         f"{MIN_CEILING_DBTP:g}…{MAX_CEILING_DBTP:g} dBTP")
    if target_lufs > true_peak_dbtp:
        raise InputError(f"target loudness {target_lufs} LUFS is above the true-peak ceiling "
                         f"{true_peak_dbtp} dBTP: it could only be reached by destroying the audio")


def _next_gain(tried: list[tuple[float, float]], target_lufs: float) -> float:
    """Next gain to try: a secant step on (gain, loudness), kept inside the bracket around the target.

    Limiting makes loudness grow by less than 1 LU per dB, and not always smoothly, so a plain
    "add the error" step can oscillate; the bracket makes the search converge.
    """
    gain, loudness = tried[-1]
    slope = 1.0
    if len(tried) >= 2:
        (g0, l0), (g1, l1) = tried[-2], tried[-1]
        if g1 != g0:
            slope = min(1.5, max(0.2, (l1 - l0) / (g1 - g0)))
    step = gain + (target_lufs - loudness) / slope
    below = [g for g, lv in tried if lv < target_lufs]
    above = [g for g, lv in tried if lv > target_lufs]
    if below and above:
        low, high = max(below), min(above)
        if low < high and not low < step < high:
            step = 0.5 * (low + high)
    return step


def normalize(samples: NDArray, rate: int, *, target_lufs: float, true_peak_dbtp: float,
              lookahead_ms: float = 3.0, release_ms: float = 80.0,
              max_passes: int = 8) -> tuple[NDArray[np.float32], LoudnessReport]:
    """Bring integrated loudness to `target_lufs` with the true peak at or below `true_peak_dbtp`.

    measure → gain → look-ahead true-peak limiter → re-measure; the gain is corrected by the
    remaining error and the chain re-run from the original samples (no cumulative processing)
    until the result is within ±0.04 LU (gating makes loudness jump a little with gain, so
    the gain search is a bracketed secant).

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        target_lufs: integrated loudness target (−60 … −5 LUFS).
        true_peak_dbtp: true-peak ceiling (−20 … 0 dBTP, not below the target).
        lookahead_ms: limiter look-ahead.
        release_ms: limiter release.
        max_passes: gain-correction passes before giving up.

    Returns:
        (normalized float32 samples of the same shape, the LoudnessReport measured on them).

    Raises:
        InputError: absurd target or ceiling.
        AudioFormatError: zero-length audio, NaN/Inf, bad shape, or nothing above the −70 LUFS gate.
        AudioError: the target cannot be reached (e.g. it needs more limiting than the signal allows).
    """
    _check_targets(target_lufs, true_peak_dbtp)
    rate = _check_rate(rate)
    x = _as_2d(samples)
    first = measure(x, rate, true_peak=False)
    if not math.isfinite(first.integrated_lufs):
        raise AudioFormatError("cannot normalize: the audio is silent (every 400 ms block is below "
                               "the −70 LUFS gate)")
    gain_db = target_lufs - first.integrated_lufs
    best: tuple[float, NDArray[np.float32], LoudnessReport] | None = None
    tried: list[tuple[float, float]] = []  # (gain dB, integrated LUFS)
    for _ in range(max_passes):
        # the limiter returns its input untouched when nothing is over the ceiling
        y = limit_true_peak(apply_gain_db(x, gain_db), rate, ceiling_dbtp=true_peak_dbtp, lookahead_ms=lookahead_ms,
                            release_ms=release_ms)
        report = measure(y, rate)
        error = target_lufs - report.integrated_lufs
        if report.true_peak_dbtp <= true_peak_dbtp + 1e-9 and (best is None or abs(error) < best[0]):
            best = (abs(error), y, report)
        if abs(error) <= NORMALIZE_TOLERANCE_LU and report.true_peak_dbtp <= true_peak_dbtp + 1e-9:
            return _restore_shape(y, samples), report
        tried.append((gain_db, report.integrated_lufs))
        gain_db = _next_gain(tried, target_lufs)
        if gain_db > 80.0:
            break
    if best is not None and best[0] <= 0.1:
        return _restore_shape(best[1], samples), best[2]
    got = "no pass stayed under the ceiling" if best is None else \
        f"best pass: {best[2].integrated_lufs:.2f} LUFS"
    raise AudioError(f"could not normalize to {target_lufs} LUFS with true peak ≤ {true_peak_dbtp} dBTP "
                     f"({got}): the signal needs more limiting than {max_passes} passes allow")
