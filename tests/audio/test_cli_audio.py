"""`studio loudness` and `studio normalize-audio`: JSON keys, series semantics, exit codes, messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from studio.audio import io
from studio.cli import main
from tests.audio import signals as sig
from tests.ffmpeg_meter import ebur128

KEYS = [
    "path",
    "integrated_lufs",
    "loudness_range_lu",
    "true_peak_dbtp",
    "sample_peak_dbfs",
    "max_momentary_lufs",
    "max_short_term_lufs",
    "duration_s",
    "sample_rate",
    "channels",
]


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    path = tmp_path / "tone.wav"
    sf.write(path, sig.sine(-23.0, 5.0), sig.RATE, subtype="FLOAT")
    return path


def test_json_has_exactly_the_documented_keys(runner: CliRunner, tone: Path) -> None:
    result = runner.invoke(main, ["loudness", "--json", str(tone)])
    assert result.exit_code == 0, result.stderr
    (obj,) = json.loads(result.stdout)
    assert list(obj) == KEYS
    assert obj["path"] == str(tone)
    assert obj["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert (obj["sample_rate"], obj["channels"], obj["duration_s"]) == (48000, 2, 5.0)


@pytest.mark.parametrize("hz", [10, 4, 100])
def test_series(runner: CliRunner, tone: Path, hz: int) -> None:
    args = ["loudness", "--json", "--series"] + (["--series-hz", str(hz)] if hz != 10 else [])
    (obj,) = json.loads(runner.invoke(main, [*args, str(tone)]).stdout)
    assert list(obj) == KEYS + ["momentary_lufs", "short_term_lufs"]
    m, s = obj["momentary_lufs"], obj["short_term_lufs"]
    assert len(m) == len(s) == 5 * hz
    for k in range(5 * hz):
        t = (k + 1) / hz
        assert (m[k] is None) == (t < 0.4 - 1e-9)
        assert (s[k] is None) == (t < 3.0 - 1e-9)
        if m[k] is not None:
            assert m[k] == pytest.approx(-23.0, abs=0.1)


def test_series_rate_over_100_is_a_usage_error(runner: CliRunner, tone: Path) -> None:
    result = runner.invoke(main, ["loudness", "--series-hz", "200", str(tone)])
    assert result.exit_code == 2


def test_human_output(runner: CliRunner, tone: Path) -> None:
    result = runner.invoke(main, ["loudness", str(tone)])
    assert result.exit_code == 0
    assert "I -23.0 LUFS" in result.stdout and "TP -23.0 dBTP" in result.stdout


def test_failures_go_to_stderr_and_set_the_exit_code(runner: CliRunner, tone: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEnothing")
    result = runner.invoke(main, ["loudness", "--json", str(tone), str(bad)])
    assert result.exit_code == 1  # some inputs failed, the others were still done
    assert [o["path"] for o in json.loads(result.stdout)] == [str(tone)]
    assert "bad.wav" in result.stderr and "not a readable audio file" in result.stderr
    only_bad = runner.invoke(main, ["loudness", str(bad)])
    assert only_bad.exit_code == 2 and only_bad.stdout == ""


def test_zero_length_and_nan_files(runner: CliRunner, tmp_path: Path) -> None:
    empty, nan = tmp_path / "empty.wav", tmp_path / "nan.wav"
    sf.write(empty, np.zeros((0, 2), np.float32), 48000)
    x = np.zeros((48000, 2), np.float32)
    x[100] = np.nan
    sf.write(nan, x, 48000, subtype="FLOAT")
    result = runner.invoke(main, ["loudness", str(empty), str(nan)])
    assert result.exit_code == 2
    assert "zero-length" in result.stderr and "NaN/Inf" in result.stderr


def test_normalize_audio_with_targets(runner: CliRunner, tmp_path: Path, ffmpeg: str) -> None:
    src, out = tmp_path / "in.wav", tmp_path / "out.wav"
    sf.write(src, sig.programme(12.0, seed=4), 48000, subtype="FLOAT")
    result = runner.invoke(
        main,
        [
            "normalize-audio",
            str(src),
            "-o",
            str(out),
            "--target-lufs",
            "-20",
            "--true-peak-dbtp",
            "-2",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["input", "output"]
    assert data["output"]["integrated_lufs"] == pytest.approx(-20.0, abs=0.1)
    assert data["output"]["true_peak_dbtp"] <= -2.0
    assert ebur128(ffmpeg, out)["integrated_lufs"] == pytest.approx(-20.0, abs=0.1)


def test_normalize_audio_with_profile_prints_before_and_after(runner: CliRunner, tmp_path: Path) -> None:
    src, out = tmp_path / "in.wav", tmp_path / "loa.mp3"
    sf.write(src, sig.programme(8.0, seed=6), 48000, subtype="FLOAT")
    result = runner.invoke(main, ["normalize-audio", str(src), "-o", str(out), "--profile", "loa"])
    assert result.exit_code == 0, result.stderr
    before, after = result.stdout.strip().splitlines()
    assert before.startswith("before\t") and after.startswith("after\t")
    report = io.measure_file(out)
    assert report.integrated_lufs == pytest.approx(-16.0, abs=0.5) and report.true_peak_dbtp <= -1.5
    assert (report.channels, report.sample_rate) == (1, 48000)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--profile", "loa", "--target-lufs", "-20"], "not both"),
        (["--target-lufs", "-20"], "--true-peak-dbtp"),
        (["--profile", "radio"], "known profiles"),
        (["--target-lufs", "-300", "--true-peak-dbtp", "-1"], "outside"),
    ],
)
def test_normalize_audio_usage_errors(
    runner: CliRunner, tone: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(main, ["normalize-audio", str(tone), "-o", str(tmp_path / "o.wav"), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())  # rich may wrap the one-line message
    assert not (tmp_path / "o.wav").exists()
