"""`studio voices list|test|import`, `studio cache stats|clear`: stdout data, stderr messages, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tts_fakes import PIPER_MISSING, FakeGttsServer, needs_piper_reason, piper_config, write_piper_voice

from studio.cli import main
from studio.errors import ExitCode


def run(home: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner(mix_stderr=False).invoke(main, ["--home", str(home), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_list_json_has_every_voice_with_its_state(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path / "ws", "voices", "list", "--json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)}
    assert {"vi-bac", "vi-trung", "vi-nam", "vi-gtts", "piper-vi-vn-vais1000-medium"} <= set(rows)
    assert rows["vi-bac"] | {"reason": ""} == {
        "id": "vi-bac", "name": "Giọng Bắc (espeak-ng, ngoại tuyến)", "engine": "espeak", "region": "bac",
        "online": False, "installed": True, "reason": "", "fallback": "", "attribution": "",
    }
    assert rows["vi-gtts"]["online"] and rows["vi-gtts"]["fallback"] == "vi-bac"
    piper = rows["piper-vi-vn-vais1000-medium"]
    assert not piper["installed"] and piper["reason"]
    assert "CC BY 4.0" in piper["attribution"]


def test_list_table_marks_online_and_missing_voices(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "ws", "voices", "list")
    assert code == 0
    lines = {line.split("\t")[0]: line.split("\t") for line in out.splitlines()}
    assert lines["vi-gtts"][4:] == ["trực tuyến", "đã cài"]
    assert lines["vi-nam"][2:] == ["espeak", "nam", "ngoại tuyến", "đã cài"]
    assert lines["piper-vi-vn-vais1000-medium"][5] == "chưa cài"
    assert "piper-vi-vn-vais1000-medium:" in err


def test_voice_test_reports_duration_and_real_time_factor(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path / "ws", "voices", "test", "vi-trung", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["voice"] == "vi-trung" and result["engine"] == "espeak" and result["fallback_from"] == ""
    assert 2.0 < result["duration_s"] < 15.0
    assert 0 < result["rtf"] < 0.5  # espeak runs hundreds of times faster than real time
    assert result["sentences"] == 2
    code, out, _ = run(tmp_path / "ws", "voices", "test", "vi-bac")
    assert code == 0 and out.startswith("vi-bac\tespeak\t") and "RTF" in out


def test_unknown_voice_exits_2_listing_the_voices(tmp_path: Path) -> None:
    code, out, err = run(tmp_path / "ws", "voices", "test", "vi-hue")
    assert code == ExitCode.USAGE
    assert out == ""
    assert "vi-hue" in err and "vi-bac" in err and "vi-gtts" in err


def test_offline_gtts_test_fails_with_exit_3_unless_fallback_allowed(tmp_path: Path, dead_gtts: str) -> None:
    code, out, err = run(tmp_path / "ws", "voices", "test", "vi-gtts")
    assert code == ExitCode.ENGINE
    assert "gtts" in err and out == ""
    code, out, err = run(tmp_path / "ws", "voices", "test", "vi-gtts", "--fallback", "--json")
    assert code == 0
    result = json.loads(out)
    assert (result["voice"], result["fallback_from"]) == ("vi-bac", "vi-gtts")


def test_gtts_voice_test_against_the_fake_server(tmp_path: Path, gtts_server: FakeGttsServer) -> None:
    code, out, _ = run(tmp_path / "ws", "voices", "test", "vi-gtts", "--json")
    assert code == 0
    assert json.loads(out)["engine"] == "gtts"
    assert len(gtts_server.requests) == 2 and {r[1] for r in gtts_server.requests} == {"vi"}


@pytest.mark.skipif(bool(PIPER_MISSING), reason=needs_piper_reason())
def test_import_then_list_and_test_a_piper_voice(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    model = write_piper_voice(tmp_path / "dl", "vi_VN-vais1000-medium", dataset="vais1000")
    code, out, err = run(home, "voices", "import", str(model))
    assert code == 0, err
    imported = json.loads(out)
    assert imported["id"] == "piper-vi-vn-vais1000-medium"
    assert imported["sample_rate"] == 22050 and len(imported["sha256"]) == 64
    assert Path(imported["model"]).parent == home / "voices"
    rows = {r["id"]: r for r in json.loads(run(home, "voices", "list", "--json")[1])}
    assert rows["piper-vi-vn-vais1000-medium"]["installed"]
    assert rows["piper-vi-vn-vais1000-medium"]["name"] == "Giọng Piper VAIS-1000 (nơ-ron, ngoại tuyến)"
    code, out, _ = run(home, "voices", "test", "piper-vi-vn-vais1000-medium", "--json")
    assert code == 0 and json.loads(out)["engine"] == "piper"
    code, _, err = run(home, "voices", "import", str(model))
    assert code == ExitCode.USAGE and "--force" in err


@pytest.mark.skipif(bool(PIPER_MISSING), reason=needs_piper_reason())
def test_import_refuses_a_toneless_vietnamese_voice_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    model = write_piper_voice(tmp_path / "dl", "vi_VN-vivos-x_low", config=piper_config(tones=False))
    code, out, err = run(home, "voices", "import", str(model))
    assert code == ExitCode.USAGE and out == ""
    assert "tone symbols 2 4 5 6" in " ".join(err.split())
    assert list((home / "voices").iterdir()) == []


def test_import_refuses_a_clash_with_another_engine(tmp_path: Path) -> None:
    model = tmp_path / "x.onnx"
    model.write_bytes(b"")
    code, _, err = run(tmp_path / "ws", "voices", "import", str(model), "--id", "vi-bac")
    assert code == ExitCode.USAGE and "already a espeak voice" in err


def test_cache_stats_and_clear(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    code, out, _ = run(home, "cache", "stats", "--json")
    assert code == 0 and json.loads(out)["entries"] == 0
    from studio.tts.cache import synthesize_cached
    from studio.tts.registry import VoiceRegistry

    synthesize_cached(VoiceRegistry(home / "voices"), "vi-bac", "Xin chào. Tạm biệt.", home / "cache")
    stats = json.loads(run(home, "cache", "stats", "--json")[1])
    assert stats["entries"] == 2 and stats["by_engine"]["espeak"]["entries"] == 2
    assert stats["bytes"] > 0 and stats["max_bytes"] >= stats["bytes"]
    code, out, _ = run(home, "cache", "stats")
    assert code == 0 and "2 clips" in out
    code, out, _ = run(home, "cache", "clear")
    assert code == 0 and out.strip() == "2"
    assert json.loads(run(home, "cache", "stats", "--json")[1])["entries"] == 0
