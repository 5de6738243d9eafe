"""Rendering a stored bulletin: captions match the audio, loudness meets the profile, the duration is the
sum of the parts, jingles and the ducked bed are where they belong, re-renders speak only what changed."""

from __future__ import annotations

from threading import Event

import numpy as np
import pytest

from studio.audio.io import measure_file, read_audio
from studio.compose import edit_item_and_recompose, new_draft
from studio.config import Workspace
from studio.errors import Cancelled, InputError
from studio.package.captions import parse_srt, parse_webvtt
from studio.produce import PROGRAMME_RATE_HZ, load_asset, render_bulletin, render_programme
from studio.store import Store
from studio.tts.registry import VoiceRegistry
from tests.bulletin.conftest import add_items

MAX_CAPTION_ERROR_S = 0.100


def _activity(samples: np.ndarray) -> np.ndarray:
    """Where there is sound: above −60 dB relative to the signal's peak."""
    mono = samples if samples.ndim == 1 else samples.mean(axis=1)
    return np.abs(mono) > np.max(np.abs(mono)) * 1e-3


def caption_errors(samples: np.ndarray, rate: int, cues: list[tuple[float, float, str]]) -> list[float]:
    """|caption start − sound onset| and |caption end − sound offset| for every cue, in seconds.

    Onsets are searched from 0.3 s before the cue (inside the pause before it) to its end."""
    active = _activity(samples)
    errors = []
    for start, end, _text in cues:
        lo, hi = int(max(0.0, start - 0.3) * rate), int(min(len(active) / rate, end + 0.3) * rate)
        idx = np.flatnonzero(active[lo:hi])
        assert idx.size, f"no sound at all under caption {start:.3f}–{end:.3f}"
        errors += [abs((lo + idx[0]) / rate - start), abs((lo + idx[-1]) / rate - end)]
    return errors


def test_render_captions_loudness_duration(ws: Workspace, store: Store) -> None:
    ids = add_items(store)
    bulletin_id = new_draft(store, ws.settings, "ban-tin", ids, extra_dir=ws.home / "templates")
    seen: list[float] = []
    result = render_bulletin(ws, store, bulletin_id, profiles=["phat-song"], on_progress=lambda f, _w: seen.append(f))
    p = result.programme

    # Duration: exactly the parts laid end to end, and the written file is that long.
    assert p.parts[0].start_s == 0.0
    assert all(a.end_s == pytest.approx(b.start_s, abs=1e-9) for a, b in zip(p.parts, p.parts[1:], strict=False))
    assert p.duration_s == pytest.approx(sum(x.end_s - x.start_s for x in p.parts), abs=1e-9)
    assert p.duration_s == pytest.approx(p.parts[-1].end_s, abs=1e-9)
    (rendition,) = result.renditions
    assert rendition.report.duration_s == pytest.approx(p.duration_s, abs=0.001)

    # Loudness of the file itself meets the profile.
    measured = measure_file(rendition.path)
    assert abs(measured.integrated_lufs - (-23.0)) <= rendition.profile.tolerance_lu
    assert measured.true_peak_dbtp <= rendition.profile.true_peak_dbtp

    # Captions (both files) match the sound in the rendered file within 100 ms.
    vtt = parse_webvtt(result.captions[0].read_text(encoding="utf-8"))
    srt = parse_srt(result.captions[1].read_text(encoding="utf-8"))
    assert [c[2] for c in vtt] == [c.text for c in p.cues] and [c[:2] for c in srt] == [c[:2] for c in vtt]
    assert vtt[0][2].startswith("Đây là Đài Truyền thanh xã Nghĩa Hà.")
    audio, rate = read_audio(rendition.path)
    errors = caption_errors(audio, rate, vtt)
    assert max(errors) <= MAX_CAPTION_ERROR_S, max(errors)
    assert max(caption_errors(p.samples, p.sample_rate, [(c.start_s, c.end_s, c.text) for c in p.cues])) <= 0.1

    # Progress runs forward to 1; history and audit are kept.
    assert seen == sorted(seen) and seen[-1] == 1.0
    (history,) = store.renders(bulletin_id)
    assert history.profile == "phat-song" and history.voice_id == "fake" and len(history.captions) == 2
    actions = [a["action"] for a in store.audit_log(50)]
    for step in ("render.start", "render.programme", "render.rendition", "render.done"):
        assert step in actions
    assert {store.get_item(i).state for i in ids} == {"used"}


def test_jingles_are_in_the_programme(ws: Workspace, store: Store) -> None:
    ids = add_items(store)
    bulletin_id = new_draft(store, ws.settings, "ban-tin", ids[:2], extra_dir=ws.home / "templates")
    registry = VoiceRegistry(ws.voices_dir)
    p = render_programme(store.get_bulletin(bulletin_id).bulletin, registry, "fake", cache_dir=ws.cache_dir)
    jingles = [part for part in p.parts if part.kind == "jingle"]
    assert [j.label for j in jingles] == ["nhac-hieu", "nhac-cat", "nhac-hieu"]
    for j in jingles:
        start = round(j.start_s * PROGRAMME_RATE_HZ)
        asset = load_asset(j.label)
        np.testing.assert_array_equal(p.samples[start:start + len(asset)], asset)
    cue_spans = [(c.start_s, c.end_s) for c in p.cues]
    assert not any(s < j.end_s and j.start_s < e for j in jingles for s, e in cue_spans)  # never over speech


