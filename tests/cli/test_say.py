"""`studio say` with each regional offline voice: real, non-silent speech of plausible length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from studio.cli import main

SENTENCE = "Thông báo của Ủy ban nhân dân xã về lịch tiêm chủng cho trẻ em vào sáng thứ Bảy tuần này."


@pytest.mark.parametrize("voice", ["vi-bac", "vi-trung", "vi-nam"])
def test_say_regional_voice(voice: str, tmp_path: Path) -> None:
    out = tmp_path / f"{voice}.wav"
    result = CliRunner().invoke(main, ["say", SENTENCE, "-o", str(out), "--voice", voice])
    assert result.exit_code == 0, result.output
    samples, rate = sf.read(str(out), dtype="float32")
    duration = len(samples) / rate
    # 21 syllables: an announcer takes 3–8 s.
    assert 2.5 < duration < 9.0, duration
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(np.square(samples))) + 1e-12)
    assert rms_dbfs > -40, rms_dbfs
    assert f"{voice}" in result.output


def test_say_unknown_voice_lists_voices(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["say", "Xin chào", "-o", str(tmp_path / "x.wav"), "--voice", "vi-hue"])
    assert result.exit_code == 2
    assert "voice 'vi-hue' does not exist; available:" in result.output and "vi-bac" in result.output


def test_say_regions_differ(tmp_path: Path) -> None:
    """The three voices are really different voices, not one voice three times."""
    lengths = {}
    for voice in ("vi-bac", "vi-nam"):
        out = tmp_path / f"{voice}.wav"
        assert CliRunner().invoke(main, ["say", SENTENCE, "-o", str(out), "--voice", voice]).exit_code == 0
        lengths[voice] = sf.info(str(out)).frames
    assert lengths["vi-bac"] != lengths["vi-nam"]


def test_say_reads_with_the_workspace_lexicon(tmp_path: Path) -> None:
    """Regression: `studio say` spoke with the shipped lexicon only, unlike bulletins."""
    from studio.config import open_workspace
    from studio.text.lexicon import add_entry

    ws = open_workspace(tmp_path / "ws")
    (ws.voices_dir / "fake.toml").write_text('id = "fake"\nname = "Giọng thử"\nengine = "fake"\n', encoding="utf-8")
    args = ["--home", str(ws.home), "say", "Họp HTXNN.", "--voice", "fake", "-o"]
    assert CliRunner().invoke(main, [*args, str(tmp_path / "a.wav")]).exit_code == 0
    add_entry(ws.lexicon_path, "HTXNN", "hợp tác xã nông nghiệp")
    assert CliRunner().invoke(main, [*args, str(tmp_path / "b.wav")]).exit_code == 0
    # spelled "hát tê ích en en" → "hợp tác xã nông nghiệp": 6 more characters at 60 ms each
    extra_s = (sf.info(str(tmp_path / "b.wav")).frames - sf.info(str(tmp_path / "a.wav")).frames) / 48000
    assert extra_s == pytest.approx(0.36, abs=0.1)
