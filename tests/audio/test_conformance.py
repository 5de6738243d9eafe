"""EBU Tech 3341 (cases 1-6, 9-23) and Tech 3342 (cases 1-4), synthesized from the specs' Table 1
definitions, measured through `studio loudness --json --series-hz 50` and checked against the specs'
tolerances; then the official EBU test WAVs from ../shared/standards (skipped when absent)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from studio.audio.io import measure_file
from studio.audio.loudness import measure
from studio.cli import main
from tests.audio import signals as sig

SERIES_HZ = 50  # a 20 ms grid: cases 13/14 place bursts at 20 ms steps
TOL = 0.1


def _runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every synthesized case written as a 32-bit float BWF, all metered in one CLI call."""
    folder = tmp_path_factory.mktemp("tech3341")
    cases: dict[str, np.ndarray] = {
        "3341-1": sig.case_1(),
        "3341-2": sig.case_2(),
        "3341-3": sig.case_3(),
        "3341-4": sig.case_4(),
        "3341-5": sig.case_5(),
        "3341-6": sig.case_6(),
        "3341-9": sig.case_9(),
        "3341-11": sig.case_11(),
        "3341-12": sig.case_12(),
        "3341-14": sig.case_14(),
    }
    cases.update({f"3341-10-{i}": sig.case_10(i) for i in range(20)})
    cases.update({f"3341-13-{i}": sig.case_13(i) for i in range(20)})
    cases.update({f"3341-{c}": sig.true_peak_case(c) for c in range(15, 24)})
    cases.update({f"3342-{c}": sig.lra_case(c) for c in sig.LRA_CASES})
    paths = []
    for name, x in cases.items():
        path = folder / f"{name}.wav"
        sf.write(path, x, sig.RATE, subtype="FLOAT")  # plain float WAV, independent of our writer
        paths.append(str(path))
    result = _runner().invoke(main, ["loudness", "--json", "--series-hz", str(SERIES_HZ), *paths])
    assert result.exit_code == 0, result.output
    return {Path(obj["path"]).stem: obj for obj in json.loads(result.stdout)}


def _defined(values: list[float | None], from_s: float) -> list[float]:
    start = math.ceil(from_s * SERIES_HZ) - 1
    out = [v for v in values[start:] if v is not None]
    assert out, "no defined values"
    return out


@pytest.mark.parametrize("case, level", [("3341-1", -23.0), ("3341-2", -33.0)])
def test_steady_tone_reads_m_s_i(cli: dict[str, dict], case: str, level: float) -> None:
    obj = cli[case]
    assert obj["integrated_lufs"] == pytest.approx(level, abs=TOL)
    assert obj["max_momentary_lufs"] == pytest.approx(level, abs=TOL)
    assert obj["max_short_term_lufs"] == pytest.approx(level, abs=TOL)
    for value in _defined(obj["momentary_lufs"], 0.4) + _defined(obj["short_term_lufs"], 3.0):
        assert value == pytest.approx(level, abs=TOL)


@pytest.mark.parametrize("case", ["3341-3", "3341-4", "3341-5", "3341-6"])
def test_gated_integrated(cli: dict[str, dict], case: str) -> None:
    assert cli[case]["integrated_lufs"] == pytest.approx(-23.0, abs=TOL)


def test_case_6_is_five_channels(cli: dict[str, dict]) -> None:
    assert cli["3341-6"]["channels"] == 5


def test_case_9_short_term_constant_after_3_s(cli: dict[str, dict]) -> None:
    values = _defined(cli["3341-9"]["short_term_lufs"], 3.0)
    assert max(values) == pytest.approx(-23.0, abs=TOL)
    assert min(values) == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("i", range(20))
def test_case_10_max_short_term(cli: dict[str, dict], i: int) -> None:
    assert cli[f"3341-10-{i}"]["max_short_term_lufs"] == pytest.approx(-23.0, abs=TOL)


