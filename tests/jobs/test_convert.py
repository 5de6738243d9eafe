"""`studio convert`: one signed package (or audio + captions) per notice, idempotent re-runs, exit codes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace
from studio.convert import ConvertOptions, convert_batch
from studio.package.signing import PublicKey, key_paths
from studio.package.verify import verify_package
from tests.jobs.conftest import write_txt


def _run(args: list[str]):  # type: ignore[no-untyped-def]
    return CliRunner(mix_stderr=False).invoke(main, args, catch_exceptions=False)


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_twenty_mixed_notices_nineteen_packages_then_all_skipped(
    jobs_workspace: Workspace, mixed_notices: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "goi-tin"
    args = [
        "--home",
        str(jobs_workspace.home),
        "convert",
        *map(str, mixed_notices),
        "--out",
        str(out),
        "--voice",
        "fake",
        "--json",
    ]
    first = _run(args)
    assert first.exit_code == 1, first.output
    results = _lines(first.stdout)
    assert len(results) == 20
    assert {r["input"] for r in results} == {str(p) for p in mixed_notices}
    assert all(set(r) >= {"input", "status", "output", "duration", "loudness", "error"} for r in results)
    by_status = {s: [r for r in results if r["status"] == s] for s in ("converted", "skipped", "failed")}
    assert len(by_status["converted"]) == 19
    (bad,) = by_status["failed"]
    assert bad["input"].endswith("hong.docx")
    assert "hong.docx" in bad["error"] and ".docx" in bad["error"] and bad["output"] is None
    # Each converted notice is its own signed package that the reference verifier accepts.
    trusted = [PublicKey.load(key_paths(jobs_workspace.keys_dir, jobs_workspace.settings.issuer).public)]
    packages = {r["output"] for r in by_status["converted"]}
    assert len(packages) == 19
    assert {str(p) for p in out.iterdir() if not p.name.startswith(".")} == packages
    for r in by_status["converted"]:
        verified = verify_package(Path(r["output"]), trusted)
        manifest = json.loads((Path(r["output"]) / "manifest.json").read_text(encoding="utf-8"))
        assert [x["profile"] for x in manifest["renditions"]] == ["loa"]
        assert abs(r["loudness"]["integrated_lufs"] - (-16.0)) <= 0.5
        assert r["loudness"]["true_peak_dbtp"] <= -1.5 + 0.05
        assert r["duration"] > 0.5
        assert verified is not None

    start = time.perf_counter()
    second = _run(args)
    elapsed = time.perf_counter() - start
    assert second.exit_code == 1
    again = _lines(second.stdout)
    assert sorted(r["status"] for r in again) == ["failed"] + ["skipped"] * 19
    assert {r["output"] for r in again if r["status"] == "skipped"} == packages
    assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 19  # nothing new was built
    assert elapsed < 2.0


def test_summary_only_without_json_and_no_progress_bar_when_not_a_terminal(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    inputs = [write_txt(tmp_path / f"n{i}.txt", i) for i in range(2)]
    result = _run(
        [
            "--home",
            str(jobs_workspace.home),
            "convert",
            *map(str, inputs),
            "--out",
            str(tmp_path / "o"),
            "--voice",
            "fake",
            "--profile",
            "nhanh",
            "--audio-only",
        ]
    )
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith("converted 2\tskipped 0\tfailed 0\t")
    assert result.stderr == ""


def test_hundred_unchanged_inputs_are_skipped_in_under_a_second(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    folder = tmp_path / "tram"
    folder.mkdir()
    inputs = [write_txt(folder / f"tb-{i:03d}.txt", i, words=1) for i in range(100)]
    options = ConvertOptions(out_dir=tmp_path / "out", voice_id="fake", profile_id="nhanh", audio_only=True)
    first = convert_batch(jobs_workspace, inputs, options)
    assert [r.status for r in first] == ["converted"] * 100
    start = time.perf_counter()
    second = convert_batch(jobs_workspace, inputs, options)
    elapsed = time.perf_counter() - start
    assert [r.status for r in second] == ["skipped"] * 100
    assert [r.output for r in second] == [r.output for r in first]
    assert elapsed < 1.0, f"100 unchanged inputs took {elapsed:.2f} s"


def test_changed_content_voice_or_profile_converts_again(jobs_workspace: Workspace, tmp_path: Path) -> None:
    (jobs_workspace.voices_dir / "fake2.toml").write_text(
        'id = "fake2"\nname = "Giọng thử 2"\nengine = "fake"\nrate_wpm = 180\n', encoding="utf-8"
    )
    inputs = [write_txt(tmp_path / f"n{i}.txt", i) for i in range(3)]
    out = tmp_path / "out"
    options = ConvertOptions(out_dir=out, voice_id="fake", profile_id="nhanh", audio_only=True)
    assert [r.status for r in convert_batch(jobs_workspace, inputs, options)] == ["converted"] * 3
    write_txt(inputs[1], 99)  # edited notice
    assert [r.status for r in convert_batch(jobs_workspace, inputs, options)] == [
        "skipped",
        "converted",
        "skipped",
    ]
    other_voice = ConvertOptions(out_dir=out, voice_id="fake2", profile_id="nhanh", audio_only=True)
    assert [r.status for r in convert_batch(jobs_workspace, inputs, other_voice)] == ["converted"] * 3
    # An output deleted since is made again, not reported as done.
    (out / "n0.wav").unlink()
    assert [r.status for r in convert_batch(jobs_workspace, inputs, other_voice)] == [
        "converted",
        "skipped",
        "skipped",
    ]


def test_audio_only_writes_normalized_audio_and_aligned_captions(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    from studio.audio.io import measure_file
    from studio.package.captions import parse_srt, parse_webvtt

    src = write_txt(tmp_path / "thong-bao.txt", 3, words=12)
    out = tmp_path / "out"
    (result,) = convert_batch(
        jobs_workspace, [src], ConvertOptions(out_dir=out, voice_id="fake", profile_id="loa", audio_only=True)
    )
    assert result.status == "converted", result.error
    assert result.output == str(out / "thong-bao.mp3")
    report = measure_file(out / "thong-bao.mp3")
    assert abs(report.integrated_lufs - (-16.0)) <= 0.5
    assert (
        result.loudness is not None
        and abs(result.loudness["integrated_lufs"] - report.integrated_lufs) < 0.05
    )
    vtt = parse_webvtt((out / "thong-bao.vtt").read_text(encoding="utf-8"))
    srt = parse_srt((out / "thong-bao.srt").read_text(encoding="utf-8"))
    assert len(vtt) == len(srt) >= 2
    assert vtt[0][2].startswith("Thông báo số 3")
    assert vtt[-1][1] <= report.duration_s + 0.1


def test_two_workers_convert_every_input_once(jobs_workspace: Workspace, tmp_path: Path) -> None:
    inputs = [write_txt(tmp_path / f"n{i}.txt", i) for i in range(3)]
    (tmp_path / "dup").mkdir()
    inputs.append(write_txt(tmp_path / "dup" / "n0.txt", 42))  # same stem as n0.txt: distinct output name
    results = convert_batch(
        jobs_workspace,
        inputs,
        ConvertOptions(out_dir=tmp_path / "out", voice_id="fake", profile_id="nhanh", audio_only=True),
        workers=2,
    )
    assert [r.status for r in results] == ["converted"] * 4
    assert len({r.output for r in results}) == 4
    assert all(Path(r.output).is_file() for r in results if r.output)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--voice", "khong-co"], "voice 'khong-co' does not exist"),
        (["--voice", "fake", "--profile", "khong-co"], "unknown destination profile 'khong-co'"),
        (["--voice", "fake", "--key", "khong-co"], "no signing key 'khong-co'"),
        (["--voice", "fake", "--workers", "0"], "--workers"),
    ],
)
def test_usage_errors_exit_2_before_any_work(
    jobs_workspace: Workspace, tmp_path: Path, extra: list[str], message: str
) -> None:
    src = write_txt(tmp_path / "a.txt", 1)
    result = _run(
        ["--home", str(jobs_workspace.home), "convert", str(src), "--out", str(tmp_path / "o"), *extra]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "o").exists()


def test_missing_input_and_missing_out_are_usage_errors(jobs_workspace: Workspace, tmp_path: Path) -> None:
    missing = _run(
        [
            "--home",
            str(jobs_workspace.home),
            "convert",
            str(tmp_path / "nope.txt"),
            "--out",
            str(tmp_path / "o"),
            "--voice",
            "fake",
        ]
    )
    assert missing.exit_code == 2 and "nope.txt: no such file" in " ".join(missing.stderr.split())
    no_out = _run(["--home", str(jobs_workspace.home), "convert", str(write_txt(tmp_path / "a.txt", 1))])
    assert no_out.exit_code == 2 and "--out" in no_out.stderr


def test_unsupported_kind_fails_that_input_only(jobs_workspace: Workspace, tmp_path: Path) -> None:
    good = write_txt(tmp_path / "a.txt", 1)
    odd = tmp_path / "b.odt"
    odd.write_bytes(b"x")
    result = _run(
        [
            "--home",
            str(jobs_workspace.home),
            "convert",
            str(good),
            str(odd),
            "--out",
            str(tmp_path / "o"),
            "--voice",
            "fake",
            "--profile",
            "nhanh",
            "--audio-only",
            "--json",
        ]
    )
    assert result.exit_code == 1
    by_input = {Path(r["input"]).name: r for r in _lines(result.stdout)}
    assert by_input["a.txt"]["status"] == "converted"
    assert by_input["b.odt"]["status"] == "failed" and "cannot convert .odt" in by_input["b.odt"]["error"]


def test_workspace_lexicon_is_heard_and_a_changed_reading_converts_again(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    """Regression: convert spoke with the shipped lexicon only, and a re-run after a reading was fixed
    in the workspace lexicon skipped the input, keeping the wrong reading."""
    from studio.text.lexicon import add_entry

    notice = tmp_path / "hop.txt"
    notice.write_text("Thông báo họp\n\nHọp HTXNN lúc 8 giờ.\n", encoding="utf-8")
    out = tmp_path / "out"
    options = ConvertOptions(out_dir=out, voice_id="fake", profile_id="nhanh", audio_only=True)
    (first,) = convert_batch(jobs_workspace, [notice], options)
    add_entry(jobs_workspace.lexicon_path, "HTXNN", "hợp tác xã nông nghiệp")
    (second,) = convert_batch(jobs_workspace, [notice], options)
    assert (first.status, second.status) == ("converted", "converted")
    # Spelled "hát tê ích en en" (16 chars) became "hợp tác xã nông nghiệp" (22): the fake voice speaks
    # 60 ms a character, so the notice is longer by about 6 × 60 ms.
    assert second.duration_s - first.duration_s == pytest.approx(0.36, abs=0.1)
