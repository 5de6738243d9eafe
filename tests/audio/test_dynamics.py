"""Limiter, compressor and normalization: measured with our meter and, on written files, with ffmpeg."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from studio.audio.dynamics import compress, limit_true_peak, normalize
from studio.audio.filters import highpass, lowpass, speech_band
from studio.audio.loudness import measure
from studio.errors import AudioError, AudioFormatError, InputError
from tests.audio import signals as sig
from tests.ffmpeg_meter import ebur128

RATE = sig.RATE


@pytest.mark.parametrize("ceiling", [-1.0, -1.5, -3.0])
def test_limiter_leaves_no_true_peak_overs(ceiling: float) -> None:
    x = sig.programme(10.0, seed=1) * 4.0  # peaks well above full scale, many inter-sample overs
    assert measure(x, RATE).true_peak_dbtp > 3.0
    y = limit_true_peak(x, RATE, ceiling_dbtp=ceiling)
    assert measure(y, RATE).true_peak_dbtp <= ceiling
    assert y.shape == x.shape and y.dtype == np.float32


def test_limiter_catches_fs4_intersample_peaks() -> None:
    x = sig.true_peak_case(16)  # samples at −9 dBFS, true peak −6 dBTP
    y = limit_true_peak(x, RATE, ceiling_dbtp=-8.0)
    assert measure(y, RATE).true_peak_dbtp <= -8.0


def test_limiter_is_transparent_below_the_ceiling() -> None:
    x = sig.programme(3.0, seed=2) * 0.5
    assert np.array_equal(limit_true_peak(x, RATE, ceiling_dbtp=0.0), x)


def test_limiter_starts_before_the_peak() -> None:
    x = np.full((RATE, 1), 0.1, dtype=np.float32) * sig.sine(0.0, 1.0, channels=1)
    x[RATE // 2] = 1.0
    y = limit_true_peak(x, RATE, ceiling_dbtp=-6.0, lookahead_ms=3.0)
    gain = np.abs(y[:, 0]) / np.maximum(np.abs(x[:, 0]), 1e-9)
    before = RATE // 2 - round(0.002 * RATE)
    assert gain[before] < 0.999  # the gain is already coming down 2 ms ahead


@pytest.mark.parametrize("target, ceiling", [(-23.0, -1.0), (-16.0, -1.5), (-16.0, -1.0), (-30.0, -6.0)])
def test_normalize_lands_within_0_1_lu_and_under_ceiling(target: float, ceiling: float) -> None:
    x = sig.programme(20.0, seed=7) * 0.3
    y, report = normalize(x, RATE, target_lufs=target, true_peak_dbtp=ceiling)
    check = measure(y, RATE)
    assert check.integrated_lufs == pytest.approx(target, abs=0.1)
    assert check.true_peak_dbtp <= ceiling
    assert report.integrated_lufs == pytest.approx(check.integrated_lufs, abs=1e-9)


def test_normalized_wav_checked_by_ffmpeg(ffmpeg: str, tmp_path) -> None:
    x = sig.programme(20.0, seed=8)
    y, _ = normalize(x, RATE, target_lufs=-16.0, true_peak_dbtp=-1.5)
    path = tmp_path / "n.wav"
    sf.write(path, y, RATE, subtype="FLOAT")
    theirs = ebur128(ffmpeg, path)
    assert theirs["integrated_lufs"] == pytest.approx(-16.0, abs=0.1)
    assert theirs["true_peak_dbtp"] <= -1.5


def test_normalize_mono_keeps_shape() -> None:
    x = sig.programme(5.0, channels=1, seed=9)[:, 0]
    y, _ = normalize(x, RATE, target_lufs=-20.0, true_peak_dbtp=-1.0)
    assert y.shape == x.shape


@pytest.mark.parametrize(
    "target, ceiling, message",
    [
        (-200.0, -1.0, "target loudness"),
        (3.0, -1.0, "target loudness"),
        (float("nan"), -1.0, "target loudness"),
        (-23.0, 5.0, "true-peak ceiling"),
        (-23.0, -50.0, "true-peak ceiling"),
        (-6.0, -8.0, "above the true-peak ceiling"),
    ],
)
def test_absurd_targets_are_refused(target: float, ceiling: float, message: str) -> None:
    with pytest.raises(InputError, match=message):
        normalize(sig.programme(1.0), RATE, target_lufs=target, true_peak_dbtp=ceiling)


def test_normalize_refuses_silence() -> None:
    with pytest.raises(AudioFormatError, match="silent"):
        normalize(np.zeros((RATE, 2), np.float32), RATE, target_lufs=-23.0, true_peak_dbtp=-1.0)


def test_normalize_refuses_nan() -> None:
    x = sig.programme(1.0)
    x[10, 0] = np.nan
    with pytest.raises(AudioFormatError, match="NaN"):
        normalize(x, RATE, target_lufs=-23.0, true_peak_dbtp=-1.0)


def test_normalize_gives_up_loudly_when_the_target_is_unreachable() -> None:
    # a full-scale square wave at −5 LUFS under a −5 dBTP ceiling: only destruction would get there
    t = np.arange(RATE * 3)
    square = np.sign(np.sin(2 * np.pi * 50 * t / RATE)).astype(np.float32)[:, None].repeat(2, 1) * 0.01
    with pytest.raises(AudioError, match="could not normalize"):
        normalize(square, RATE, target_lufs=-5.0, true_peak_dbtp=-5.0, max_passes=3)


def test_compressor_reduces_loudness_range_gently() -> None:
    loud_soft = sig.tones([(4.0, -10.0), (4.0, -30.0), (4.0, -10.0)])
    y = compress(loud_soft, RATE, threshold_lu=-6.0, ratio=3.0)
    before, after = measure(loud_soft, RATE), measure(y, RATE)
    assert after.loudness_range_lu < before.loudness_range_lu - 3.0
    quiet = measure(y[5 * RATE : 7 * RATE], RATE).integrated_lufs
    assert quiet == pytest.approx(measure(loud_soft[5 * RATE : 7 * RATE], RATE).integrated_lufs, abs=0.5)


def test_compressor_rejects_bad_settings() -> None:
    with pytest.raises(InputError, match="ratio"):
        compress(sig.programme(1.0), RATE, ratio=50.0)


def test_highpass_removes_low_frequencies() -> None:
    low = highpass(sig.sine(-10.0, 2.0, freq_hz=50.0), RATE, 150.0)
    mid = highpass(sig.sine(-10.0, 2.0, freq_hz=1000.0), RATE, 150.0)
    level = lambda x: 20 * np.log10(np.abs(x[RATE:]).max())  # noqa: E731
    assert level(low) < -10.0 - 30.0  # 4th order: ~38 dB down 1.6 octaves below the corner
    assert level(mid) == pytest.approx(-10.0, abs=0.1)


def test_speech_band_cuts_both_ends() -> None:
    high = speech_band(sig.sine(-10.0, 1.0, freq_hz=15000.0), RATE)
    assert 20 * np.log10(np.abs(high[RATE // 2 :]).max()) < -10.0 - 20.0
    assert lowpass(sig.sine(-10.0, 1.0, freq_hz=100.0), RATE, 7000.0).shape == (RATE, 2)


@pytest.mark.parametrize("cutoff", [0.0, 5.0, 30000.0])
def test_filter_cutoff_is_validated(cutoff: float) -> None:
    with pytest.raises(InputError, match="cutoff"):
        highpass(sig.sine(-10.0, 0.1), RATE, cutoff)