def _segment_maxima(values: list[float | None], segment_s: float, count: int) -> list[float]:
    maxima = [-math.inf] * count
    for k, v in enumerate(values):
        seg = int(((k + 1) / SERIES_HZ - 1e-9) // segment_s)
        if v is not None and seg < count:
            maxima[seg] = max(maxima[seg], v)
    return maxima


def test_case_11_successive_short_term_maxima(cli: dict[str, dict]) -> None:
    maxima = _segment_maxima(cli["3341-11"]["short_term_lufs"], 6.0, 20)
    assert maxima == pytest.approx([-38.0 + i for i in range(20)], abs=TOL)


def test_case_12_momentary_constant_after_1_s(cli: dict[str, dict]) -> None:
    values = _defined(cli["3341-12"]["momentary_lufs"], 1.0)
    assert max(values) == pytest.approx(-23.0, abs=TOL)
    assert min(values) == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("i", range(20))
def test_case_13_max_momentary(cli: dict[str, dict], i: int) -> None:
    assert cli[f"3341-13-{i}"]["max_momentary_lufs"] == pytest.approx(-23.0, abs=TOL)


def test_case_14_successive_momentary_maxima(cli: dict[str, dict]) -> None:
    maxima = _segment_maxima(cli["3341-14"]["momentary_lufs"], 0.8, 20)
    assert maxima == pytest.approx([-38.0 + i for i in range(20)], abs=TOL)


@pytest.mark.parametrize("case", range(15, 24))
def test_true_peak_cases(cli: dict[str, dict], case: int) -> None:
    expected = sig.TRUE_PEAK_EXPECTED[case]
    got = cli[f"3341-{case}"]["true_peak_dbtp"]
    assert expected - 0.4 <= got <= expected + 0.2, f"case {case}: {got} dBTP, expected {expected} +0.2/−0.4"


@pytest.mark.parametrize("case", sorted(sig.LRA_CASES))
def test_tech3342_loudness_range(cli: dict[str, dict], case: int) -> None:
    assert cli[f"3342-{case}"]["loudness_range_lu"] == pytest.approx(sig.LRA_CASES[case][1], abs=1.0)


# ---- other sample rates: the K-weighting and true-peak filter are derived for the rate ---------------


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 88200, 96000, 192000])
def test_case_1_at_other_rates(rate: int) -> None:
    report = measure(sig.sine(-23.0, 4.0, rate=rate), rate)
    assert report.integrated_lufs == pytest.approx(-23.0, abs=TOL)
    assert report.max_momentary_lufs == pytest.approx(-23.0, abs=TOL)
    assert report.max_short_term_lufs == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("rate", [11025, 44100, 96000])
def test_tech3342_case_1_at_other_rates(rate: int) -> None:
    lra = measure(sig.tones([(20.0, -20.0), (20.0, -30.0)], rate=rate), rate).loudness_range_lu
    assert lra == pytest.approx(10.0, abs=1.0)


@pytest.mark.parametrize("rate", [44100, 96000])
@pytest.mark.parametrize("case", [16, 17, 19, 21])
def test_true_peak_cases_at_other_rates(rate: int, case: int) -> None:
    if case == 21:
        x = sig.true_peak_burst(1, rate=rate)
    else:
        div, amp, phase = {16: (4, 0.5, 45.0), 17: (6, 0.5, 60.0), 19: (4, 1.41, 45.0)}[case]
        x = sig.true_peak_tone(div, amp, phase, rate=rate)
    expected = sig.TRUE_PEAK_EXPECTED[case]
    assert expected - 0.4 <= measure(x, rate).true_peak_dbtp <= expected + 0.2


# ---- the official EBU WAVs ----------------------------------------------------------------------------


def _official(name: str) -> Path:
    path = sig.EBU_WAVS / name
    if not path.is_file():
        pytest.skip(f"official EBU test WAV {name} not found in {sig.EBU_WAVS} (../shared/standards absent)")
    return path


@pytest.mark.parametrize("name, level", [("seq-3341-1-16bit.wav", -23.0), ("seq-3341-2-16bit.wav", -33.0)])
def test_official_steady_tones(name: str, level: float) -> None:
    report = measure_file(_official(name))
    for value in (report.integrated_lufs, report.max_momentary_lufs, report.max_short_term_lufs):
        assert value == pytest.approx(level, abs=TOL)


@pytest.mark.parametrize("i", range(1, 21))
def test_official_case_10(i: int) -> None:
    report = measure_file(_official(f"seq-3341-10-{i}-24bit.wav"))
    assert report.max_short_term_lufs == pytest.approx(-23.0, abs=TOL)


def test_official_case_12() -> None:
    report = measure_file(_official("seq-3341-12-24bit.wav"), series_hz=100)
    values = [v for v in report.momentary_lufs[99:] if v is not None]
    assert min(values) == pytest.approx(-23.0, abs=TOL) and max(values) == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("i", range(1, 21))
def test_official_case_13(i: int) -> None:
    report = measure_file(_official(f"seq-3341-13-{i}-24bit.wav"))
    assert report.max_momentary_lufs == pytest.approx(-23.0, abs=TOL)


@pytest.mark.parametrize("case", range(15, 24))
def test_official_true_peak(case: int) -> None:
    report = measure_file(_official(f"seq-3341-{case}-24bit.wav"))
    expected = sig.TRUE_PEAK_EXPECTED[case]
    assert expected - 0.4 <= report.true_peak_dbtp <= expected + 0.2
