"""synthesize_cached and SpeechCache: sentences, pauses, 48 kHz, timings, hits, LRU, concurrency."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from studio.errors import Cancelled, InputError
from studio.models import VoiceProfile
from studio.tts.base import Rendered
from studio.tts.cache import OUTPUT_RATE_HZ, SpeechCache, synthesize_cached
from studio.tts.fake import FakeEngine
from studio.tts.registry import VoiceRegistry

TEXT = "Xin chào bà con. Hôm nay trời nắng đẹp. Mời bà con ra đồng làm việc."


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the fake engine is asked to speak."""
    seen: list[str] = []
    original = FakeEngine.synthesize

    def counting(self: FakeEngine, text: str, voice: VoiceProfile, *, cancel: threading.Event | None = None
                 ) -> Rendered:
        seen.append(text)
        return original(self, text, voice, cancel=cancel)

    monkeypatch.setattr(FakeEngine, "synthesize", counting)
    return seen


def test_render_is_48k_with_one_timing_per_sentence(registry: VoiceRegistry, tmp_path: Path) -> None:
    out = synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    assert out.sample_rate == OUTPUT_RATE_HZ == 48000
    assert out.samples.dtype == np.float32 and out.samples.ndim == 1
    assert [t.text for t in out.timings] == ["Xin chào bà con.", "Hôm nay trời nắng đẹp.",
                                             "Mời bà con ra đồng làm việc."]
    for a, b in zip(out.timings, out.timings[1:], strict=False):
        assert a.end_s > a.start_s
        assert b.start_s - a.end_s >= 0.2  # a pause between sentences
    assert out.timings[-1].end_s == pytest.approx(out.duration_s, abs=1e-6)
    # the fake engine speaks 60 ms per character (a Hann-windowed tone, then 0.2 s of silence): the
    # 48 kHz span keeps the tone's length less its near-silent window tails, and drops the padding
    first = out.timings[0]
    assert first.end_s - first.start_s == pytest.approx(len("Xin chào bà con.") * 0.06, abs=0.03)
    # the audio in a timing's span is the sentence (non-silent), the pause after it is silence
    rate = out.sample_rate
    span = out.samples[int(first.start_s * rate):int(first.end_s * rate)]
    gap = out.samples[int(first.end_s * rate) + 10:int(out.timings[1].start_s * rate) - 10]
    assert np.sqrt(np.mean(span ** 2)) > 0.05
    assert np.max(np.abs(gap)) < 1e-3


def test_second_render_comes_from_the_cache(registry: VoiceRegistry, tmp_path: Path,
                                            calls: list[str]) -> None:
    first = synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    assert len(calls) == 3
    cache = SpeechCache(tmp_path / "cache" / "speech")
    second = synthesize_cached(registry, "fake", TEXT, cache)
    assert len(calls) == 3, "nothing synthesized again"
    assert (cache.hits, cache.misses) == (3, 0)
    np.testing.assert_array_equal(first.samples, second.samples)
    assert first.timings == second.timings


def test_one_changed_sentence_is_the_only_one_synthesized_again(registry: VoiceRegistry, tmp_path: Path,
                                                               calls: list[str]) -> None:
    synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    calls.clear()
    changed = TEXT.replace("nắng đẹp", "mưa to")
    cache = SpeechCache(tmp_path / "cache" / "speech")
    synthesize_cached(registry, "fake", changed, cache)
    assert [c.lower() for c in calls] == ["hôm nay trời mưa to."]
    assert (cache.hits, cache.misses) == (2, 1)


def test_cache_key_follows_sound_parameters_not_failure_handling() -> None:
    voice = VoiceProfile(id="a", name="A", engine="gtts", options={"deadline_s": 15.0})
    key = SpeechCache.key("gtts:2.5", voice, "xin chào")
    assert SpeechCache.key("gtts:2.5", replace(voice, id="b", name="B"), "xin chào") == key
    assert SpeechCache.key("gtts:2.5", replace(voice, options={"deadline_s": 3.0}), "xin chào") == key
    assert SpeechCache.key("gtts:2.5", voice, "xin chào.") != key
    assert SpeechCache.key("gtts:2.6", voice, "xin chào") != key
    assert SpeechCache.key("gtts:2.5", replace(voice, rate_wpm=120), "xin chào") != key
    assert SpeechCache.key("gtts:2.5", replace(voice, options={"tld": "com.vn"}), "xin chào") != key


