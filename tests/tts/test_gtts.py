"""gTTS against a loopback fake server: the request, the decoded audio, the deadline and the fallback.

Never the real service: `gtts_server` and `dead_gtts` redirect gtts.tts._translate_url to loopback.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tts_fakes import SECONDS_PER_CHAR, FakeGttsServer

from studio.errors import Cancelled, ConfigError, EngineError
from studio.tts.cache import synthesize_cached
from studio.tts.gtts import DEFAULT_DEADLINE_S, GttsEngine
from studio.tts.registry import VoiceRegistry

DEADLINE_S = 1.0


@pytest.fixture
def quick_gtts(registry: VoiceRegistry) -> VoiceRegistry:
    """vi-gtts with a 1 s deadline (the shipped 15 s, made short for tests)."""
    voice = registry.get("vi-gtts")
    registry.add(replace(voice, options={**voice.options, "deadline_s": DEADLINE_S}))
    return registry


def test_shipped_voice_has_the_default_15_s_deadline() -> None:
    voice = VoiceRegistry(None).get("vi-gtts")
    assert DEFAULT_DEADLINE_S == 15.0
    assert voice.options["deadline_s"] == 15.0
    assert voice.options["lang"] == "vi"


def test_request_is_vietnamese_and_the_mp3_answer_is_decoded(gtts_server: FakeGttsServer,
                                                             registry: VoiceRegistry) -> None:
    voice = registry.get("vi-gtts")
    out = GttsEngine().synthesize("Xin chào bà con", voice)
    assert gtts_server.requests == [["Xin chào bà con", "vi", None, "null"]]
    assert out.sample_rate == 24000 and out.engine == "gtts" and out.voice_id == "vi-gtts"
    # the fake server answers 60 ms per character; MP3 adds under 0.1 s of encoder padding
    assert out.duration_s == pytest.approx(len("Xin chào bà con") * SECONDS_PER_CHAR, abs=0.1)
    assert np.sqrt(np.mean(out.samples ** 2)) > 0.1
    assert out.timings[0].text == "Xin chào bà con"


def test_bulletin_is_read_sentence_by_sentence_and_cached(gtts_server: FakeGttsServer,
                                                          registry: VoiceRegistry, tmp_path: Path) -> None:
    text = "Xin chào bà con. Hôm nay trời đẹp."
    out = synthesize_cached(registry, "vi-gtts", text, tmp_path / "cache")
    # what gTTS is sent is the text front-end's spoken form of each sentence
    assert [r[0].lower() for r in gtts_server.requests] == ["xin chào bà con.", "hôm nay trời đẹp."]
    assert out.voice_id == "vi-gtts" and out.fallback_from == "" and out.sample_rate == 48000
    assert [t.text for t in out.timings] == ["Xin chào bà con.", "Hôm nay trời đẹp."]
    again = synthesize_cached(registry, "vi-gtts", text, tmp_path / "cache")
    assert len(gtts_server.requests) == 2, "the second render needs no network"
    np.testing.assert_array_equal(out.samples, again.samples)


def test_stalled_server_falls_back_within_the_deadline(gtts_server: FakeGttsServer, quick_gtts: VoiceRegistry,
                                                       tmp_path: Path) -> None:
    gtts_server.mode = "stall"
    start = time.monotonic()
    out = synthesize_cached(quick_gtts, "vi-gtts", "Xin chào bà con. Hôm nay trời đẹp.", tmp_path / "cache")
    elapsed = time.monotonic() - start
    assert DEADLINE_S <= elapsed < DEADLINE_S + 1.0
    assert out.fallback_from == "vi-gtts"
    assert out.voice_id == "vi-bac" and out.engine == "espeak"
    assert any("deadline" in note and "read by vi-bac" in note for note in out.notes)
    assert len(out.timings) == 2 and out.duration_s > 1.0
    assert len(gtts_server.requests) == 1, "one stalled sentence moves the whole bulletin to the fallback"


def test_offline_falls_back_at_once(dead_gtts: str, registry: VoiceRegistry, tmp_path: Path) -> None:
    start = time.monotonic()
    out = synthesize_cached(registry, "vi-gtts", "Xin chào bà con.", tmp_path / "cache")
    assert time.monotonic() - start < 2.0
    assert (out.voice_id, out.fallback_from) == ("vi-bac", "vi-gtts")
    assert any("connect" in note.lower() for note in out.notes)


def test_a_recent_failure_skips_the_network(gtts_server: FakeGttsServer, registry: VoiceRegistry,
                                            tmp_path: Path) -> None:
    gtts_server.mode = "http500"
    first = synthesize_cached(registry, "vi-gtts", "Câu thứ nhất.", tmp_path / "cache")
    second = synthesize_cached(registry, "vi-gtts", "Câu thứ hai.", tmp_path / "cache")
    assert first.fallback_from == second.fallback_from == "vi-gtts"
    assert len(gtts_server.requests) == 1
    assert any("failed recently" in note for note in second.notes)


def test_retry_after_zero_tries_every_time(gtts_server: FakeGttsServer, registry: VoiceRegistry) -> None:
    gtts_server.mode = "http500"
    voice = registry.get("vi-gtts")
    registry.add(replace(voice, options={**voice.options, "retry_after_s": 0}))
    for _ in range(2):
        out = synthesize_cached(registry, "vi-gtts", "Xin chào.", None)
        assert out.fallback_from == "vi-gtts"
    assert len(gtts_server.requests) == 2


def test_without_fallback_the_failure_is_a_clear_engine_error(gtts_server: FakeGttsServer,
                                                              quick_gtts: VoiceRegistry) -> None:
    gtts_server.mode = "stall"
    start = time.monotonic()
    with pytest.raises(EngineError) as err:
        synthesize_cached(quick_gtts, "vi-gtts", "Xin chào.", None, allow_fallback=False)
    assert time.monotonic() - start < DEADLINE_S + 1.0
    assert "vi-gtts" in err.value.message and "1 s deadline" in err.value.message


@pytest.mark.parametrize(("mode", "message"), [
    ("http500", "500"),
    ("no-audio", "answered without audio"),
    ("not-mp3", "not decodable MP3"),
])
def test_bad_answers_are_engine_errors(gtts_server: FakeGttsServer, registry: VoiceRegistry, mode: str,
                                       message: str) -> None:
    gtts_server.mode = mode
    with pytest.raises(EngineError, match=message):
        GttsEngine().synthesize("Xin chào.", registry.get("vi-gtts"))


def test_cancel_interrupts_the_wait(gtts_server: FakeGttsServer, registry: VoiceRegistry) -> None:
    gtts_server.mode = "stall"
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        synthesize_cached(registry, "vi-gtts", "Xin chào.", None, cancel=cancel)
    assert time.monotonic() - start < 1.0


def test_fallback_that_fails_too_reports_both(dead_gtts: str, registry: VoiceRegistry) -> None:
    voice = registry.get("vi-gtts")
    registry.add(replace(voice, fallback="vi-hue"))
    with pytest.raises(EngineError) as err:
        synthesize_cached(registry, "vi-gtts", "Xin chào.", None)
    assert "vi-gtts" in err.value.message and "'vi-hue' does not exist" in err.value.message


def test_empty_text_and_bad_options_are_rejected(registry: VoiceRegistry) -> None:
    voice = registry.get("vi-gtts")
    with pytest.raises(EngineError, match="empty text"):
        GttsEngine().synthesize("  ", voice)
    with pytest.raises(ConfigError, match="deadline_s"):
        GttsEngine().synthesize("Xin chào.", replace(voice, options={"deadline_s": "soon"}))
    with pytest.raises(ConfigError, match="deadline_s"):
        GttsEngine().synthesize("Xin chào.", replace(voice, options={"deadline_s": 0}))
