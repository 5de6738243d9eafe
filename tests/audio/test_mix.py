"""Mixing: gaps, crossfades, fades, running-order assembly and ducking."""

from __future__ import annotations

import numpy as np
import pytest

from studio.audio import mix
from studio.audio.loudness import measure
from studio.errors import AudioFormatError, InputError
from tests.audio import signals as sig

RATE = sig.RATE


def _level_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-30)


def test_concat_with_gaps_has_exact_length_and_silence() -> None:
    a, b = sig.sine(-20.0, 1.0, channels=1)[:, 0], sig.sine(-20.0, 0.5, channels=1)[:, 0]
    y = mix.concat([a, b], RATE, gap_s=0.25)
    assert y.shape == (RATE + RATE // 4 + RATE // 2,)
    assert not y[RATE : RATE + RATE // 4].any()


def test_concat_per_junction_gaps_and_upmix() -> None:
    parts = [
        sig.sine(-20.0, 0.2, channels=1)[:, 0],
        sig.sine(-20.0, 0.2),
        sig.sine(-20.0, 0.2, channels=1)[:, 0],
    ]
    y = mix.concat(parts, RATE, gap_s=[0.1, 0.0])
    assert y.shape == (round(0.7 * RATE), 2)
    with pytest.raises(InputError, match="2 junctions"):
        mix.concat(parts, RATE, gap_s=[0.1])


def test_crossfade_is_equal_power_on_uncorrelated_material() -> None:
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(RATE) * 0.1).astype(np.float32)
    b = (rng.standard_normal(RATE) * 0.1).astype(np.float32)
    y = mix.concat([a, b], RATE, crossfade_s=0.5)
    assert y.shape == (RATE + RATE // 2,)
    middle = y[RATE // 2 : RATE]
    assert _level_db(middle) == pytest.approx(_level_db(a), abs=0.5)


def test_fades() -> None:
    x = sig.sine(-6.0, 1.0)
    y = mix.fade(x, RATE, fade_in_s=0.1, fade_out_s=0.2)
    assert abs(y[0]).max() < 1e-3 and abs(y[-1]).max() < 1e-3
    assert np.array_equal(y[RATE // 2], x[RATE // 2])
    with pytest.raises(InputError, match="curve"):
        mix.fade(x, RATE, fade_in_s=0.1, curve="exp")


def test_assemble_never_overlaps_jingles_with_speech() -> None:
    jingle = mix.Clip(sig.sine(-10.0, 1.0, freq_hz=440)[:, 0], kind="jingle", crossfade_s=0.5)
    sting = mix.Clip(sig.sine(-10.0, 0.5, freq_hz=660)[:, 0], kind="jingle")
    speech = mix.Clip(sig.programme(2.0, channels=1)[:, 0], kind="speech", crossfade_s=1.0)
    y, placed = mix.assemble([jingle, sting, speech, jingle], RATE, gap_s=0.0, jingle_gap_s=0.3)
    kinds = [p.kind for p in placed]
    assert kinds == ["jingle", "jingle", "speech", "jingle"]
    assert placed[1].start_s == pytest.approx(0.5)  # jingle → jingle crossfade honoured
    assert placed[2].start_s >= placed[1].end_s + 0.3 - 1e-9  # jingle → speech: gap, no overlap
    assert placed[3].start_s >= placed[2].end_s + 0.3 - 1e-9  # speech crossfade ignored
    assert y.shape[0] == round(placed[-1].end_s * RATE)


def test_duck_lowers_bed_under_speech_and_stays_audible() -> None:
    bed = sig.sine(-20.0, 2.0, freq_hz=220)
    speech = np.concatenate(
        [
            np.zeros((3 * RATE, 1), np.float32),
            sig.programme(3.0, channels=1, seed=3),
            np.zeros((4 * RATE, 1), np.float32),
        ]
    )
    ducked = mix.duck(bed, speech, RATE, depth_db=-12.0, attack_s=0.05, release_s=0.5, hold_s=0.2)
    assert ducked.shape == (speech.shape[0], 2)  # looped to the speech length
    before = _level_db(ducked[RATE : 2 * RATE])
    during = _level_db(ducked[4 * RATE : 5 * RATE])
    after = _level_db(ducked[9 * RATE : 10 * RATE])
    assert during == pytest.approx(before - 12.0, abs=1.0)
    assert after == pytest.approx(before, abs=0.2)
    assert during > before - 20.0  # stays audible
    recovering = _level_db(ducked[6 * RATE + RATE // 4 : 6 * RATE + RATE // 2])
    assert during < recovering < before  # release takes time


def test_mix_bed_sums_under_speech() -> None:
    speech = sig.programme(3.0, channels=1, seed=5)[:, 0]
    bed = sig.sine(-10.0, 1.0, freq_hz=110)[:, 0]
    out = mix.mix_bed(speech, bed, RATE, bed_level_db=-20.0, depth_db=-10.0)
    assert out.shape == speech.shape
    assert measure(out, RATE).integrated_lufs == pytest.approx(measure(speech, RATE).integrated_lufs, abs=0.5)


@pytest.mark.parametrize(
    "kwargs, message", [({"depth_db": -80.0}, "depth_db"), ({"attack_s": 0.0}, "attack_s")]
)
def test_duck_validates(kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        mix.duck(sig.sine(-20.0, 1.0), sig.sine(-20.0, 1.0), RATE, **kwargs)


def test_to_channels() -> None:
    st = mix.to_channels(sig.sine(-20.0, 0.1, channels=1)[:, 0], 2)
    assert st.shape == (4800, 2) and np.array_equal(st[:, 0], st[:, 1])
    assert mix.to_channels(st, 1).shape == (4800,)
    with pytest.raises(AudioFormatError, match="6 channels"):
        mix.to_channels(np.zeros((10, 6), np.float32), 2)


def test_silence() -> None:
    assert mix.silence(0.5, RATE).shape == (24000,)
    with pytest.raises(InputError, match="silence duration"):
        mix.silence(-1.0, RATE)
