"""Loudness metering per ITU-R BS.1770-4/-5, EBU Tech 3341 ('EBU Mode') and EBU Tech 3342 (LRA).

Owns: K-weighting derived for any sample rate, the streaming `LoudnessMeter` (feed blocks, take a
frozen `LoudnessReport`), and `measure()` for whole arrays. Pure numpy/scipy on sample arrays; file
formats belong to `studio.audio.io`. Must not import textual, the TUI or the speech engines.

Definitions used throughout (Tech 3341 §2.2):
- momentary loudness: sliding rectangular 400 ms window, ungated;
- short-term loudness: sliding rectangular 3 s window, ungated;
- a window "at time t" covers the samples [t − length, t); t is rounded to the nearest sample.
The maxima are taken over every sample position (exact for Tech 3341 cases 10-14, where a meter
that only updates every 100 ms reads low). Gating blocks (BS.1770-4 §2.8) and the LRA input
(Tech 3342 §3.1) use windows ending on the 10 Hz grid t = k/10 s.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from studio.errors import AudioFormatError

__all__ = [
    "LAYOUT_WEIGHTS",
    "LoudnessMeter",
    "LoudnessReport",
    "k_weighting_sos",
    "layout_for_channels",
    "measure",
    "true_peak_envelope",
]

ABSOLUTE_GATE_LUFS = -70.0
"""BS.1770-4 §2.8: absolute gating threshold Γa."""
RELATIVE_GATE_LU = -10.0
"""BS.1770-4 §2.8: relative gate for integrated loudness."""
LRA_RELATIVE_GATE_LU = -20.0
"""Tech 3342 §3.1: relative gate for loudness range."""

MIN_RATE_HZ = 8000
MAX_RATE_HZ = 384_000
MAX_SERIES_HZ = 100

# Channel weights G_i of BS.1770-4 Table 3, per supported layout (channel order as in WAVE/SMPTE).
# LFE is excluded (weight 0), as BS.1770 and Tech 3341 §2.10 require.
LAYOUT_WEIGHTS: dict[str, tuple[float, ...]] = {
    "mono": (1.0,),
    "stereo": (1.0, 1.0),
    "5.0": (1.0, 1.0, 1.0, 1.41, 1.41),  # L R C Ls Rs
    "5.1": (1.0, 1.0, 1.0, 0.0, 1.41, 1.41),  # L R C LFE Ls Rs
}
_DEFAULT_LAYOUT = {1: "mono", 2: "stereo", 5: "5.0", 6: "5.1"}

# BS.1770-5 Annex 2: the order-48, 4-phase FIR interpolator (one column of the table per phase).
_TP_PHASES = np.array(
    [
        [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000, -0.0594482421875,
         0.1373291015625, 0.9721679687500, -0.1022949218750, 0.0476074218750, -0.0266113281250,
         0.0148925781250, -0.0083007812500],
        [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250, -0.1665039062500,
         0.4650878906250, 0.7797851562500, -0.2003173828125, 0.1015625000000, -0.0582275390625,
         0.0330810546875, -0.0189208984375],
        [-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000, -0.2003173828125,
         0.7797851562500, 0.4650878906250, -0.1665039062500, 0.0891113281250, -0.0517578125000,
         0.0292968750000, -0.0291748046875],
        [-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750, -0.1022949218750,
         0.9721679687500, 0.1373291015625, -0.0594482421875, 0.0332031250000, -0.0196533203125,
         0.0109863281250, 0.0017089843750],
    ]
)
_TP_TAPS = _TP_PHASES.shape[1]
# Exact bounds that let most blocks skip interpolation (the result is unchanged): an interpolated
# value never exceeds Σ|h|·max|x| over the taps' span; and, with the phase's main tap c,
# y = x[c]·Σh + Σ h_k (x[k] − x[c]) with |x[k] − x[c]| ≤ |k − c|·max|Δx|, so
# |y| ≤ |Σh|·max|x| + (Σ|h_k|·|k − c|)·max|Δx| (tight on smooth passages). Per phase:
# (|Σh|, Σ|h_k|·|k − c|, Σ|h|).
_TP_SMOOTH = [
    (float(abs(h.sum())), float((np.abs(h) * np.abs(np.arange(_TP_TAPS) - int(np.argmax(np.abs(h))))).sum()),
     float(np.abs(h).sum()))
    for h in _TP_PHASES
]
_TP_BLOCK = 256
_TP_POOL_BLOCKS = 4096  # deferred blocks kept (≈ 4.4 MB) before they are settled
_TP_DEFER_MAX = 1024  # per channel and chunk (a whole 2^18 chunk): beyond it, interpolate at once

SILENCE_ENERGY = 1e-20
"""Window energies at or below this (−200.7 LUFS) read as digital silence (−inf)."""

# A ±1e-15 Nyquist-rate sequence added before K-weighting keeps the IIR state out of subnormal
# floats, which made sosfilt 20× slower on silent passages (measured). Its energy (< 1e-29 per
# sample, ≈ −296 LUFS) is nine orders of magnitude below SILENCE_ENERGY, so it changes no reading.
_DITHER = 1e-15

_CHUNK_FRAMES = 1 << 18  # ~5.5 s at 48 kHz: per-chunk overheads vanish, buffers stay a few MB


def _load_sosfilt_kernel() -> Callable[[NDArray, NDArray, NDArray], None] | None:
    """scipy's compiled second-order-sections kernel, loaded without importing scipy.signal.

    Importing the scipy.signal package costs ~85 MB of RSS and ~0.5 s (it pulls in scipy.stats),
    more than the whole streaming meter needs; the meter only needs this one kernel. Returns None
    (→ the public scipy.signal.sosfilt) when scipy moved it; tests check both give the same result.
    """
    name = "scipy.signal._sosfilt"
    if name in sys.modules:  # scipy.signal is loaded anyway: use its own copy
        return getattr(sys.modules[name], "_sosfilt", None)
    try:
        import scipy

        folder = Path(scipy.__file__).parent / "signal"
        found = sorted(folder.glob("_sosfilt.*.so")) + sorted(folder.glob("_sosfilt.*.pyd"))
        if not found:
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, str(found[0]))
        spec = importlib.util.spec_from_file_location(name, str(found[0]), loader=loader)
        if spec is None:
            return None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        kernel = module._sosfilt
        probe = np.array([[1.0, 0.0, 0.0]])  # y = x through one pass-through section
        kernel(np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]]), probe, np.zeros((1, 1, 2)))
        return kernel if probe.tolist() == [[1.0, 0.0, 0.0]] else None
    except (ImportError, OSError, AttributeError, TypeError, ValueError):
        return None


_SOSFILT_KERNEL = _load_sosfilt_kernel()


def _sosfilt(sos: NDArray[np.float64], x: NDArray[np.float64], zi: NDArray[np.float64], *,
             overwrite_x: bool = False) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """scipy.signal.sosfilt(sos, x, zi=zi) for a 1-D x and zi of shape (sections, 2).

    With overwrite_x, a C-contiguous float64 `x` is filtered in place (no copy)."""
    if _SOSFILT_KERNEL is None:
        from scipy.signal import sosfilt  # the public path: same numbers, heavier import

        y, zf = sosfilt(sos, x, zi=zi)
        return y, zf
    x2 = (np.ascontiguousarray(x, dtype=np.float64) if overwrite_x
          else np.array(x, dtype=np.float64, order="C")).reshape(1, -1)  # the kernel works in place
    z3 = np.array(zi, dtype=np.float64, order="C").reshape(1, *zi.shape)
    _SOSFILT_KERNEL(np.ascontiguousarray(sos, dtype=np.float64), x2, z3)
    return x2[0], z3[0]


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    # the sosfilt kernel and numpy ufuncs release the GIL: channels run in parallel on a shared pool.
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(2, min(6, os.cpu_count() or 2)),
                                       thread_name_prefix="loudness")
        return _pool


@dataclass(frozen=True, slots=True)
class LoudnessReport:
    """What a BS.1770 / EBU Mode meter reads for one programme (values are not rounded).

    `None` means "not defined for this duration" (momentary under 0.4 s, short-term and LRA under
    3 s); `-inf` means digital silence (or everything below the −70 LUFS gate).
    """

    integrated_lufs: float
    """Gated programme loudness (BS.1770-4). Clips under 0.4 s: one block over the whole clip."""
    loudness_range_lu: float | None
    """Tech 3342 LRA from 10 Hz short-term values; None under 3 s."""
    true_peak_dbtp: float
    """Max of the 4× oversampled signal (BS.1770 Annex 2 filter) and the sample peak, in dBTP."""
    sample_peak_dbfs: float
    max_momentary_lufs: float | None
    max_short_term_lufs: float | None
    duration_s: float
    sample_rate: int
    channels: int
    series_hz: int | None = None
    """Rate of the two series below, or None when they were not asked for."""
    momentary_lufs: tuple[float | None, ...] = ()
    """Momentary loudness at t = (k+1)/series_hz s; None before 0.4 s."""
    short_term_lufs: tuple[float | None, ...] = ()
    """Short-term loudness at t = (k+1)/series_hz s; None before 3 s."""

    def summary(self) -> dict[str, float | int | None]:
        """The scalar fields as a dict (−inf becomes None, as JSON has no infinity)."""
        out: dict[str, float | int | None] = {}
        for key in ("integrated_lufs", "loudness_range_lu", "true_peak_dbtp", "sample_peak_dbfs",
                    "max_momentary_lufs", "max_short_term_lufs", "duration_s", "sample_rate", "channels"):
            value = getattr(self, key)
            out[key] = None if isinstance(value, float) and not math.isfinite(value) else value
        return out


def k_weighting_sos(rate: int) -> NDArray[np.float64]:
    """The BS.1770 K-weighting filter (pre-filter shelf + RLB high-pass) for any sample rate.

    The two biquads are derived from their analogue prototypes by the bilinear transform, so at
    48 kHz they reproduce the coefficients tabulated in BS.1770-4 (to 1e-8) and at other rates keep
    the same response (the approach of libebur128).

    Args:
        rate: sample rate in Hz.

    Returns:
        A (2, 6) second-order-sections array for `scipy.signal.sosfilt`.
    """
    # Stage 1: high shelf, +4 dB above ~1.7 kHz (head effect).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh**0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    # Stage 2: RLB high-pass at ~38 Hz.
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


def layout_for_channels(channels: int, layout: str | None = None) -> str:
    """Name the channel layout to meter, checking it matches the channel count.

    Args:
        channels: number of channels in the signal.
        layout: 'mono', 'stereo', '5.0' or '5.1'; None picks the default for the count.

    Returns:
        The layout name.

    Raises:
        AudioFormatError: the count has no supported layout, or `layout` does not match it.
    """
    if layout is None:
        if channels not in _DEFAULT_LAYOUT:
            raise AudioFormatError(
                f"unsupported channel layout: {channels} channels; the meter supports 1 (mono), "
                "2 (stereo), 5 (5.0: L R C Ls Rs) and 6 (5.1: L R C LFE Ls Rs)")
        return _DEFAULT_LAYOUT[channels]
    if layout not in LAYOUT_WEIGHTS:
        raise AudioFormatError(f"unknown channel layout {layout!r}; expected one of {sorted(LAYOUT_WEIGHTS)}")
    if len(LAYOUT_WEIGHTS[layout]) != channels:
        raise AudioFormatError(
            f"channel layout {layout!r} has {len(LAYOUT_WEIGHTS[layout])} channels, "
            f"the signal has {channels}")
    return layout


def _check_rate(rate: int) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)):
        raise AudioFormatError(f"sample rate must be an integer number of Hz, got {rate!r}")
    if not MIN_RATE_HZ <= int(rate) <= MAX_RATE_HZ:
        raise AudioFormatError(f"sample rate {rate} Hz is outside {MIN_RATE_HZ}…{MAX_RATE_HZ} Hz")
    return int(rate)


def _as_2d(samples: NDArray, channels: int | None = None) -> NDArray:
    """(n,) or (n, ch) floating → (n, ch) view; checks dtype, shape and channel count."""
    x = np.asarray(samples)
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioFormatError(f"expected float32/float64 samples, got dtype {x.dtype}")
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim != 2:
        raise AudioFormatError(f"expected samples of shape (n,) or (n, ch), got {x.shape}")
    if channels is not None and x.shape[1] != channels:
        raise AudioFormatError(f"expected {channels} channel(s), got a block of shape {x.shape}")
    return x


def _raise_not_finite(x: NDArray, offset: int, rate: int) -> None:
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    first = int(bad[0]) + offset
    kind = "NaN" if np.isnan(x[bad[0]]).any() else "Inf"
    raise AudioFormatError(
        f"samples contain {kind} values ({bad.size} frame(s), first at frame {first}, "
        f"t = {first / rate:.3f} s): the audio is corrupt or was produced by a failing process")


def _lufs(energy: float) -> float:
    # BS.1770-4 eq. 2/4: L = −0.691 + 10·log10(Σ G_i·z_i)
    return -0.691 + 10.0 * math.log10(energy) if energy > SILENCE_ENERGY else -math.inf


def _db(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0.0 else -math.inf


def _grid_ends(k_start: int, end_max: int, rate: int, hz: int) -> tuple[NDArray[np.int64], int]:
    """Sample indices e_k = round((k+1)·rate/hz) for k ≥ k_start with e_k ≤ end_max; next k."""
    k_stop = (end_max * hz) // rate + 2
    if k_stop <= k_start:
        return np.empty(0, dtype=np.int64), k_start
    ks = np.arange(k_start, k_stop, dtype=np.int64)
    ends = ((ks + 1) * rate * 2 + hz) // (2 * hz)  # round half up, in integers
    ends = ends[ends <= end_max]
    return ends, k_start + ends.size


_TP_PHASES32 = [[np.float32(c) for c in phase] for phase in _TP_PHASES]
_TP_SUB = 1 << 16  # sub-block: the two float32 work arrays stay in L2 (2× faster than whole chunks)


def _phase_scan(seg: NDArray[np.float32], envelope: NDArray[np.float32] | None = None) -> float:
    """Run the four interpolation phases over `seg` (first 11 samples are context).

    Output j of each phase uses seg[j … j+11]. Returns the largest |output|; when `envelope`
    (length len(seg) − 11) is given, it also receives the per-output max |value| over the phases.
    Plain float32 multiply-adds in sub-blocks: BLAS (a matmul formulation) brings its own thread
    pool, which oversubscribes the cores when channels already run in parallel (measured 4× slower).
    """
    n = seg.size - (_TP_TAPS - 1)
    last = _TP_TAPS - 1
    acc = np.empty(min(n, _TP_SUB), dtype=np.float32)
    tmp = np.empty_like(acc)
    best = 0.0
    for start in range(0, n, _TP_SUB):
        m = min(_TP_SUB, n - start)
        a, t = acc[:m], tmp[:m]
        for taps in _TP_PHASES32:
            base = start + last
            np.multiply(seg[base:base + m], taps[0], out=a)
            for k in range(1, _TP_TAPS):
                np.multiply(seg[base - k:base - k + m], taps[k], out=t)
                a += t
            best = max(best, float(a.max()), float(-a.min()))
            if envelope is not None:
                np.maximum(envelope[start:start + m], np.abs(a, out=t), out=envelope[start:start + m])
    return best


def _interpolated_peak(segment: NDArray) -> float:
    """Max |value| of the 4 interpolation phases over a segment (its first 11 samples are context)."""
    seg = np.ascontiguousarray(segment, dtype=np.float32)
    if seg.size < _TP_TAPS:
        return 0.0
    return _phase_scan(seg)


def _block_bounds(xs: NDArray[np.float32], n_ctx: int, nb: int) -> NDArray[np.float64]:
    """Upper bound of |interpolated value| for each block of _TP_BLOCK outputs (exact, see above).

    `xs` is n_ctx context samples, then nb·_TP_BLOCK samples (zero-padded at the end).
    """
    span = nb * _TP_BLOCK
    work = np.empty(span, dtype=np.float32)
    np.abs(xs[n_ctx:n_ctx + span], out=work)
    peak = work.reshape(nb, _TP_BLOCK).max(axis=1).astype(np.float64)
    np.subtract(xs[n_ctx:n_ctx + span], xs[n_ctx - 1:n_ctx - 1 + span], out=work)
    np.abs(work, out=work)
    slope = work.reshape(nb, _TP_BLOCK).max(axis=1).astype(np.float64)
    # outputs of block b also see the 11 samples before it: take the previous block's values too
    ctx = xs[:n_ctx].astype(np.float64)
    first_peak = float(np.abs(ctx).max())
    first_slope = float(np.abs(np.diff(ctx)).max()) if n_ctx > 1 else first_peak
    peak = np.maximum(peak, np.concatenate([[first_peak], peak[:-1]]))
    slope = np.maximum(slope, np.concatenate([[first_slope], slope[:-1]]))
    bound = np.zeros(nb)
    for dc_gain, spread, total in _TP_SMOOTH:
        np.maximum(bound, np.minimum(total * peak, dc_gain * peak + spread * slope), out=bound)
    return bound


def _segments_peak(segs: NDArray[np.float32]) -> float:
    """Exact max |interpolated value| of (k, _TP_BLOCK + 11) segments: 11 context samples + a block."""
    best = 0.0
    last = _TP_TAPS - 1
    for i in range(0, segs.shape[0], 256):  # ≤ 256 blocks (65 536 outputs) at a time
        part = segs[i:i + 256]
        acc = np.empty((part.shape[0], _TP_BLOCK), dtype=np.float32)
        tmp = np.empty_like(acc)
        for taps in _TP_PHASES32:
            np.multiply(part[:, last:last + _TP_BLOCK], taps[0], out=acc)
            for k in range(1, _TP_TAPS):
                np.multiply(part[:, last - k:last - k + _TP_BLOCK], taps[k], out=tmp)
                acc += tmp
            best = max(best, float(acc.max()), float(-acc.min()))
    return best


def _gather(xs: NDArray[np.float32], blocks: NDArray[np.int64]) -> NDArray[np.float32]:
    """Copies of the segments (context + block) of whole blocks."""
    return xs[(blocks * _TP_BLOCK)[:, None] + np.arange(_TP_BLOCK + _TP_TAPS - 1)]


def _tp_buffer(ctx: NDArray, x: NDArray) -> NDArray[np.float32]:
    """float32 [ctx, x, zeros up to a whole number of blocks]: one copy, as the bound and scan need."""
    n = x.shape[0]
    nb = -(-n // _TP_BLOCK)
    xs = np.empty(ctx.size + nb * _TP_BLOCK, dtype=np.float32)
    xs[:ctx.size] = ctx
    xs[ctx.size:ctx.size + n] = x
    xs[ctx.size + n:] = 0.0  # zeros cannot raise the peak; outputs past n are never read
    return xs


_NO_BLOCKS = (np.empty(0), np.empty((0, _TP_BLOCK + _TP_TAPS - 1), dtype=np.float32))


def _true_peak_channel(xs: NDArray[np.float32], n: int, floor: float, *, defer: bool = False
                       ) -> tuple[float, NDArray[np.float64], NDArray[np.float32]]:
    """Largest interpolated |value| among the first `n` outputs of `xs` (see _tp_buffer), or `floor`.

    Only blocks whose exact upper bound exceeds the running maximum are interpolated: the
    highest-bound few first (raising the maximum), then every block still above it. With `defer`,
    those remaining blocks are returned instead (bounds, segment copies) for the caller to judge
    later against a higher maximum; the result is the same as interpolating everything.

    Returns:
        (maximum so far, deferred bounds, deferred segments).
    """
    if n == 0:
        return floor, *_NO_BLOCKS
    nb = -(-n // _TP_BLOCK)
    bound = _block_bounds(xs, _TP_TAPS - 1, nb)
    best = floor
    candidates = np.flatnonzero(bound > best)
    if candidates.size == 0:
        return best, *_NO_BLOCKS
    if n % _TP_BLOCK and bound[nb - 1] > best:  # the last block is cut short: never deferred
        start = (nb - 1) * _TP_BLOCK
        best = max(best, _interpolated_peak(xs[start:n + _TP_TAPS - 1]))
        candidates = candidates[candidates != nb - 1]
    order = candidates[np.argsort(-bound[candidates], kind="stable")]
    best = max(best, _segments_peak(_gather(xs, order[:4])))
    rest = order[4:]
    rest = np.sort(rest[bound[rest] > best])
    if not rest.size:
        return best, *_NO_BLOCKS
    if defer and rest.size <= _TP_DEFER_MAX:  # (bigger than a meter chunk: interpolate now, bound memory)
        return best, bound[rest], _gather(xs, rest)
    return max(best, _segments_peak(_gather(xs, rest))), *_NO_BLOCKS


def _settle_pool(pool: list[tuple[NDArray[np.float64], NDArray[np.float32]]],
                 floor: float) -> tuple[float, NDArray[np.float64], NDArray[np.float32]]:
    """Interpolate deferred blocks whose bound still beats `floor`, highest bound first."""
    bounds = np.concatenate([b for b, _ in pool])
    segments = np.concatenate([seg for _, seg in pool])
    order = np.flatnonzero(bounds > floor)
    order = order[np.argsort(-bounds[order], kind="stable")]
    best = max(floor, _segments_peak(segments[order[:16]]))
    rest = order[16:]
    rest = rest[bounds[rest] > best]
    if rest.size:
        best = max(best, _segments_peak(segments[rest]))
    return best, *_NO_BLOCKS


def _true_peak_task(ctx: NDArray, x: NDArray, c: int,
                    floor: float) -> tuple[float, NDArray[np.float64], NDArray[np.float32]]:
    """Worker-thread job: true peak of channel c of one chunk (buffer built here, off the main thread)."""
    return _true_peak_channel(_tp_buffer(ctx, x[:, c]), x.shape[0], floor, defer=True)


def true_peak_envelope(samples: NDArray, rate: int) -> NDArray[np.float64]:
    """Per-frame true-peak magnitude: max over channels and the 4 interpolation phases around it.

    Used by the look-ahead limiter. Value n is the largest |interpolated value| among the phases
    computed from samples n-11..n (BS.1770 Annex 2 filter, so aligned with the filter's delay of
    ~5.5 samples); it is also at least |x[n]|.

    Args:
        samples: float array, (n,) or (n, ch).
        rate: sample rate in Hz (the filter is defined relative to it).

    Returns:
        float64 array of shape (n,).
    """
    _check_rate(rate)
    x = _as_2d(samples)
    env = np.abs(x).max(axis=1).astype(np.float64)
    pad = np.zeros(_TP_TAPS - 1, dtype=np.float32)
    peak = np.zeros(x.shape[0] + _TP_TAPS - 1, dtype=np.float32)
    for c in range(x.shape[1]):
        _phase_scan(np.concatenate([pad, x[:, c].astype(np.float32), pad]), peak)
    # outputs of column j lie between x[j-6] and x[j-5]: credit both frames
    np.maximum(env, peak[6:6 + env.size], out=env)
    np.maximum(env, peak[5:5 + env.size], out=env)
    return env


def _max_window_sum(cs: NDArray[np.float64], a0: int, length: int, first_end: int, last_end: int,
                    best: float, hop: int) -> float:
    """Max over every end e in [first_end, last_end] of the window sum cs[e] − cs[e − length].

    Exact, without a pass over every sample: ends are taken in intervals of `hop`; the window sum
    of any end in an interval is at most the sum over the union of its windows (energy is ≥ 0),
    so only intervals whose union bound beats the best value found so far are evaluated sample by
    sample. `cs` is a cumulative sum whose element i is at absolute index a0 + i.
    """
    if last_end < first_end:
        return best
    e1 = np.arange(first_end, last_end + 1, hop, dtype=np.int64)
    e2 = np.minimum(e1 + hop - 1, last_end)
    at_ends = cs[e2 - a0] - cs[e2 - a0 - length]
    best = max(best, float(at_ends.max()))
    bound = cs[e2 - a0] - cs[e1 - a0 - length] + 1e-12 * abs(best)  # margin for rounding
    candidates = np.flatnonzero(bound > best)
    for i in candidates[np.argsort(-bound[candidates], kind="stable")]:
        if bound[i] <= best:
            break
        lo, hi = int(e1[i]) - a0, int(e2[i]) - a0
        best = max(best, float((cs[lo:hi + 1] - cs[lo - length:hi + 1 - length]).max()))
    return best


class LoudnessMeter:
    """Streaming EBU Mode meter: feed blocks of any length, take a frozen report at any time.

    Memory stays bounded (3 s of state per channel plus the 10 Hz block energies), so an hour-long
    programme can be metered from a file read in blocks.

    Args:
        rate: sample rate in Hz (8 kHz … 384 kHz).
        channels: channel count of every block.
        layout: 'mono', 'stereo', '5.0' or '5.1' (default picked from `channels`).
        series_hz: also keep momentary and short-term series at this rate (1 … 100 Hz).
        true_peak: compute the true peak (sample peak is always computed); when False the report's
            true_peak_dbtp repeats the sample peak, a lower bound of the true peak.

    Raises:
        AudioFormatError: unsupported rate, channel count, layout or series rate.
    """

    def __init__(self, rate: int, channels: int, *, layout: str | None = None,
                 series_hz: int | None = None, true_peak: bool = True) -> None:
        self.rate = _check_rate(rate)
        self.layout = layout_for_channels(int(channels), layout)
        self.channels = int(channels)
        if series_hz is not None and not (isinstance(series_hz, int) and 1 <= series_hz <= MAX_SERIES_HZ):
            raise AudioFormatError(f"series rate {series_hz!r} Hz: expected an integer 1…{MAX_SERIES_HZ}")
        self.series_hz = series_hz
        self._true_peak_on = true_peak
        self._weights = np.array(LAYOUT_WEIGHTS[self.layout], dtype=np.float64)
        self._sos = k_weighting_sos(self.rate)
        self._dither = np.zeros(0)
        self._zi = [np.zeros((self._sos.shape[0], 2)) for _ in range(self.channels)]
        self._len_m = round(0.4 * self.rate)
        self._len_s = 3 * self.rate
        self._n = 0
        self._cs_tail = np.zeros(1)  # cumulative energy at absolute indices n-T … n (rebased)
        self._energy_total = 0.0
        self._max_m = -1.0
        self._max_s = -1.0
        self._sample_peak = 0.0
        self._tp = 0.0
        self._tp_ctx = np.zeros((_TP_TAPS - 1, self.channels), dtype=np.float64)
        self._tp_futures: list[Future[tuple[float, NDArray[np.float64], NDArray[np.float32]]]] = []
        self._tp_pool: list[tuple[NDArray[np.float64], NDArray[np.float32]]] = []
        self._tp_pool_blocks = 0
        self._k10 = 0
        self._blocks_m: list[NDArray[np.float64]] = []
        self._blocks_s: list[NDArray[np.float64]] = []
        self._kser = 0
        self._series_m: list[NDArray[np.float64]] = []
        self._series_s: list[NDArray[np.float64]] = []
        self._pending: list[NDArray] = []
        self._pending_n = 0
        self._kw_pending: tuple[NDArray, list[Future[NDArray[np.float64]]]] | None = None

    @property
    def frames(self) -> int:
        """Frames fed so far."""
        in_flight = self._kw_pending[0].shape[0] if self._kw_pending is not None else 0
        return self._n + in_flight + self._pending_n

    def feed(self, block: NDArray) -> None:
        """Add the next block of samples.

        Args:
            block: float32/float64, shape (n,) for mono or (n, channels).

        Raises:
            AudioFormatError: wrong dtype/shape/channel count, or NaN/Inf samples.
        """
        x = _as_2d(block, self.channels)
        if x.shape[0] == 0:
            return
        peak = float(np.abs(x).max())
        if not math.isfinite(peak):
            _raise_not_finite(x, self.frames, self.rate)
        self._sample_peak = max(self._sample_peak, peak)
        self._pending.append(x)
        self._pending_n += x.shape[0]
        if self._pending_n >= _CHUNK_FRAMES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        x = self._pending[0] if len(self._pending) == 1 else np.concatenate(self._pending)
        self._pending, self._pending_n = [], 0
        self._process(x)

    def _k_weighted_power(self, x: NDArray, c: int, parity: int) -> NDArray[np.float64]:
        """G_c · (K-weighted channel c)², for one chunk (runs on a worker thread)."""
        n = x.shape[0]
        xc = np.add(x[:, c], self._dither[parity:parity + n])  # float64 copy + dither in one pass
        y, self._zi[c] = _sosfilt(self._sos, xc, self._zi[c], overwrite_x=True)
        np.multiply(y, y, out=y)
        if self._weights[c] != 1.0:
            y *= self._weights[c]
        return y

    def _take_true_peak(self, result: tuple[float, NDArray[np.float64], NDArray[np.float32]]) -> None:
        best, bounds, segments = result
        self._tp = max(self._tp, best)
        if bounds.size:
            self._tp_pool.append((bounds, segments))
            self._tp_pool_blocks += bounds.size
            if self._tp_pool_blocks > _TP_POOL_BLOCKS:
                pool, self._tp_pool, self._tp_pool_blocks = self._tp_pool, [], 0
                floor = max(self._tp, self._sample_peak)
                self._tp_futures.append(_executor().submit(_settle_pool, pool, floor))

    def _harvest_true_peaks(self, wait: bool) -> None:
        still = []
        for future in self._tp_futures:
            if wait or future.done():
                self._take_true_peak(future.result())
            else:
                still.append(future)
        self._tp_futures = still

    def _process(self, x: NDArray) -> None:
        """Pipeline step: hand chunk i to the workers, then finish chunk i−1 while they run."""
        previous = self._kw_pending
        if previous is not None:  # K-weighting of chunk i needs the filter state left by chunk i−1
            previous = (previous[0], [f.result() for f in previous[1]])
        n_new = x.shape[0]
        parity = (self._n + (previous[0].shape[0] if previous else 0)) % 2
        if self._dither.size < n_new + 1:  # built here, before the worker threads read it
            self._dither = np.where(np.arange(n_new + 1) % 2 == 0, _DITHER, -_DITHER)
        pool = _executor()
        active = [c for c in range(self.channels) if self._weights[c] != 0.0]
        self._kw_pending = (x, [pool.submit(self._k_weighted_power, x, c, parity) for c in active])
        if self._true_peak_on:
            # True peak feeds nothing else: it runs behind, overlapping the serial work and the next
            # read; the skip bound uses whatever maximum is known by then.
            self._harvest_true_peaks(wait=len(self._tp_futures) > 4 * self.channels)
            floor = max(self._tp, self._sample_peak)
            self._tp_futures += [pool.submit(_true_peak_task, self._tp_ctx[:, c].copy(), x, c, floor)
                                 for c in range(self.channels)]
            tail = x[-(_TP_TAPS - 1):].astype(np.float64)
            self._tp_ctx = np.concatenate([self._tp_ctx, tail])[-(_TP_TAPS - 1):]
        if previous is not None:
            self._analyse(*previous)

    def _finish_pending(self) -> None:
        if self._kw_pending is not None:
            x, futures = self._kw_pending
            self._kw_pending = None
            self._analyse(x, [f.result() for f in futures])

    def _analyse(self, x: NDArray, results: list[NDArray[np.float64]]) -> None:
        """Window sums, maxima, gating blocks and series for one chunk, from its K-weighted power."""
        n_new = x.shape[0]
        power: NDArray[np.float64] = results[0] if results else np.zeros(n_new)
        for y in results[1:]:
            np.add(power, y, out=power)

        # Cumulative energy, local to the last 3 s + this chunk (exact window sums, no drift).
        t = self._cs_tail.size - 1
        cs = np.empty(t + 1 + n_new)
        cs[: t + 1] = self._cs_tail - self._cs_tail[0]
        np.cumsum(power, out=cs[t + 1:])
        cs[t + 1:] += cs[t]
        self._energy_total += float(cs[-1] - cs[t])
        a0 = self._n - t  # absolute index of cs[0]
        n_prev, n_end = self._n, self._n + n_new

        hop = max(1, self.rate // 10)
        for length, attr in ((self._len_m, "_max_m"), (self._len_s, "_max_s")):
            previous = getattr(self, attr) * length
            best = _max_window_sum(cs, a0, length, max(n_prev + 1, length), n_end, previous, hop)
            setattr(self, attr, best / length)

        def window(ends: NDArray[np.int64], length: int) -> NDArray[np.float64]:
            out = np.full(ends.size, np.nan)
            ok = ends >= length
            idx = ends[ok] - a0
            out[ok] = np.maximum(cs[idx] - cs[idx - length], 0.0) / length
            return out

        ends, self._k10 = _grid_ends(self._k10, n_end, self.rate, 10)
        if ends.size:
            self._blocks_m.append(window(ends, self._len_m))
            self._blocks_s.append(window(ends, self._len_s))
        if self.series_hz is not None:
            ends, self._kser = _grid_ends(self._kser, n_end, self.rate, self.series_hz)
            if ends.size:
                self._series_m.append(window(ends, self._len_m))
                self._series_s.append(window(ends, self._len_s))

        keep = min(self._len_s, t + n_new)
        self._cs_tail = cs[-(keep + 1):].copy()
        self._n = n_end

    def report(self) -> LoudnessReport:
        """Measure everything fed so far (feeding may continue afterwards).

        Returns:
            A frozen LoudnessReport.

        Raises:
            AudioFormatError: no samples have been fed.
        """
        self._flush()
        self._finish_pending()
        self._harvest_true_peaks(wait=True)
        if self._tp_pool:
            self._tp = max(self._tp, _settle_pool(self._tp_pool, max(self._tp, self._sample_peak))[0])
            self._tp_pool, self._tp_pool_blocks = [], 0
        n = self._n
        if n == 0:
            raise AudioFormatError("zero-length audio: there are no samples to measure")
        blocks_m = np.concatenate(self._blocks_m) if self._blocks_m else np.empty(0)
        blocks_m = blocks_m[~np.isnan(blocks_m)]
        if n < self._len_m:
            integrated = _lufs(self._energy_total / n)
            if integrated <= ABSOLUTE_GATE_LUFS:
                integrated = -math.inf
        else:
            integrated = _gated_integrated(blocks_m)
        blocks_s = np.concatenate(self._blocks_s) if self._blocks_s else np.empty(0)
        blocks_s = blocks_s[~np.isnan(blocks_s)]
        lra = _loudness_range(blocks_s) if n >= self._len_s else None
        peak = max(self._tp, self._sample_peak) if self._true_peak_on else self._sample_peak
        series_m: tuple[float | None, ...] = ()
        series_s: tuple[float | None, ...] = ()
        if self.series_hz is not None:
            series_m = _series(self._series_m)
            series_s = _series(self._series_s)
        return LoudnessReport(
            integrated_lufs=integrated,
            loudness_range_lu=lra,
            true_peak_dbtp=_db(peak),
            sample_peak_dbfs=_db(self._sample_peak),
            max_momentary_lufs=_lufs(self._max_m) if n >= self._len_m else None,
            max_short_term_lufs=_lufs(self._max_s) if n >= self._len_s else None,
            duration_s=n / self.rate,
            sample_rate=self.rate,
            channels=self.channels,
            series_hz=self.series_hz,
            momentary_lufs=series_m,
            short_term_lufs=series_s,
        )


def _series(parts: list[NDArray[np.float64]]) -> tuple[float | None, ...]:
    if not parts:
        return ()
    z = np.concatenate(parts)
    with np.errstate(divide="ignore"):
        lufs = -0.691 + 10.0 * np.log10(np.where(z > SILENCE_ENERGY, z, np.where(np.isnan(z), np.nan, 0.0)))
    return tuple(None if math.isnan(v) else float(v) for v in lufs.tolist())


def _gated_integrated(z: NDArray[np.float64]) -> float:
    """BS.1770-4 §2.8: two-stage gating over 400 ms block energies (75 % overlap)."""
    if z.size == 0:
        return -math.inf
    with np.errstate(divide="ignore"):
        lk = -0.691 + 10.0 * np.log10(np.where(z > SILENCE_ENERGY, z, 0.0))
    z = z[lk > ABSOLUTE_GATE_LUFS]
    lk = lk[lk > ABSOLUTE_GATE_LUFS]
    if z.size == 0:
        return -math.inf
    gamma_r = _lufs(float(z.mean())) + RELATIVE_GATE_LU
    kept = z[lk > gamma_r]
    return _lufs(float(kept.mean()))


def _loudness_range(z: NDArray[np.float64]) -> float:
    """Tech 3342 §3.1 / §5: cascaded gates, then the 95th − 10th percentile (MATLAB indexing)."""
    if z.size == 0:
        return 0.0
    with np.errstate(divide="ignore"):
        st = -0.691 + 10.0 * np.log10(np.where(z > SILENCE_ENERGY, z, 0.0))
    st = st[st >= ABSOLUTE_GATE_LUFS]
    if st.size == 0:
        return 0.0
    power = float(np.mean(10.0 ** (st / 10.0)))
    st = np.sort(st[st >= 10.0 * math.log10(power) + LRA_RELATIVE_GATE_LU])
    n = st.size

    def pick(percent: float) -> float:
        # MATLAB round() is half away from zero; the argument is positive here.
        return float(st[int(math.floor((n - 1) * percent / 100.0 + 1.0 + 0.5)) - 1])

    return pick(95.0) - pick(10.0)


def measure(samples: NDArray, rate: int, *, layout: str | None = None, series_hz: int | None = None,
            true_peak: bool = True) -> LoudnessReport:
    """Measure a whole signal held in memory.

    Args:
        samples: float32/float64, (n,) mono or (n, ch) with ch in 1, 2, 5 (5.0), 6 (5.1).
        rate: sample rate in Hz.
        layout: channel layout name when it is not the default for the channel count.
        series_hz: also return momentary/short-term series at this rate (1…100 Hz).
        true_peak: compute the true peak (default True).

    Returns:
        A frozen LoudnessReport.

    Raises:
        AudioFormatError: zero-length audio, NaN/Inf samples, bad shape, rate or layout.
    """
    x = _as_2d(samples)
    meter = LoudnessMeter(rate, x.shape[1], layout=layout, series_hz=series_hz, true_peak=true_peak)
    for start in range(0, x.shape[0], _CHUNK_FRAMES):
        meter.feed(x[start:start + _CHUNK_FRAMES])
    return meter.report()
