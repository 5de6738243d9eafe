"""Piper through its real load → phonemize → onnxruntime path, on a tiny model built with onnx.helper.

The fake model turns each phoneme id into HOP samples of value id/256 (+ sid/64), so the audio's
length and values trace exactly what piper fed it: tone digits included or not.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tts_fakes import (
    HOP,
    PIPER_MISSING,
    needs_piper_reason,
    piper_config,
    piper_model_bytes,
    write_piper_voice,
)

from studio.errors import ConfigError, EngineError
from studio.tts.cache import synthesize_cached
from studio.tts.registry import VoiceRegistry, load_voice_file

pytestmark = pytest.mark.skipif(bool(PIPER_MISSING), reason=needs_piper_reason())


def _import(model: Path, voices_dir: Path, **kw):  # type: ignore[no-untyped-def]
    from studio.tts.piper import import_voice

    return import_voice(model, voices_dir, **kw)


def _workspace_files(voices_dir: Path) -> list[str]:
    return sorted(p.name for p in voices_dir.iterdir())


def test_import_copies_the_voice_with_its_sha256_and_writes_a_profile(piper_model: Path,
                                                                      workspace_voices: Path) -> None:
    from studio.tts.piper import sha256_file

    done = _import(piper_model, workspace_voices)
    assert done.profile.id == "piper-vi-vn-test-x-low"
    assert _workspace_files(workspace_voices) == sorted(
        ["piper-vi-vn-test-x-low.toml", "vi_VN-test-x_low.onnx", "vi_VN-test-x_low.onnx.json"])
    assert done.sha256 == sha256_file(piper_model) == sha256_file(done.model_path)
    profile = load_voice_file(done.profile_path)
    assert profile.engine == "piper" and profile.options["sha256"] == done.sha256
    assert profile.engine_voice == "vi_VN-test-x_low.onnx"  # relative: survives moving the workspace
    assert profile.fallback == "vi-bac" and not profile.online
    reg = VoiceRegistry(workspace_voices)
    assert reg.status(profile.id).installed


def test_speaks_through_the_real_piper_path(piper_model: Path, workspace_voices: Path) -> None:
    from piper import PiperVoice

    done = _import(piper_model, workspace_voices)
    reg = VoiceRegistry(workspace_voices)
    engine = reg.engine("piper")
    out = engine.synthesize("Xin chào bà con. Hôm nay trời đẹp.", reg.get(done.profile.id))
    assert out.sample_rate == 22050 and out.engine == "piper"
    # the same ids piper's own phonemizer makes, HOP samples each, one chunk per sentence
    ids = [len(PiperVoice.load(piper_model).phonemes_to_ids(p))
           for p in PiperVoice.load(piper_model).phonemize("Xin chào bà con. Hôm nay trời đẹp.")]
    assert len(out.samples) == sum(ids) * HOP
    assert [t.text for t in out.timings] == ["Xin chào bà con.", "Hôm nay trời đẹp."]
    assert out.timings[0].end_s == pytest.approx(ids[0] * HOP / 22050)


def test_the_six_tones_reach_the_model(piper_model: Path, workspace_voices: Path) -> None:
    """ma/mả/mã/mạ must not collapse: the tone digit is one more phoneme (+ pad) for the model."""
    done = _import(piper_model, workspace_voices)
    reg = VoiceRegistry(workspace_voices)
    voice, engine = reg.get(done.profile.id), reg.engine("piper")
    plain = engine.synthesize("ma", voice).samples
    toned = {w: engine.synthesize(w, voice).samples for w in ("mả", "mã", "mạ", "mà")}
    for word, audio in toned.items():
        assert len(audio) == len(plain) + 2 * HOP, word
    blocks = {w: tuple(np.round(a[::HOP], 4)) for w, a in toned.items()}
    assert len(set(blocks.values())) == 4, "each tone gives the model a different input"


def test_bulletin_render_is_48k_and_cached(piper_model: Path, workspace_voices: Path, tmp_path: Path) -> None:
    done = _import(piper_model, workspace_voices)
    reg = VoiceRegistry(workspace_voices)
    out = synthesize_cached(reg, done.profile.id, "Xin chào bà con. Hôm nay trời đẹp.", tmp_path / "cache")
    assert out.sample_rate == 48000 and out.voice_id == done.profile.id and out.fallback_from == ""
    assert len(out.timings) == 2
    clips = list((tmp_path / "cache" / "speech" / "piper").rglob("*.clip"))
    assert len(clips) == 2


def test_multi_speaker_voice_feeds_sid(tmp_path: Path, workspace_voices: Path) -> None:
    model = write_piper_voice(tmp_path / "dl", "vi_VN-multi-x_low", num_speakers=3)
    done = _import(model, workspace_voices)
    assert done.profile.options["speaker"] == "spk0"
    reg = VoiceRegistry(workspace_voices)
    voice = reg.get(done.profile.id)
    engine = reg.engine("piper")
    a = engine.synthesize("xin chào", voice).samples
    b = engine.synthesize("xin chào", replace(voice, options={**voice.options, "speaker": "spk2"})).samples
    assert a.shape == b.shape and not np.allclose(a, b)
    with pytest.raises(ConfigError, match="speaker 'spk9' is not in the model"):
        engine.synthesize("xin chào", replace(voice, options={**voice.options, "speaker": "spk9"}))


def test_shipped_example_becomes_installed_once_imported(tmp_path: Path, workspace_voices: Path) -> None:
    reg = VoiceRegistry(workspace_voices)
    shipped = reg.get("piper-vi-vn-vais1000-medium")
    assert not reg.status(shipped).installed
    model = write_piper_voice(tmp_path / "dl", "vi_VN-vais1000-medium", dataset="vais1000")
    done = _import(model, workspace_voices, template=shipped)
    assert done.profile.id == shipped.id
    assert done.profile.name == shipped.name and "CC BY 4.0" in done.profile.attribution
    assert VoiceRegistry(workspace_voices).status(shipped.id).installed


# --- refusals: nothing is written into the workspace ------------------------------------------------

def _config_without(key: str) -> dict:
    config = piper_config()
    del config[key]
    return config


@pytest.mark.parametrize(("config", "message"), [
    (piper_config(tones=False), "lacks the Vietnamese tone symbols 2 4 5 6"),
    (piper_config(sample_rate=22000), "'audio.sample_rate' is 22000"),
    (piper_config(sample_rate="22050"), "'audio.sample_rate' is '22050'"),
    (_config_without("phoneme_id_map"), "'phoneme_id_map' is missing or empty"),
    (_config_without("audio"), "'audio.sample_rate' is missing"),
    (_config_without("espeak"), "'espeak.voice' is missing"),
    ({**piper_config(), "num_symbols": 10}, "uses id"),
    ({**piper_config(), "phoneme_type": "pinyin"}, "'phoneme_type' is 'pinyin'"),
])
def test_bad_configs_are_refused(tmp_path: Path, workspace_voices: Path, config: dict, message: str) -> None:
    model = write_piper_voice(tmp_path / "dl", config=config)
    with pytest.raises(ConfigError) as err:
        _import(model, workspace_voices)
    assert message in err.value.message
    assert f"{model}.json" in err.value.message
    assert _workspace_files(workspace_voices) == []


def test_a_non_vietnamese_voice_needs_no_tone_digits(tmp_path: Path, workspace_voices: Path) -> None:
    config = piper_config(tones=False, espeak_voice="en-us", language="en_US")
    model = write_piper_voice(tmp_path / "dl", "en_US-test-x_low", config=config)
    done = _import(model, workspace_voices)
    assert done.info.espeak_voice == "en-us"


@pytest.mark.parametrize(("model_bytes", "message"), [
    (b"\x08\x07garbage that is not a protobuf" * 40, "not a loadable ONNX model"),
    (b"", "not a loadable ONNX model"),
])
def test_corrupt_models_are_refused(tmp_path: Path, workspace_voices: Path, model_bytes: bytes,
                                    message: str) -> None:
    model = write_piper_voice(tmp_path / "dl", model=model_bytes)
    with pytest.raises(ConfigError, match=message):
        _import(model, workspace_voices)
    assert _workspace_files(workspace_voices) == []


def test_wrong_signatures_are_refused(tmp_path: Path, workspace_voices: Path) -> None:
    from onnx import TensorProto

    cases = [
        (piper_model_bytes(input_dtype=TensorProto.FLOAT), "input 'input' is tensor(float)"),
        (piper_model_bytes(extra_input=True), "extra input(s) extra"),
        (piper_model_bytes(num_speakers=2), "extra input(s) sid (the config says one speaker)"),
    ]
    for model_bytes, message in cases:
        model = write_piper_voice(tmp_path / "dl", model=model_bytes)
        with pytest.raises(ConfigError) as err:
            _import(model, workspace_voices)
        assert message in err.value.message
    model = write_piper_voice(tmp_path / "dl", model=piper_model_bytes(), num_speakers=2)
    with pytest.raises(ConfigError, match="no input 'sid'"):
        _import(model, workspace_voices)
    assert _workspace_files(workspace_voices) == []


def test_missing_files_are_clear_errors(tmp_path: Path, workspace_voices: Path) -> None:
    with pytest.raises(ConfigError, match="model file does not exist"):
        _import(tmp_path / "nowhere.onnx", workspace_voices)
    model = write_piper_voice(tmp_path / "dl")
    Path(f"{model}.json").unlink()
    with pytest.raises(ConfigError, match=r"config file does not exist \(a Piper voice is X.onnx \+ X"):
        _import(model, workspace_voices)
    Path(f"{model}.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid JSON"):
        _import(model, workspace_voices)
    with pytest.raises(ConfigError, match="expected a Piper model file named X.onnx"):
        _import(Path(f"{model}.json"), workspace_voices)
    assert _workspace_files(workspace_voices) == []


def test_existing_voice_needs_force(piper_model: Path, workspace_voices: Path) -> None:
    _import(piper_model, workspace_voices)
    with pytest.raises(ConfigError, match="already exists in the workspace; use --force"):
        _import(piper_model, workspace_voices)
    _import(piper_model, workspace_voices, force=True, name="Giọng mới")
    assert load_voice_file(workspace_voices / "piper-vi-vn-test-x-low.toml").name == "Giọng mới"
    assert not [n for n in _workspace_files(workspace_voices) if n.endswith(".tmp")]


# --- after import: the model breaks ----------------------------------------------------------------

def test_a_model_changed_after_import_is_caught_by_its_sha256(piper_model: Path, workspace_voices: Path,
                                                              tmp_path: Path) -> None:
    done = _import(piper_model, workspace_voices)
    data = bytearray(done.model_path.read_bytes())
    data[-5] ^= 0xFF
    done.model_path.write_bytes(bytes(data))
    reg = VoiceRegistry(workspace_voices)
    with pytest.raises(EngineError, match="does not match its sha256"):
        synthesize_cached(reg, done.profile.id, "Xin chào.", tmp_path / "cache", allow_fallback=False)
    out = synthesize_cached(reg, done.profile.id, "Xin chào.", tmp_path / "cache")
    assert (out.voice_id, out.fallback_from) == ("vi-bac", done.profile.id)


def test_a_deleted_model_is_not_installed_and_falls_back(piper_model: Path, workspace_voices: Path) -> None:
    done = _import(piper_model, workspace_voices)
    os.unlink(done.model_path)
    reg = VoiceRegistry(workspace_voices)
    status = reg.status(done.profile.id)
    assert not status.installed and "not found" in status.reason
    with pytest.raises(EngineError, match="not found"):
        synthesize_cached(reg, done.profile.id, "Xin chào.", None, allow_fallback=False)
    assert synthesize_cached(reg, done.profile.id, "Xin chào.", None).fallback_from == done.profile.id


def test_a_config_broken_after_import_is_an_engine_error(piper_model: Path, workspace_voices: Path) -> None:
    done = _import(piper_model, workspace_voices)
    config = json.loads(done.config_path.read_text(encoding="utf-8"))
    config["audio"]["sample_rate"] = 0
    done.config_path.write_text(json.dumps(config), encoding="utf-8")
    reg = VoiceRegistry(workspace_voices)
    with pytest.raises(EngineError, match="'audio.sample_rate' is 0"):
        reg.engine("piper").synthesize("xin chào", reg.get(done.profile.id))


def test_empty_text_is_an_engine_error(piper_model: Path, workspace_voices: Path) -> None:
    done = _import(piper_model, workspace_voices)
    reg = VoiceRegistry(workspace_voices)
    with pytest.raises(EngineError, match="empty text"):
        reg.engine("piper").synthesize("   ", reg.get(done.profile.id))
