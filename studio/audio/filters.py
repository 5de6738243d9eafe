"""Filters: high-pass and speech band for horn loudspeakers.

Owns: fixed IIR filters on sample arrays (Butterworth, causal, second-order sections). Horn
loudspeakers on commune poles reproduce little below ~150 Hz and distort on it, so energy there is
removed before loudness normalization rather than wasted as headroom. No file I/O; must not import
textual, the TUI or the speech engines.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.signal import butter, sosfilt

from studio.audio.loudness import _as_2d, _check_rate
from studio.errors import AudioFormatError, InputError

__all__ = ["highpass", "lowpass", "speech_band"]


def _check_cutoff(name: str, cutoff_hz: float, rate: int) -> None:
    nyquist = rate / 2.0
    if not 10.0 <= cutoff_hz < 0.95 * nyquist:
        raise InputError(f"{name} {cutoff_hz} Hz is outside 10 Hz … {0.95 * nyquist:g} Hz "
                         f"(95 % of Nyquist at {rate} Hz)")


def _check_order(order: int) -> None:
    if not (isinstance(order, int) and 1 <= order <= 12):
        raise InputError(f"filter order {order!r}: expected an integer 1…12")


def _apply(sos: NDArray[np.float64], samples: NDArray) -> NDArray[np.float32]:
    x = _as_2d(samples)
    if not np.isfinite(x).all():
        raise AudioFormatError("samples contain NaN/Inf values: cannot filter")
    y = sosfilt(sos, x.astype(np.float64), axis=0).astype(np.float32)
    return y[:, 0] if np.asarray(samples).ndim == 1 else y


def highpass(samples: NDArray, rate: int, cutoff_hz: float, *, order: int = 4) -> NDArray[np.float32]:
    """Butterworth high-pass (−3 dB at `cutoff_hz`, 6·order dB/octave below it).

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        cutoff_hz: −3 dB corner frequency.
        order: filter order (default 4: 24 dB/octave).

    Returns:
        float32 array of the same shape.

    Raises:
        InputError: cutoff outside 10 Hz … 95 % of Nyquist, or a bad order.
        AudioFormatError: bad shape or NaN/Inf samples.
    """
    rate = _check_rate(rate)
    _check_cutoff("high-pass cutoff", cutoff_hz, rate)
    _check_order(order)
    return _apply(butter(order, cutoff_hz, btype="highpass", fs=rate, output="sos"), samples)


def lowpass(samples: NDArray, rate: int, cutoff_hz: float, *, order: int = 4) -> NDArray[np.float32]:
    """Butterworth low-pass (−3 dB at `cutoff_hz`).

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        cutoff_hz: −3 dB corner frequency.
        order: filter order.

    Returns:
        float32 array of the same shape.

    Raises:
        InputError: cutoff outside 10 Hz … 95 % of Nyquist, or a bad order.
        AudioFormatError: bad shape or NaN/Inf samples.
    """
    rate = _check_rate(rate)
    _check_cutoff("low-pass cutoff", cutoff_hz, rate)
    _check_order(order)
    return _apply(butter(order, cutoff_hz, btype="lowpass", fs=rate, output="sos"), samples)


def speech_band(samples: NDArray, rate: int, *, low_hz: float = 150.0, high_hz: float = 7000.0,
                order: int = 4) -> NDArray[np.float32]:
    """Band-limit to the speech band a horn loudspeaker reproduces (high-pass + low-pass).

    When `high_hz` is at or above 95 % of Nyquist only the high-pass is applied.

    Args:
        samples: float array (n,) or (n, ch).
        rate: sample rate in Hz.
        low_hz: high-pass corner (default 150 Hz).
        high_hz: low-pass corner (default 7 kHz).
        order: order of each filter.

    Returns:
        float32 array of the same shape.

    Raises:
        InputError: corners out of range or low_hz ≥ high_hz.
        AudioFormatError: bad shape or NaN/Inf samples.
    """
    rate = _check_rate(rate)
    if low_hz >= high_hz:
        raise InputError(f"speech band: low_hz {low_hz} Hz must be below high_hz {high_hz} Hz")
    y = highpass(samples, rate, low_hz, order=order)
    if high_hz < 0.95 * rate / 2.0:
        y = lowpass(y, rate, high_hz, order=order)
    return y