def test_changed_voice_rate_misses(registry: VoiceRegistry, tmp_path: Path, calls: list[str]) -> None:
    synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    registry.add(replace(registry.get("fake"), rate_wpm=120))
    synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    assert len(calls) == 6


def test_corrupt_clip_is_a_miss_and_is_replaced(registry: VoiceRegistry, tmp_path: Path,
                                                calls: list[str]) -> None:
    synthesize_cached(registry, "fake", "Một câu thôi.", tmp_path / "cache")
    clips = list((tmp_path / "cache" / "speech").rglob("*.clip"))
    assert len(clips) == 1
    clips[0].write_bytes(b"PK\x03\x04 torn")
    out = synthesize_cached(registry, "fake", "Một câu thôi.", tmp_path / "cache")
    assert len(calls) == 2
    assert out.duration_s > 0.5
    assert SpeechCache(tmp_path / "cache" / "speech").get("fake", clips[0].stem) is not None


def test_lru_eviction_keeps_the_cache_under_its_bound(registry: VoiceRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "speech"
    probe = SpeechCache(folder)
    synthesize_cached(registry, "fake", "Câu mẫu số một.", probe)
    clip_bytes = probe.stats().total_bytes
    cache = SpeechCache(folder, max_bytes=int(clip_bytes * 3.5))
    texts = [f"Câu mẫu số {w}." for w in ("hai", "ba", "bốn", "năm", "sáu")]
    for text in texts[:2]:
        synthesize_cached(registry, "fake", text, cache)
    time.sleep(0.02)
    synthesize_cached(registry, "fake", "Câu mẫu số một.", cache)  # a hit: now the most recent
    for text in texts[2:]:
        time.sleep(0.02)
        synthesize_cached(registry, "fake", text, cache)
    stats = cache.stats()
    assert stats.total_bytes <= cache.max_bytes
    assert stats.entries == 3
    hits_before = cache.hits
    synthesize_cached(registry, "fake", texts[-1], cache)
    assert cache.hits == hits_before + 1  # the newest survived
    synthesize_cached(registry, "fake", texts[0], cache)
    assert cache.misses == 6  # the oldest ('hai') was evicted and had to be made again


def test_writes_leave_no_temporary_files_and_stale_ones_are_cleaned(registry: VoiceRegistry,
                                                                     tmp_path: Path) -> None:
    folder = tmp_path / "cache" / "speech"
    synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    clip = next(folder.rglob("*.clip"))
    stale = clip.parent / ".abandoned.clip.123.tmp"
    stale.write_bytes(b"half")
    import os

    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    SpeechCache(folder).stats()
    assert not stale.exists()


def test_concurrent_processes_share_one_cache(tmp_path: Path) -> None:
    """Three processes render the same bulletin into one cache at once: all succeed, every clip is
    whole, and a fourth render finds every sentence cached."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from studio.models import VoiceProfile\n"
        "from studio.tts.cache import synthesize_cached\n"
        "from studio.tts.registry import VoiceRegistry\n"
        "reg = VoiceRegistry(None)\n"
        "reg.add(VoiceProfile(id='fake', name='F', engine='fake'))\n"
        "text = ' '.join(f'Câu thứ {w} của bản tin.' for w in "
        "'một hai ba bốn năm sáu bảy tám chín mười'.split())\n"
        "out = synthesize_cached(reg, 'fake', text, Path(sys.argv[1]))\n"
        "print(len(out.timings), round(out.duration_s, 3))\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "cache")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert len({out for out, _ in results}) == 1
    cache = SpeechCache(tmp_path / "cache" / "speech")
    assert cache.stats().entries == 10
    reg = VoiceRegistry(None)
    reg.add(VoiceProfile(id="fake", name="F", engine="fake"))
    text = " ".join(f"Câu thứ {w} của bản tin." for w in "một hai ba bốn năm sáu bảy tám chín mười".split())
    synthesize_cached(reg, "fake", text, cache)
    assert (cache.hits, cache.misses) == (10, 0)


@pytest.mark.parametrize("text", ["", "   \n  ", "... !!! ???"])
def test_nothing_to_say_is_a_clear_input_error(registry: VoiceRegistry, tmp_path: Path, text: str) -> None:
    with pytest.raises(InputError, match="nothing to say"):
        synthesize_cached(registry, "vi-bac", text, tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.clip"))


def test_cancel_stops_between_sentences(registry: VoiceRegistry, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 1:
            cancel.set()

    with pytest.raises(Cancelled):
        synthesize_cached(registry, "fake", TEXT, tmp_path / "cache", cancel=cancel, on_progress=progress)
    assert seen == [(1, 3)]


def test_progress_reports_every_sentence(registry: VoiceRegistry) -> None:
    seen: list[tuple[int, int]] = []
    synthesize_cached(registry, "fake", TEXT, None, on_progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize("voice_id", ["vi-bac", "vi-trung", "vi-nam"])
def test_espeak_voices_speak_plausibly_at_48k(registry: VoiceRegistry, tmp_path: Path, voice_id: str) -> None:
    out = synthesize_cached(registry, voice_id, TEXT, tmp_path / "cache")
    assert out.voice_id == voice_id and out.engine == "espeak" and out.fallback_from == ""
    assert out.sample_rate == 48000
    # 16 syllables at 150 wpm plus two pauses: a few seconds, not a blip, not a minute
    assert 3.0 < out.duration_s < 12.0
    assert len(out.timings) == 3
    rms = float(np.sqrt(np.mean(out.samples ** 2)))
    assert rms > 0.02
    assert np.max(np.abs(out.samples)) <= 1.0


def test_cache_stats_count_clips_by_engine(registry: VoiceRegistry, tmp_path: Path) -> None:
    synthesize_cached(registry, "fake", TEXT, tmp_path / "cache")
    synthesize_cached(registry, "vi-bac", "Xin chào.", tmp_path / "cache")
    stats = SpeechCache(tmp_path / "cache" / "speech").stats()
    assert stats.entries == 4
    assert stats.by_engine["fake"][0] == 3 and stats.by_engine["espeak"][0] == 1
    assert stats.total_bytes == sum(b for _, b in stats.by_engine.values())
    assert SpeechCache(tmp_path / "cache" / "speech").clear() == 4
    assert SpeechCache(tmp_path / "cache" / "speech").stats().entries == 0


def test_engines_get_the_text_front_ends_spoken_form(registry: VoiceRegistry, calls: list[str]) -> None:
    """No digit, abbreviation or symbol reaches an engine: studio.text.normalize runs per sentence."""
    out = synthesize_cached(registry, "fake", "UBND xã họp lúc 7h30 ngày 30/3. Mời 100% bà con dự.", None)
    assert len(calls) == 2
    assert not any(ch.isdigit() or ch in "%/" for call in calls for ch in call)
    assert "ủy ban nhân dân" in calls[0].lower() or "uỷ ban nhân dân" in calls[0].lower()
    # captions keep the text as written
    assert [t.text for t in out.timings] == ["UBND xã họp lúc 7h30 ngày 30/3.", "Mời 100% bà con dự."]


def test_region_of_the_voice_picks_the_reading(registry: VoiceRegistry, calls: list[str]) -> None:
    registry.add(VoiceProfile(id="fake-nam", name="Giọng thử Nam", engine="fake", region="nam"))
    synthesize_cached(registry, "fake", "Có 1.500 người.", None)
    synthesize_cached(registry, "fake-nam", "Có 1.500 người.", None)
    bac, nam = calls
    assert "nghìn" in bac and "ngàn" in nam