def test_music_bed_is_ducked_under_speech(ws: Workspace, store: Store) -> None:
    tdir = ws.home / "templates"
    tdir.mkdir(exist_ok=True)
    (tdir / "co-nhac.toml").write_text(
        'id = "co-nhac"\nname = "Có nhạc nền"\nmusic_bed = "nen-nhac"\nbed_level_db = -20\ngap_between_items_s = 3\n'
        'opening = "Mời bà con nghe tin."\nitem = "{{ item.title }}. {{ item.body }}"\nclosing = "Hết tin."\n',
        encoding="utf-8")
    ids = add_items(store)
    registry = VoiceRegistry(ws.voices_dir)
    with_bed = store.get_bulletin(new_draft(store, ws.settings, "co-nhac", ids[:1], extra_dir=tdir)).bulletin
    from dataclasses import replace

    plain = render_programme(replace(with_bed, music_bed=""), registry, "fake", cache_dir=ws.cache_dir)
    mixed = render_programme(with_bed, registry, "fake", cache_dir=ws.cache_dir, assets_dir=tdir)
    assert mixed.duration_s == plain.duration_s
    bed = mixed.samples - plain.samples
    rate = PROGRAMME_RATE_HZ

    def rms_db(parts: list[tuple[float, float]]) -> float:
        x = np.concatenate([bed[int(s * rate):int(e * rate)] for s, e in parts])
        return float(20 * np.log10(np.sqrt(np.mean(x ** 2))))

    speech = [(c.start_s + 0.3, c.end_s - 0.3) for c in plain.cues if c.end_s - c.start_s > 1.0]
    gaps = [(x.start_s + 0.8, x.end_s - 0.8) for x in plain.parts if x.kind == "gap" and x.end_s - x.start_s >= 3]
    assert gaps and speech
    assert rms_db(gaps) - rms_db(speech) > 8.0  # ducked by ~12 dB under speech, back up in the pauses


def test_rerender_after_editing_one_item_speaks_only_the_changed_sentence(
        ws: Workspace, store: Store, engine_calls: list[str]) -> None:
    ids = add_items(store)
    bulletin_id = new_draft(store, ws.settings, "ban-tin", ids, extra_dir=ws.home / "templates")
    first = render_bulletin(ws, store, bulletin_id, profiles=["phat-song"])
    n_sentences = len(first.programme.cues)
    assert len(engine_calls) == first.programme.synthesized == len({c.text for c in first.programme.cues})
    assert n_sentences >= 12

    engine_calls.clear()
    again = render_bulletin(ws, store, bulletin_id, profiles=["phat-song"])
    assert engine_calls == [] and again.programme.synthesized == 0 and again.programme.cached == n_sentences

    edit_item_and_recompose(store, ws.settings, bulletin_id, ids[0],
                            body="Thứ Bảy cắt điện từ 7 giờ. Bà con chủ động.", extra_dir=ws.home / "templates")
    engine_calls.clear()
    edited = render_bulletin(ws, store, bulletin_id, profiles=["phat-song"])
    assert len(engine_calls) == 1 and "cat dien tu" in _fold(engine_calls[0])
    assert edited.programme.synthesized == 1 and edited.programme.cached == n_sentences - 1
    assert len(store.bulletin_revisions(bulletin_id)) == 2  # the draft was saved on the change
    assert [r.synthesized for r in store.renders(bulletin_id)] == [1, 0, first.programme.synthesized]


def _fold(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
                   if unicodedata.category(c) != "Mn")


def test_cancel_stops_the_render(ws: Workspace, store: Store) -> None:
    ids = add_items(store)
    bulletin_id = new_draft(store, ws.settings, "thong-bao", ids[:1], extra_dir=ws.home / "templates")
    cancel = Event()

    def progress(fraction: float, _what: str) -> None:
        if fraction > 0.2:
            cancel.set()

    with pytest.raises(Cancelled):
        render_bulletin(ws, store, bulletin_id, profiles=["phat-song"], cancel=cancel, on_progress=progress)
    assert store.renders(bulletin_id) == []
    assert store.audit_log(1)[0]["action"] == "render.cancelled"


def test_profiles_the_stage_cannot_write(ws: Workspace, store: Store) -> None:
    ids = add_items(store)
    bulletin_id = new_draft(store, ws.settings, "thong-bao", ids[:1], extra_dir=ws.home / "templates")
    with pytest.raises(InputError, match="'bang-tin': container 'mp4' is made by the package stage"):
        render_bulletin(ws, store, bulletin_id, profiles=["bang-tin"])


def test_item_in_error_cannot_be_composed(ws: Workspace, store: Store) -> None:
    bad, _ = store.add_failed_item("ubnd-xa", "9", "title: required field is missing")
    with pytest.raises(InputError, match="item .* is in state 'lỗi'"):
        new_draft(store, ws.settings, "ban-tin", [bad], extra_dir=ws.home / "templates")
