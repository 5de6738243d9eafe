"""Audio commands: `studio loudness` (EBU Mode meter) and `studio normalize-audio`.

stdout carries data (a table, or JSON with --json); stderr carries per-file errors. Exit codes
(studio.errors.ExitCode): 0 all files done; 1 some files failed (the others are still reported);
a single failing file, or all of them, exits with that error's own code (2 bad input, 3 codec).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from studio.cli import CliContext, err_console, exit_with, home_option, main, pass_ctx
from studio.errors import ExitCode, InputError, StudioError

JSON_KEYS = ("path", "integrated_lufs", "loudness_range_lu", "true_peak_dbtp", "sample_peak_dbfs",
             "max_momentary_lufs", "max_short_term_lufs", "duration_s", "sample_rate", "channels")
"""The keys of one `studio loudness --json` object, in order (an API for batch scripts)."""


def _round(value: Any, digits: int = 2) -> Any:
    if isinstance(value, float):
        return round(value, digits) if math.isfinite(value) else None
    return value


def report_json(path: str, report: Any, *, series: bool) -> dict[str, Any]:
    """One JSON object for `studio loudness --json` (−inf and undefined values become null)."""
    summary = report.summary()
    obj: dict[str, Any] = {"path": path}
    for key in JSON_KEYS[1:]:
        obj[key] = _round(summary[key], 3 if key != "duration_s" else 6)
    if series:
        obj["momentary_lufs"] = [_round(v, 2) for v in report.momentary_lufs]
        obj["short_term_lufs"] = [_round(v, 2) for v in report.short_term_lufs]
    return obj


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return f"-inf {unit}"
    return f"{value:.1f} {unit}"


def report_text(report: Any) -> str:
    """One human line: I, LRA, TP, max M, max S, duration."""
    return (f"I {_fmt(report.integrated_lufs, 'LUFS')}  LRA {_fmt(report.loudness_range_lu, 'LU')}  "
            f"TP {_fmt(report.true_peak_dbtp, 'dBTP')}  M max {_fmt(report.max_momentary_lufs, 'LUFS')}  "
            f"S max {_fmt(report.max_short_term_lufs, 'LUFS')}  {report.duration_s:.2f} s  "
            f"{report.sample_rate} Hz × {report.channels}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per file.")
@click.option("--series", is_flag=True,
              help="Add momentary/short-term series (JSON: momentary_lufs, short_term_lufs).")
@click.option("--series-hz", type=click.IntRange(1, 100), default=None,
              help="Series rate in Hz (default 10); value k is at t = (k+1)/N s. Implies --series.")
@home_option
def loudness(files: tuple[Path, ...], as_json: bool, series: bool, series_hz: int | None) -> None:
    """Đo độ to theo EBU R 128 (BS.1770-4 integrated, LRA, true peak, max M/S) of each FILE."""
    from studio.audio.io import measure_file  # deferred: numpy/scipy/soundfile

    want_series = series or series_hz is not None
    hz = (series_hz or 10) if want_series else None
    results: list[dict[str, Any]] = []
    errors: list[StudioError] = []
    for path in files:
        try:
            report = measure_file(path, series_hz=hz)
        except StudioError as exc:
            errors.append(exc)
            # soft_wrap: one line per file, so batch scripts can grep the path
            err_console.print(f"[bold red]{exc.title}:[/] {exc.message}", highlight=False, soft_wrap=True)
            continue
        if as_json:
            results.append(report_json(str(path), report, series=want_series))
        else:
            click.echo(f"{path}\t{report_text(report)}")
            if want_series:
                for k, (m, s) in enumerate(zip(report.momentary_lufs, report.short_term_lufs, strict=True)):
                    click.echo(f"  {(k + 1) / hz:9.3f} s\tM {_fmt(m, 'LUFS')}\tS {_fmt(s, 'LUFS')}")
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    if errors:
        if not results and len(errors) == len(files) and len({e.exit_code for e in errors}) == 1:
            exit_with(errors[0].exit_code)
        exit_with(ExitCode.JOB_FAILED)


@main.command("normalize-audio")
@click.argument("source", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="File to write; the format follows the suffix (or the profile's container).")
@click.option("--profile", "profile_id", default=None, help="Destination profile: loa, phat-song, web …")
@click.option("--target-lufs", type=float, default=None, help="Integrated loudness target (LUFS).")
@click.option("--true-peak-dbtp", type=float, default=None, help="True-peak ceiling (dBTP).")
@click.option("--title", default="", help="Title for the tags / bext description.")
@click.option("--json", "as_json", is_flag=True, help="Print {'input': …, 'output': …} as JSON.")
@home_option
@pass_ctx
def normalize_audio(ctx: CliContext, source: Path, output: Path, profile_id: str | None,
                    target_lufs: float | None, true_peak_dbtp: float | None, title: str,
                    as_json: bool) -> None:
    """Chuẩn hoá độ to SOURCE → OUTPUT (measure, gain, true-peak limit, encode, re-measure the file)."""
    from studio.audio import dynamics, io, profiles  # deferred: numpy/scipy/soundfile

    if profile_id is not None and (target_lufs is not None or true_peak_dbtp is not None):
        raise InputError("give either --profile or --target-lufs with --true-peak-dbtp, not both")
    if profile_id is None and (target_lufs is None or true_peak_dbtp is None):
        raise InputError("give --profile NAME, or both --target-lufs X and --true-peak-dbtp Y")
    samples, rate = io.read_audio(source)
    before = io.measure_file(source)
    if profile_id is not None:
        extra = ctx.home / "profiles" if ctx.home is not None else None
        profile = profiles.get_profile(profile_id, extra)
        prepared, prepared_rate, _ = profiles.prepare(samples, rate, profile)
        io.write_for_profile(output, prepared, prepared_rate, profile, title=title or source.stem)
    else:
        assert target_lufs is not None and true_peak_dbtp is not None
        normalized, _ = dynamics.normalize(samples, rate, target_lufs=target_lufs,
                                           true_peak_dbtp=true_peak_dbtp)
        lossy = output.suffix.lower() in (".mp3", ".ogg", ".oga", ".opus")
        io.write_checked(output, normalized, rate, target_lufs=target_lufs, true_peak_dbtp=true_peak_dbtp,
                         tolerance_lu=0.5 if lossy else 0.1, title=title or source.stem)
    after = io.measure_file(output)  # what was written, after the encoder
    if as_json:
        click.echo(json.dumps({"input": report_json(str(source), before, series=False),
                               "output": report_json(str(output), after, series=False)},
                              ensure_ascii=False, indent=2))
    else:
        click.echo(f"before\t{source}\t{report_text(before)}")
        click.echo(f"after\t{output}\t{report_text(after)}")
