"""File I/O: read every format back, bext v2 read by an independent reader (wavinfo), tags read by
mutagen, resampling, atomic writes and clear errors on bad files."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from mutagen.id3 import ID3
from mutagen.oggopus import OggOpus
from wavinfo import WavInfoReader

from studio.audio import io
from studio.audio.loudness import measure
from studio.errors import AudioFormatError, InputError
from tests.audio import signals as sig

RATE = sig.RATE


@pytest.mark.parametrize(
    "value, encoded",
    [
        (-23.0, -2300),
        (-23.005, -2301),
        (-0.125, -13),
        (0.125, 13),
        (1.005, 101),
        (-1.004, -100),
        (None, 0x7FFF),
        (float("-inf"), 0x7FFF),
        (float("nan"), 0x7FFF),
        (-400.0, -32768),
        (400.0, 32766),
    ],
)
def test_bext_loudness_encoding(value: float | None, encoded: int) -> None:
    assert io.bext_loudness_value(value) == encoded


def test_transliteration_for_bext() -> None:
    assert io.to_ascii("Bản tin Đài truyền thanh xã Đông Hưng") == "Ban tin Dai truyen thanh xa Dong Hung"
    assert io.to_ascii("Người dân\u0301 chú ý") == "Nguoi dan chu y"


def test_bwf_bext_v2_read_back_with_wavinfo(tmp_path: Path) -> None:
    x = sig.programme(5.0, seed=2) * 0.5
    report = measure(x, RATE)
    path = tmp_path / "master.wav"
    io.write_audio(
        path,
        x,
        RATE,
        bit_depth=24,
        title="Bản tin sáng — Đông Hưng",
        originator="Đài huyện",
        originator_reference="BT-2025-001",
        origination=datetime(2025, 7, 1, 6, 30, 0),
    )
    info = WavInfoReader(str(path))
    bext = info.bext
    assert bext.version == 2
    assert bext.description == "Ban tin sang — Dong Hung".replace("—", "?")
    assert bext.originator == "Dai huyen"
    assert bext.originator_ref == "BT-2025-001"
    assert (bext.originator_date, bext.originator_time) == ("2025-07-01", "06:30:00")
    assert bext.loudness_value == pytest.approx(round(report.integrated_lufs, 2), abs=0.006)
    assert bext.loudness_range == pytest.approx(round(report.loudness_range_lu, 2), abs=0.006)
    assert bext.max_true_peak == pytest.approx(round(report.true_peak_dbtp, 2), abs=0.006)
    assert bext.max_momentary_loudness == pytest.approx(round(report.max_momentary_lufs, 2), abs=0.006)
    assert bext.max_shortterm_loudness == pytest.approx(round(report.max_short_term_lufs, 2), abs=0.006)
    assert bext.coding_history.startswith("A=PCM,F=48000,W=24,M=stereo")
    assert info.fmt.bits_per_sample == 24 and info.fmt.sample_rate == RATE
    back, rate = io.read_audio(path)
    assert rate == RATE and np.max(np.abs(back - x)) < 1e-6


def test_bext_unset_fields_on_short_clips(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    io.write_audio(path, sig.sine(-20.0, 1.0), RATE)
    raw = path.read_bytes()
    start = raw.index(b"bext") + 8
    fields = np.frombuffer(raw[start + 412 : start + 422], dtype="<i2")
    assert fields[1] == 0x7FFF and fields[4] == 0x7FFF  # LRA and max short-term: clip under 3 s
    assert fields[0] != 0x7FFF and fields[3] != 0x7FFF


def test_mp3_id3v24_tags_read_back_with_mutagen(tmp_path: Path) -> None:
    path = tmp_path / "loa.mp3"
    report = io.write_audio(
        path,
        sig.programme(6.0, channels=1, seed=4)[:, 0],
        RATE,
        bitrate_kbps=96,
        title="Thông báo khẩn: bão số 3",
    )
    tags = ID3(str(path))
    assert tags.version[:2] == (2, 4)
    assert str(tags["TIT2"]) == "Thông báo khẩn: bão số 3"
    assert str(tags["TLAN"]) == "vie"
    gain = str(tags["TXXX:REPLAYGAIN_TRACK_GAIN"])
    assert gain.endswith(" dB") and float(gain[:-3]) == pytest.approx(
        -18.0 - report.integrated_lufs, abs=0.01
    )
    assert float(str(tags["TXXX:REPLAYGAIN_TRACK_PEAK"])) == pytest.approx(
        10 ** (report.true_peak_dbtp / 20), rel=1e-4
    )
    # the recorded values are those of the decoded file, not of the input
    decoded, rate = io.read_audio(path)
    assert measure(decoded, rate).integrated_lufs == pytest.approx(report.integrated_lufs, abs=1e-6)
    from mutagen.mp3 import MP3

    assert MP3(str(path)).info.bitrate == pytest.approx(96000, rel=0.01)


def test_opus_r128_gain_tag(tmp_path: Path) -> None:
    path = tmp_path / "x.opus"
    report = io.write_audio(path, sig.programme(4.0, seed=5), RATE, title="Tin tức")
    tags = OggOpus(str(path)).tags
    assert int(tags["R128_TRACK_GAIN"][0]) == round(256 * (-23.0 - report.integrated_lufs))
    assert tags["TITLE"] == ["Tin tức"]


@pytest.mark.parametrize("suffix", [".flac", ".ogg"])
def test_flac_and_vorbis_replaygain(tmp_path: Path, suffix: str) -> None:
    from mutagen import File

    path = tmp_path / f"x{suffix}"
    report = io.write_audio(path, sig.programme(4.0, seed=6), RATE, title="Tin")
    tags = File(str(path)).tags
    assert tags["REPLAYGAIN_TRACK_GAIN"][0] == f"{-18.0 - report.integrated_lufs:+.2f} dB"
    back, rate = io.read_audio(path)
    assert rate == RATE and back.shape == (4 * RATE, 2)


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    io.write_audio(path, sig.sine(-20.0, 0.5), RATE)
    first = path.read_bytes()
    with pytest.raises(AudioFormatError):
        io.write_audio(path, np.full((100, 2), np.nan, np.float32), RATE)
    assert path.read_bytes() == first  # a failed write leaves the old file
    io.write_audio(path, sig.sine(-30.0, 0.5), RATE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_resample_keeps_level_and_length() -> None:
    x = sig.sine(-20.0, 2.0)
    y = io.resample(x, RATE, 44100)
    assert y.shape == (88200, 2) and y.dtype == np.float32
    assert 20 * math.log10(np.abs(y[1000:-1000]).max()) == pytest.approx(-20.0, abs=0.05)
    assert measure(y, 44100).integrated_lufs == pytest.approx(measure(x, RATE).integrated_lufs, abs=0.05)
    mono = io.resample(x[:, 0], RATE, 16000)
    assert mono.shape == (32000,)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable audio file"),
        (b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk", "not a readable audio file"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00garbage" * 10, "not a readable audio file"),
    ],
)
def test_corrupt_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFormatError, match=message) as info:
        io.read_audio(path)
    assert str(path) in str(info.value)


def test_zero_length_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 2), np.float32), RATE)
    with pytest.raises(AudioFormatError, match="zero-length"):
        io.read_audio(path)
    with pytest.raises(AudioFormatError, match="zero-length"):
        io.measure_file(path)


def test_nan_in_float_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    x = np.zeros((RATE, 2), np.float32)
    x[RATE // 2, 0] = np.inf
    sf.write(path, x, RATE, subtype="FLOAT")
    with pytest.raises(AudioFormatError, match="NaN/Inf"):
        io.measure_file(path)


def test_missing_file_and_bad_format(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such audio file"):
        io.read_audio(tmp_path / "nope.wav")
    with pytest.raises(InputError, match="suffix"):
        io.write_audio(tmp_path / "x.aiff", sig.sine(-20.0, 0.1), RATE)
    with pytest.raises(InputError, match="MP3 cannot carry"):
        io.write_audio(tmp_path / "x.mp3", sig.sine(-20.0, 0.1, rate=96000), 96000)


def test_unsupported_layout_in_file(tmp_path: Path) -> None:
    path = tmp_path / "quad.wav"
    sf.write(path, np.zeros((RATE, 4), np.float32), RATE)
    with pytest.raises(AudioFormatError, match="4 channels"):
        io.measure_file(path)


def test_measure_file_streams_the_same_as_measure(tmp_path: Path) -> None:
    x = sig.programme(7.0, seed=12)
    path = tmp_path / "p.wav"
    sf.write(path, x, RATE, subtype="FLOAT")
    a, b = io.measure_file(path), measure(x, RATE)
    assert a.integrated_lufs == pytest.approx(b.integrated_lufs, abs=1e-9)
    assert a.true_peak_dbtp == pytest.approx(b.true_peak_dbtp, abs=1e-9)


@pytest.mark.parametrize("channels, bit_depth", [(1, 16), (2, 24), (2, 32), (6, 24)])
def test_streamed_bwf_is_metered_while_written(tmp_path: Path, channels: int, bit_depth: int) -> None:
    x = sig.programme(6.0, channels=channels, seed=channels) * 0.5
    path = tmp_path / "long.wav"
    report = io.write_wav_stream(
        path,
        (x[i : i + 12_345] for i in range(0, len(x), 12_345)),
        RATE,
        channels,
        bit_depth=bit_depth,
        description="Chương trình thời sự",
    )
    back, rate = io.read_audio(path)
    assert rate == RATE and back.reshape(len(x), -1).shape == x.shape
    quantum = 0.0 if bit_depth == 32 else 2.0 ** -(bit_depth - 1)  # float WAV is exact
    assert np.abs(back.reshape(x.shape) - x).max() <= quantum
    bext = WavInfoReader(str(path)).bext
    assert bext.description == "Chuong trinh thoi su"
    assert bext.loudness_value == pytest.approx(round(report.integrated_lufs, 2), abs=0.006)
    assert bext.max_true_peak == pytest.approx(round(report.true_peak_dbtp, 2), abs=0.006)
    assert report.integrated_lufs == pytest.approx(measure(back, rate).integrated_lufs, abs=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]


def test_streamed_bwf_refuses_nan_and_leaves_nothing(tmp_path: Path) -> None:
    bad = np.zeros((1000, 2), np.float32)
    bad[5, 1] = np.nan
    with pytest.raises(AudioFormatError, match="NaN"):
        io.write_wav_stream(tmp_path / "x.wav", [sig.sine(-20.0, 0.1), bad], RATE, 2)
    assert list(tmp_path.iterdir()) == []


def test_clipping_pcm_warns_but_float_does_not(tmp_path: Path) -> None:
    loud = sig.sine(3.0, 0.5)  # peaks at +3 dBFS
    with pytest.warns(UserWarning, match="beyond full scale will clip"):
        io.write_audio(tmp_path / "clip.wav", loud, RATE, bit_depth=24)
    io.write_audio(tmp_path / "float.wav", loud, RATE, bit_depth=32)  # float WAV keeps the overs
    back, _ = io.read_audio(tmp_path / "float.wav")
    assert np.abs(back).max() > 1.0


def test_written_files_get_ordinary_permissions(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        io.write_audio(tmp_path / "a.wav", sig.sine(-20.0, 0.2), RATE)
        io.write_wav_stream(tmp_path / "b.wav", [sig.sine(-20.0, 0.2)], RATE, 2)
    finally:
        os.umask(old)
    for name in ("a.wav", "b.wav"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_mp3_file_carries_the_level_it_was_given() -> None:
    """Regression: libsndfile's CBR MP3 encoder scales by −0.45 dB, so every MP3 rendition needed a
    second encode; the writer now measures that gain once and undoes it."""
    import tempfile

    from studio.audio.io import mp3_encoder_gain_db, write_audio

    assert mp3_encoder_gain_db(48000, 1, 0.7778) == pytest.approx(-0.45, abs=0.2)
    rate = 48000
    t = np.arange(5 * rate) / rate
    tone = (0.1 * np.sin(2 * np.pi * 997 * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        report = write_audio(Path(folder) / "t.mp3", tone, rate, bitrate_kbps=96)
    from studio.audio.loudness import measure

    assert report.integrated_lufs == pytest.approx(measure(tone, rate).integrated_lufs, abs=0.1)
