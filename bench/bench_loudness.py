"""Loudness meter benchmark: studio's streaming meter vs ffmpeg's ebur128 and pyloudnorm, one run.

A 60-minute 48 kHz stereo 32-bit float BWF of programme-like material (speech-shaped passages with
pauses, denser music-like passages, short jingles, level changes) is synthesized once into
bench/out/ (git-ignored; --out to move it), then measured by each meter in its own process:

- studio: `studio.audio.io.measure_file` — integrated, LRA (Tech 3342, 10 Hz short-term),
  true peak (4× oversampled), max momentary and max short-term, streaming in blocks;
- ffmpeg: `ebur128=peak=true` (imageio-ffmpeg wheel) — integrated, LRA, true peak;
- pyloudnorm: whole file in memory — integrated and LRA only (it has no true peak).

Wall time and peak RSS (os.wait4 of each child) are printed with the ratios. Usage:
    .venv/bin/python bench/bench_loudness.py [--minutes 60] [--out DIR] [--skip-pyloudnorm]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATE = 48000
BLOCK_S = 10


def programme_blocks(minutes: float, seed: int = 2025) -> Iterator:
    """Yield 10 s stereo float32 blocks of a synthetic broadcast programme."""
    import numpy as np
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    zi_voice = np.zeros((1, 2))
    a = np.exp(-2 * np.pi * 700 / RATE)
    total = int(minutes * 60 / BLOCK_S)
    t0 = 0
    kinds = rng.choice(["speech", "music", "jingle"], size=total, p=[0.6, 0.35, 0.05])
    for i in range(total):
        n = BLOCK_S * RATE
        t = (t0 + np.arange(n)) / RATE
        noise = rng.standard_normal((n, 2))
        gain = 10 ** (rng.uniform(-6, 2) / 20)
        if kinds[i] == "speech":
            shaped, zi_voice = lfilter([1 - a], [1, -a], noise, axis=0, zi=zi_voice)
            shaped = shaped * 3.0 + 0.03 * noise
            syllables = np.abs(np.sin(2 * np.pi * rng.uniform(2.0, 3.5) * t)) ** 1.5
            pauses = np.where(np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6)) > -0.5, 1.0, 0.003)
            x = shaped * (0.12 * gain * syllables * pauses)[:, None]
            for pos in rng.integers(0, n - 64, size=3):  # plosives
                x[pos:pos + 48] += 0.4 * gain * np.hanning(48)[:, None] * rng.choice([-1, 1])
        else:
            f0 = rng.choice([110.0, 146.8, 196.0, 220.0])
            chord = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in (1, 2, 3, 5, 8))
            beat = 0.6 + 0.4 * (np.sin(2 * np.pi * 2.0 * t) > 0)
            x = (0.12 * chord * beat)[:, None] + 0.03 * noise
            x = np.tanh(x * (3.0 if kinds[i] == "jingle" else 1.5)) * 0.35 * gain
        t0 += n
        yield x.astype(np.float32)


def make_file(path: Path, minutes: float) -> None:
    from studio.audio.io import write_wav_stream

    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = write_wav_stream(path, programme_blocks(minutes), RATE, 2, bit_depth=32,
                              description=f"studio loudness bench, {minutes:g} min programme")
    print(f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - started:.0f} s; "
          f"I {report.integrated_lufs:.2f} LUFS, TP {report.true_peak_dbtp:.2f} dBTP", file=sys.stderr)


def run_measured(cmd: list[str]) -> tuple[float, float, str, str, float]:
    """Run a child; return (wall s, its peak RSS MB, stdout, stderr, its CPU s = user + system).

    Reaped with os.wait4, so the usage is that child's own (ru_maxrss is KiB on Linux)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_chunks, err_chunks = [], []
    # read both pipes without deadlock: ffmpeg writes a lot to stderr
    import threading

    def drain(stream, sink):  # type: ignore[no-untyped-def]
        sink.append(stream.read())

    threads = [threading.Thread(target=drain, args=(proc.stdout, out_chunks)),
               threading.Thread(target=drain, args=(proc.stderr, err_chunks))]
    for th in threads:
        th.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    for th in threads:
        th.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = "".join(out_chunks), "".join(err_chunks)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024.0, out, err, usage.ru_utime + usage.ru_stime


OURS = """
import json, sys
from studio.audio.io import measure_file
r = measure_file(sys.argv[1])
print(json.dumps(r.summary()))
"""

