"""The streaming meter: block-size independence, series semantics, layouts, short clips, bad input,
and cross-checks against ffmpeg's ebur128 and pyloudnorm on programme-like material."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from studio.audio.loudness import LoudnessMeter, k_weighting_sos, measure
from studio.errors import AudioFormatError
from tests.audio import signals as sig
from tests.ffmpeg_meter import ebur128

RATE = sig.RATE


def test_k_weighting_matches_bs1770_table_at_48k() -> None:
    # BS.1770-4 Table 1 and Table 2 coefficients
    sos = k_weighting_sos(48000)
    assert sos[0, :3] == pytest.approx([1.53512485958697, -2.69169618940638, 1.19839281085285], abs=1e-8)
    assert sos[0, 4:] == pytest.approx([-1.69065929318241, 0.73248077421585], abs=1e-8)
    assert sos[1, :3] == pytest.approx([1.0, -2.0, 1.0])
    assert sos[1, 4:] == pytest.approx([-1.99004745483398, 0.99007225036621], abs=1e-8)


FIELDS = (
    "integrated_lufs",
    "loudness_range_lu",
    "true_peak_dbtp",
    "sample_peak_dbfs",
    "max_momentary_lufs",
    "max_short_term_lufs",
    "duration_s",
)


@pytest.mark.parametrize("block, seconds", [(1, 0.5), (441, 12.0), (4800, 12.0), (100_000, 12.0)])
def test_streaming_equals_whole_array(block: int, seconds: float) -> None:
    x = sig.programme(seconds, seed=3)
    whole = measure(x, RATE, series_hz=20)
    meter = LoudnessMeter(RATE, 2, series_hz=20)
    for start in range(0, x.shape[0], block):
        meter.feed(x[start : start + block])
    part = meter.report()
    for field in FIELDS:
        assert getattr(part, field) == pytest.approx(getattr(whole, field), abs=1e-6), field
    assert part.momentary_lufs == pytest.approx(whole.momentary_lufs, abs=1e-6)
    assert [v is None for v in part.short_term_lufs] == [v is None for v in whole.short_term_lufs]
    defined = [
        (a, b) for a, b in zip(part.short_term_lufs, whole.short_term_lufs, strict=True) if a is not None
    ]
    assert all(a == pytest.approx(b, abs=1e-6) for a, b in defined)
    assert len(defined) == max(0, round((seconds - 3.0) * 20) + 1)


def test_report_midway_then_continue() -> None:
    x = sig.programme(8.0, seed=4)
    meter = LoudnessMeter(RATE, 2)
    meter.feed(x[: 4 * RATE])
    first = meter.report()
    meter.feed(x[4 * RATE :])
    assert first.duration_s == pytest.approx(4.0)
    assert meter.report().integrated_lufs == pytest.approx(measure(x, RATE).integrated_lufs, abs=1e-6)


@pytest.mark.parametrize("hz", [1, 3, 7, 10, 33, 100])
def test_series_value_k_is_window_ending_at_k_plus_1_over_n(hz: int) -> None:
    rate = 44100  # 44100/N is not an integer for N = 7, 33: t is rounded to the nearest sample
    x = sig.programme(5.0, rate=rate, seed=5)
    report = measure(x, rate, series_hz=hz)
    assert len(report.momentary_lufs) == 5 * hz
    sos = k_weighting_sos(rate)
    from scipy.signal import sosfilt

    power = (sosfilt(sos, x.astype(np.float64), axis=0) ** 2).sum(axis=1)
    for k in (0, len(report.momentary_lufs) // 2, len(report.momentary_lufs) - 1):
        end = round((k + 1) * rate / hz)
        for series, length in (
            (report.momentary_lufs, round(0.4 * rate)),
            (report.short_term_lufs, 3 * rate),
        ):
            if end < length:
                assert series[k] is None
            else:
                expected = -0.691 + 10 * math.log10(power[end - length : end].mean())
                assert series[k] == pytest.approx(expected, abs=1e-6)


def test_lfe_is_excluded_in_5_1() -> None:
    tone = sig.sine(-23.0, 3.0, channels=1)
    five_one = np.concatenate(
        [
            tone,
            tone,
            np.zeros_like(tone),
            sig.sine(0.0, 3.0, freq_hz=60, channels=1),
            np.zeros_like(tone),
            np.zeros_like(tone),
        ],
        axis=1,
    )
    stereo = np.concatenate([tone, tone], axis=1)
    assert measure(five_one, RATE).integrated_lufs == pytest.approx(
        measure(stereo, RATE).integrated_lufs, abs=1e-6
    )


def test_surround_channels_weighted_1_41() -> None:
    tone = sig.sine(-23.0, 3.0, channels=1)
    silent = np.zeros_like(tone)
    front = measure(np.concatenate([tone, silent, silent, silent, silent], axis=1), RATE).integrated_lufs
    rear = measure(np.concatenate([silent, silent, silent, tone, silent], axis=1), RATE).integrated_lufs
    assert rear - front == pytest.approx(10 * math.log10(1.41), abs=1e-6)


def test_mono_reads_3_db_below_dual_channel() -> None:
    mono = measure(sig.sine(-23.0, 3.0, channels=1)[:, 0], RATE).integrated_lufs
    assert mono == pytest.approx(-26.01, abs=0.1)


def test_clip_shorter_than_400_ms_is_measured() -> None:
    x = sig.sine(-23.0, 0.25)
    with pytest.raises(ValueError):
        pyloudnorm.Meter(RATE).integrated_loudness(x)  # the peer refuses such clips
    report = measure(x, RATE)
    assert report.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert report.max_momentary_lufs is None and report.max_short_term_lufs is None
    assert report.loudness_range_lu is None
    assert report.duration_s == pytest.approx(0.25)


def test_silence_reads_minus_inf_and_is_gated() -> None:
    report = measure(np.zeros((RATE * 4, 2), dtype=np.float32), RATE)
    assert report.integrated_lufs == -math.inf and report.true_peak_dbtp == -math.inf
    assert report.summary()["integrated_lufs"] is None
    quiet_then_tone = np.concatenate([np.zeros((RATE * 10, 2), np.float32), sig.sine(-23.0, 10.0)])
    assert measure(quiet_then_tone, RATE).integrated_lufs == pytest.approx(-23.0, abs=0.1)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((0, 2), np.float32), "zero-length"),
        (np.array([[0.1, np.nan]] * 10, np.float32), "NaN"),
        (np.array([[0.1, np.inf]] * 10, np.float32), "Inf"),
        (np.zeros((100, 3), np.float32), "3 channels"),
        (np.zeros((100, 4), np.float32), "4 channels"),
        (np.zeros(100, np.int16), "dtype int16"),
        (np.zeros((10, 2, 2), np.float32), "shape"),
    ],
)
def test_bad_input_is_refused_with_a_reason(bad: np.ndarray, message: str) -> None:
    with pytest.raises(AudioFormatError, match=message):
        measure(bad, RATE)


def test_nan_position_is_reported() -> None:
    x = np.zeros((RATE, 2), np.float32)
    x[12345, 1] = np.nan
    with pytest.raises(AudioFormatError, match="first at frame 12345"):
        measure(x, RATE)


@pytest.mark.parametrize("rate", [0, 100, 1_000_000])
def test_absurd_rates_are_refused(rate: int) -> None:
    with pytest.raises(AudioFormatError, match="sample rate"):
        measure(np.zeros(1000, np.float32), rate)


def test_layout_mismatch_is_refused() -> None:
    with pytest.raises(AudioFormatError, match="5.1"):
        measure(np.zeros((1000, 2), np.float32), RATE, layout="5.1")


@pytest.fixture(scope="module")
def programme_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    x = sig.programme(40.0, seed=11)
    path = tmp_path_factory.mktemp("prog") / "programme.wav"
    sf.write(path, x, RATE, subtype="FLOAT")
    return str(path), x


def test_agrees_with_ffmpeg_ebur128(ffmpeg: str, programme_wav: tuple[str, np.ndarray]) -> None:
    path, x = programme_wav
    ours = measure(x, RATE)
    theirs = ebur128(ffmpeg, path)
    assert ours.integrated_lufs == pytest.approx(theirs["integrated_lufs"], abs=0.1)
    assert ours.true_peak_dbtp == pytest.approx(theirs["true_peak_dbtp"], abs=0.2)
    assert ours.loudness_range_lu == pytest.approx(theirs["lra_lu"], abs=1.0)


def test_agrees_with_pyloudnorm(programme_wav: tuple[str, np.ndarray]) -> None:
    _, x = programme_wav
    ours = measure(x, RATE)
    meter = pyloudnorm.Meter(RATE)
    assert ours.integrated_lufs == pytest.approx(meter.integrated_loudness(x.astype(np.float64)), abs=0.1)


def test_native_sosfilt_kernel_matches_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    from scipy.signal import sosfilt

    from studio.audio import loudness

    rng = np.random.default_rng(0)
    x, zi = rng.standard_normal(5000), rng.standard_normal((2, 2))
    sos = k_weighting_sos(RATE)
    y, zf = loudness._sosfilt(sos, x, zi)
    y_ref, zf_ref = sosfilt(sos, x, zi=zi)
    assert np.array_equal(y, y_ref) and np.array_equal(zf, zf_ref)
    programme = sig.programme(4.0, seed=8)
    fast = measure(programme, RATE)
    monkeypatch.setattr(loudness, "_SOSFILT_KERNEL", None)  # the public scipy.signal path
    assert measure(programme, RATE) == fast


def test_metering_a_file_does_not_import_scipy_signal() -> None:
    # scipy.signal's package import costs ~85 MB of RSS: the streaming meter must not need it
    import subprocess
    import sys

    code = "import sys, studio.audio.io; print('scipy.signal' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("seed", range(4))
def test_true_peak_equals_brute_force_interpolation(seed: int) -> None:
    """The block-skipping true peak equals interpolating every sample (BS.1770 Annex 2 filter)."""
    from studio.audio.loudness import _TP_PHASES

    rng = np.random.default_rng(seed)
    n = 300_000
    x = (sig.programme(n / RATE, seed=seed) * rng.uniform(0.5, 4.0)).astype(np.float32)
    x[rng.integers(0, n, 5)] *= 3.0  # a few isolated overs
    brute = float(np.abs(x).max())
    for c in range(2):
        for taps in _TP_PHASES:
            brute = max(brute, float(np.abs(np.convolve(x[:, c].astype(np.float64), taps)[:n]).max()))
    meter = LoudnessMeter(RATE, 2)
    for start in range(0, n, 70_001):  # odd block sizes: chunk edges fall anywhere
        meter.feed(x[start : start + 70_001])
    assert meter.report().true_peak_dbtp == pytest.approx(20 * np.log10(brute), abs=1e-4)
