"""Test signals synthesized from the definitions in EBU Tech 3341 (Table 1) and Tech 3342 (Table 1).

Every function returns float32 (n, ch) at 48 kHz unless told otherwise. "dBFS" is the per-channel
peak level of a sine, as the specs define it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from scipy.signal import firwin

RATE = 48000
STANDARDS = Path(__file__).resolve().parents[2] / ".." / "shared" / "standards"
EBU_WAVS = STANDARDS / "ebu-loudness-test-set"


def sine(
    dbfs: float,
    duration_s: float,
    *,
    freq_hz: float = 1000.0,
    rate: int = RATE,
    channels: int = 2,
    phase_deg: float = 0.0,
    start_s: float = 0.0,
) -> NDArray[np.float32]:
    """A sine at `dbfs` peak on every channel (in phase); `start_s` keeps phase continuity."""
    n = round(duration_s * rate)
    period = rate / freq_hz
    if period.is_integer() and (start_s * rate).is_integer():  # tile one exact period: 20× faster
        p = int(period)
        k = (round(start_s * rate) + np.arange(p)) % p
        one = 10.0 ** (dbfs / 20.0) * np.sin(2 * np.pi * k / p + np.deg2rad(phase_deg))
        x = np.tile(one.astype(np.float32), -(-n // p))[:n]
    else:
        t = start_s + np.arange(n) / rate
        x = (10.0 ** (dbfs / 20.0) * np.sin(2 * np.pi * freq_hz * t + np.deg2rad(phase_deg))).astype(
            np.float32
        )
    return np.repeat(x[:, None], channels, axis=1)


def silence(duration_s: float, *, rate: int = RATE, channels: int = 2) -> NDArray[np.float32]:
    return np.zeros((round(duration_s * rate), channels), dtype=np.float32)


def tones(parts: list[tuple[float, float | None]], *, rate: int = RATE) -> NDArray[np.float32]:
    """Concatenate (duration_s, dBFS or None for silence) pieces of a continuous 1 kHz stereo sine."""
    out, t = [], 0.0
    for duration_s, level in parts:
        out.append(
            silence(duration_s, rate=rate) if level is None else sine(level, duration_s, rate=rate, start_s=t)
        )
        t += duration_s
    return np.concatenate(out)


# ---- Tech 3341 -------------------------------------------------------------------------------------------


def case_1() -> NDArray[np.float32]:
    return sine(-23.0, 20.0)


def case_2() -> NDArray[np.float32]:
    return sine(-33.0, 20.0)


def case_3() -> NDArray[np.float32]:
    return tones([(10, -36.0), (60, -23.0), (10, -36.0)])


def case_4() -> NDArray[np.float32]:
    return tones([(10, -72.0), (10, -36.0), (60, -23.0), (10, -36.0), (10, -72.0)])


def case_5() -> NDArray[np.float32]:
    return tones([(20, -26.0), (20.1, -20.0), (20, -26.0)])


def case_6() -> NDArray[np.float32]:
    """5.0: L, R at −28 dBFS, C at −24, Ls, Rs at −30 (order L R C Ls Rs)."""
    levels = (-28.0, -28.0, -24.0, -30.0, -30.0)
    return np.concatenate([sine(lv, 20.0, channels=1) for lv in levels], axis=1)


def case_9() -> NDArray[np.float32]:
    return tones([(1.34, -20.0), (1.66, -30.0)] * 5)


def case_10(i: int) -> NDArray[np.float32]:
    return tones([(i * 0.15, None), (3.0, -23.0), (1.0, None)])


def case_11() -> NDArray[np.float32]:
    parts: list[tuple[float, float | None]] = []
    for i in range(20):
        parts += [(i * 0.15, None), (3.0, -38.0 + i), (3.0 - i * 0.15, None)]
    return tones(parts)


def case_12() -> NDArray[np.float32]:
    return tones([(0.18, -20.0), (0.22, -30.0)] * 25)


def case_13(i: int) -> NDArray[np.float32]:
    return tones([(i * 0.02, None), (0.4, -23.0), (1.0, None)])


def case_14() -> NDArray[np.float32]:
    parts: list[tuple[float, float | None]] = []
    for i in range(20):
        parts += [(i * 0.02, None), (0.4, -38.0 + i), (0.4 - i * 0.02, None)]
    return tones(parts)


def _taper(x: NDArray[np.float64], rate: int, fade_s: float) -> NDArray[np.float64]:
    m = round(fade_s * rate)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
    x = x.copy()
    x[:m] *= ramp
    x[-m:] *= ramp[::-1]
    return x


def true_peak_tone(
    freq_div: int, amplitude: float, phase_deg: float, *, rate: int = RATE, duration_s: float = 1.0
) -> NDArray[np.float32]:
    """Cases 15-19: stereo sine at fs/freq_div, `amplitude` FFS, phase, 10 ms fade in/out."""
    n = round(duration_s * rate)
    x = amplitude * np.sin(2 * np.pi * np.arange(n) / freq_div + np.deg2rad(phase_deg))
    x = _taper(x, rate, 0.010)
    return np.repeat(x[:, None], 2, axis=1).astype(np.float32)


def true_peak_burst(offset: int, *, rate: int = RATE, duration_s: float = 1.0) -> NDArray[np.float32]:
    """Cases 20-23: fs/6 sine at 0.5 FFS containing one period of fs/4 at 1.0, synthesized at 4·fs,
    low-pass filtered, and decimated by 4 starting at `offset` samples (0…3)."""
    up = 4 * rate
    period_6 = 24  # fs/6 at 4·fs: 24 samples per period
    period_4 = 16  # fs/4 at 4·fs
    half = round(duration_s * up / 2 / period_6) * period_6  # whole periods, so phase is 0 at the join
    k = np.arange(half)
    before = 0.5 * np.sin(2 * np.pi * k / period_6)
    burst = 1.0 * np.sin(2 * np.pi * np.arange(period_4) / period_4)
    after = 0.5 * np.sin(2 * np.pi * np.arange(half) / period_6)
    x = np.concatenate([before, burst, after])
    x = _taper(x, up, 0.010)
    taps = firwin(511, 0.9 * rate / 2, fs=up)  # anti-aliasing low-pass for fs, linear phase
    y = np.convolve(x, taps, mode="same")
    y = y[offset::4]
    return np.repeat(y[:, None], 2, axis=1).astype(np.float32)


TRUE_PEAK_EXPECTED = {15: -6.0, 16: -6.0, 17: -6.0, 18: -6.0, 19: 3.0, 20: 0.0, 21: 0.0, 22: 0.0, 23: 0.0}


def true_peak_case(case: int) -> NDArray[np.float32]:
    if case == 15:
        return true_peak_tone(4, 0.5, 0.0)
    if case == 16:
        return true_peak_tone(4, 0.5, 45.0)
    if case == 17:
        return true_peak_tone(6, 0.5, 60.0)
    if case == 18:
        return true_peak_tone(8, 0.5, 67.5)
    if case == 19:
        return true_peak_tone(4, 1.41, 45.0)
    if 20 <= case <= 23:
        return true_peak_burst(case - 20)
    raise ValueError(case)


# ---- Tech 3342 -------------------------------------------------------------------------------------------

LRA_CASES = {
    1: ([-20.0, -30.0], 10.0),
    2: ([-20.0, -15.0], 5.0),
    3: ([-40.0, -20.0], 20.0),
    4: ([-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
}


def lra_case(case: int) -> NDArray[np.float32]:
    levels, _ = LRA_CASES[case]
    return tones([(20.0, lv) for lv in levels])


def programme(
    duration_s: float, *, rate: int = RATE, channels: int = 2, seed: int = 0
) -> NDArray[np.float32]:
    """Speech-like test programme: noise shaped like a voice spectrum, syllable-rate envelope,
    phrase pauses and a few loud plosive transients (for limiter and meter cross-checks)."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * rate)
    noise = rng.standard_normal((n, channels))
    # crude voice spectrum: first-order low-pass ~ 800 Hz and a bit of high-frequency hiss
    a = np.exp(-2 * np.pi * 800 / rate)
    from scipy.signal import lfilter

    shaped = lfilter([1 - a], [1, -a], noise, axis=0) * 4.0 + 0.05 * noise
    t = np.arange(n) / rate
    syllables = np.abs(np.sin(2 * np.pi * 2.5 * t + rng.uniform(0, np.pi))) ** 1.5
    phrases = np.where(np.sin(2 * np.pi * 0.15 * t) > -0.6, 1.0, 0.01)  # pauses keep a room-noise floor
    level = 0.1 * syllables * phrases
    x = shaped * level[:, None]
    for pos in rng.integers(0, n - 100, size=max(1, int(duration_s // 4))):
        x[pos : pos + 40] += rng.choice([-1, 1]) * 0.6 * np.hanning(40)[:, None]
    return x.astype(np.float32)