PYLOUDNORM = """
import json, sys
import pyloudnorm, soundfile
x, rate = soundfile.read(sys.argv[1])  # float64, as pyloudnorm expects
meter = pyloudnorm.Meter(rate)
print(json.dumps({"integrated_lufs": meter.integrated_loudness(x),
                  "loudness_range_lu": meter.loudness_range(x)}))
"""


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def parse_ffmpeg(stderr: str) -> dict[str, float]:
    import re

    summary = stderr[stderr.rfind("Summary:"):]
    pick = lambda pattern: float(re.search(pattern, summary).group(1))  # noqa: E731
    return {"integrated_lufs": pick(r"I:\s+(-?[\d.]+) LUFS"),
            "loudness_range_lu": pick(r"LRA:\s+(-?[\d.]+) LU"),
            "true_peak_dbtp": pick(r"Peak:\s+(-?[\d.]+) dBFS")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    parser.add_argument("--skip-pyloudnorm", action="store_true", help="pyloudnorm needs ~9 GB for 60 min")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs; the best wall time counts")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        make_file(args.generate, args.minutes)
        return 0
    path = args.out / f"programme-{args.minutes:g}min-48k-stereo-f32.wav"
    if not path.exists():
        # in a child: the parent stays small, because a child's peak RSS (ru_maxrss) includes the
        # memory of the process it was forked from
        subprocess.run([sys.executable, __file__, "--generate", str(path), "--minutes", str(args.minutes)],
                       check=True)
    with open(path, "rb") as fh:  # warm the page cache so no tool pays for the first disk read
        while fh.read(1 << 24):
            pass

    python = sys.executable
    _, baseline_mb, _, _, _ = run_measured([python, "-c", "pass"])
    commands = {
        "studio": [python, "-c", OURS, str(path)],
        "ffmpeg ebur128": [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path),
                           "-af", "ebur128=peak=true", "-f", "null", "-"],
    }
    if not args.skip_pyloudnorm:
        commands["pyloudnorm"] = [python, "-c", PYLOUDNORM, str(path)]
    results: dict[str, dict] = {}
    # interleaved repeats, best wall time of each: the machine may be shared
    for _ in range(args.repeat):
        for name, cmd in commands.items():
            if name == "pyloudnorm" and name in results:
                continue  # one pass is enough for a meter this slow
            try:
                wall, rss, out, err, cpu = run_measured(cmd)
            except RuntimeError as exc:
                results[name] = {"error": str(exc)[-300:]}
                continue
            values = parse_ffmpeg(err) if name.startswith("ffmpeg") else json.loads(out)
            if name not in results or wall < results[name]["seconds"]:
                results[name] = {"seconds": wall, "cpu_s": cpu, "rss_mb": rss, **values}

    ours = results["studio"]
    print(f"{args.minutes:g} min, 48 kHz stereo float: {path} (best of {args.repeat})")
    print(f"{'meter':16} {'wall s':>7} {'ratio':>6} {'CPU s':>7} {'ratio':>6} {'peak RSS':>9}  "
          f"{'I LUFS':>7} {'LRA LU':>7} {'TP dBTP':>8}")
    for name, r in results.items():
        if "error" in r:
            print(f"{name:16} failed: {r['error']}")
            continue
        tp = r.get("true_peak_dbtp")
        print(f"{name:16} {r['seconds']:7.2f} {r['seconds'] / ours['seconds']:6.2f} {r['cpu_s']:7.2f} "
              f"{r['cpu_s'] / ours['cpu_s']:6.2f} {r['rss_mb']:7.0f} MB  {r['integrated_lufs']:7.2f} "
              f"{r['loudness_range_lu']:7.2f} {'—' if tp is None else f'{tp:.2f}':>8}")
    speedup = results["ffmpeg ebur128"]["seconds"] / ours["seconds"]
    goal = "met" if speedup >= 2.0 and ours["rss_mb"] < 150 else "NOT met"
    print(f"goal (≥ 2× ffmpeg wall time, peak RSS < 150 MB): {goal} — {speedup:.2f}× ffmpeg, "
          f"{ours['rss_mb']:.0f} MB; CPU time {results['ffmpeg ebur128']['cpu_s'] / ours['cpu_s']:.2f}× less")
    print(f"(peak RSS includes ~{baseline_mb:.0f} MB inherited from this launcher: `python -c pass` reads "
          f"{baseline_mb:.0f} MB)")
    print(json.dumps(results), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
