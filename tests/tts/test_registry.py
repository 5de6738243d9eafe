"""Voice profiles: shipped and workspace voices, errors that list what exists, install status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from studio.errors import ConfigError
from studio.models import VoiceProfile
from studio.tts.registry import ENGINES, VoiceRegistry, load_voice_file

SHIPPED = {"vi-bac", "vi-trung", "vi-nam", "vi-gtts", "piper-vi-vn-vais1000-medium"}


def test_shipped_voices_cover_every_engine_but_the_fake() -> None:
    reg = VoiceRegistry(None)
    assert SHIPPED <= set(reg.ids())
    assert {p.engine for p in reg.profiles()} == set(ENGINES) - {"fake"}


def test_unknown_voice_lists_the_voices_that_exist(registry: VoiceRegistry) -> None:
    with pytest.raises(ConfigError) as err:
        registry.get("vi-hue")
    assert "'vi-hue' does not exist" in err.value.message
    for voice_id in SHIPPED | {"fake"}:
        assert voice_id in err.value.message


def test_gtts_voice_is_online_with_an_offline_fallback() -> None:
    reg = VoiceRegistry(None)
    voice = reg.get("vi-gtts")
    assert voice.online and voice.engine == "gtts"
    fallback = reg.get(voice.fallback)
    assert not fallback.online and fallback.engine == "espeak"


def test_workspace_voice_overrides_a_shipped_one(workspace_voices: Path) -> None:
    (workspace_voices / "bac.toml").write_text(
        'id = "vi-bac"\nname = "Giọng Bắc chậm"\nengine = "espeak"\nengine_voice = "vi"\nrate_wpm = 120\n',
        encoding="utf-8")
    reg = VoiceRegistry(workspace_voices)
    assert reg.get("vi-bac").rate_wpm == 120
    assert reg.get("vi-bac").name == "Giọng Bắc chậm"


@pytest.mark.parametrize(("body", "message"), [
    ('id = "x"\nname = "X"\nengine = "festival"\n', "field 'engine' is 'festival'; known engines: espeak"),
    ('id = "x"\nname = "X"\n', "field 'engine' is missing"),
    ('id = "x"\nname = "X"\nengine = "espeak"\ncolour = "red"\n', "unknown field(s) colour"),
    ('id = "x"\nname = "X"\nengine = "espeak"\nrate_wpm = 9\n', "rate_wpm"),
    ('id = "x"\nname = [\n', "invalid TOML"),
])
def test_bad_voice_files_name_the_file_and_the_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_voice_file(path)
    assert str(path) in err.value.message
    assert message in err.value.message


def test_status_reports_a_missing_piper_model_without_failing(registry: VoiceRegistry,
                                                              workspace_voices: Path) -> None:
    voice = registry.get("piper-vi-vn-vais1000-medium")
    # relative model paths mean "in the workspace's voices folder", where import copies models
    assert voice.engine_voice == str(workspace_voices / "vi_VN-vais1000-medium.onnx")
    status = registry.status(voice)
    assert not status.installed
    assert "not installed" in status.reason or "not found" in status.reason
    assert "studio voices import" in status.reason or "pip install" in status.reason
    assert registry.status("vi-bac").installed
    assert registry.status("vi-gtts").installed  # installed: whether it answers is decided at run time


def test_piper_profile_without_workspace_is_not_installed() -> None:
    status = VoiceRegistry(None).status("piper-vi-vn-vais1000-medium")
    assert not status.installed
    assert "workspace" in status.reason or "pip install" in status.reason


def test_add_rejects_an_unknown_engine(registry: VoiceRegistry) -> None:
    with pytest.raises(ConfigError, match="engine 'nope' is unknown"):
        registry.add(VoiceProfile(id="x", name="X", engine="nope"))


def test_listing_voices_imports_no_heavy_engine() -> None:
    """Listing and status must not import piper/onnxruntime or gTTS: keep `studio voices list` fast."""
    code = (
        "import sys\n"
        "from studio.tts.registry import VoiceRegistry\n"
        "reg = VoiceRegistry(None)\n"
        "print([reg.status(p).installed for p in reg.profiles()])\n"
        "print(sorted(m for m in ('onnxruntime', 'piper', 'gtts', 'requests') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "[]"
