"""Destination profiles as data, and renditions of every profile checked with ffmpeg's meter."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.audio import io, profiles
from studio.errors import ConfigError, InputError
from tests.audio import signals as sig
from tests.ffmpeg_meter import ebur128


def test_shipped_profiles_match_design() -> None:
    p = profiles.load_profiles()
    assert {"loa", "phat-song", "web", "bang-tin"} <= set(p)
    loa, master, web = p["loa"], p["phat-song"], p["web"]
    assert (loa.container, loa.channels, loa.sample_rate, loa.bitrate_kbps) == ("mp3", 1, 48000, 96)
    assert (loa.target_lufs, loa.true_peak_dbtp, loa.highpass_hz, loa.compress) == (-16.0, -1.5, 150.0, True)
    assert (master.container, master.bit_depth, master.target_lufs, master.true_peak_dbtp) == (
        "wav",
        24,
        -23.0,
        -1.0,
    )
    assert master.tolerance_lu == 0.5
    assert (web.container, web.channels, web.sample_rate, web.bitrate_kbps) == ("mp3", 2, 44100, 128)
    assert (web.target_lufs, web.true_peak_dbtp) == (-16.0, -1.0)


def test_unknown_profile_lists_known_ones() -> None:
    with pytest.raises(
        ConfigError, match="unknown destination profile 'radio'.*bang-tin, loa, phat-song, web"
    ):
        profiles.get_profile("radio")


def test_workspace_overrides_and_adds(tmp_path: Path) -> None:
    (tmp_path / "local.toml").write_text(
        '[loa]\ntarget_lufs = -18.0\n\n[xa-moi]\ncontainer = "wav"\nsample_rate = 48000\nchannels = 1\n'
        "target_lufs = -20.0\ntrue_peak_dbtp = -2.0\n",
        encoding="utf-8",
    )
    p = profiles.load_profiles(tmp_path)
    assert p["loa"].target_lufs == -18.0 and p["loa"].bitrate_kbps == 96  # other fields kept
    assert p["xa-moi"].name == "xa-moi" and p["xa-moi"].channels == 1


def _profile(container: str = '"wav"', rate: str = "48000", target: str = "-20.0", extra: str = "") -> str:
    return (
        f"[x]\ncontainer = {container}\nsample_rate = {rate}\nchannels = 1\ntarget_lufs = {target}\n"
        f"true_peak_dbtp = -1.0\n{extra}"
    )


@pytest.mark.parametrize(
    "body, message",
    [
        (_profile(extra="volume = 3\n"), "unknown field 'volume'"),
        (_profile(container='"aac"'), "container 'aac'"),
        (_profile(rate='"48k"'), "'sample_rate' = '48k' should be int"),
        (_profile(target="-99.0"), "target_lufs -99.0"),
        (_profile(container='"mp3"'), "needs bitrate_kbps"),
        ('[x]\ncontainer = "wav"\n', "missing field"),
        ("[x\n", "not valid TOML"),
    ],
)
def test_bad_profile_files_name_file_and_field(tmp_path: Path, body: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        profiles.load_profiles(tmp_path)
    assert "bad.toml" in info.value.message


def test_mp4_profile_is_not_written_by_audio_io(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="package stage"):
        io.write_for_profile(
            tmp_path / "x.mp4", sig.sine(-20.0, 1.0), 48000, profiles.get_profile("bang-tin")
        )


@pytest.mark.parametrize(
    "profile_id, suffix, tolerance", [("phat-song", ".wav", 0.1), ("loa", ".mp3", 0.5), ("web", ".mp3", 0.5)]
)
def test_rendition_meets_profile_measured_by_ffmpeg(
    ffmpeg: str, tmp_path: Path, profile_id: str, suffix: str, tolerance: float
) -> None:
    profile = profiles.get_profile(profile_id)
    source = sig.programme(15.0, channels=1, seed=21)[:, 0] * 0.2
    samples, rate, _ = profiles.prepare(source, sig.RATE, profile)
    path = tmp_path / f"{profile_id}{suffix}"
    report = io.write_for_profile(path, samples, rate, profile, title="Bản tin thử")
    info = io.audio_info(path)
    assert (info.sample_rate, info.channels) == (profile.sample_rate, profile.channels)
    assert report.integrated_lufs == pytest.approx(profile.target_lufs, abs=tolerance)
    assert report.true_peak_dbtp <= profile.true_peak_dbtp
    theirs = ebur128(ffmpeg, path)
    assert theirs["integrated_lufs"] == pytest.approx(profile.target_lufs, abs=tolerance)
    assert theirs["true_peak_dbtp"] <= profile.true_peak_dbtp


def test_output_name_must_match_the_profile_container(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="writes mp3 files; give the output a .mp3 name"):
        io.write_for_profile(tmp_path / "loa.wav", sig.sine(-20.0, 1.0), 48000, profiles.get_profile("loa"))
    assert list(tmp_path.iterdir()) == []
