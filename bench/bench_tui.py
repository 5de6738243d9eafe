"""TUI startup bench: time from launching `studio` to the first painted screen (goal: under 1 s).

    .venv/bin/python bench/bench_tui.py [--runs 5] [--json out.json]

Runs the real entry point (`.venv/bin/studio --home <temp workspace with the sample items>`) on a
pseudo-terminal of 100×30 and stops the clock when the section bar ("Nguồn tin") and the first item
row have been written to the terminal, i.e. the inbox is painted with its items. Then sends Ctrl+Q.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUDIO = ROOT / ".venv" / "bin" / "studio"
GOAL_S = 1.0
PAINTED = ("Nguồn tin".encode(), "khẩn cấp".encode())


def stock(home: Path) -> None:
    """A workspace with the shipped sample items (so the first paint includes a loaded table)."""
    sys.path.insert(0, str(ROOT))
    from studio.config import open_workspace, shipped_dir
    from studio.ingest import ingest
    from studio.store import Store

    workspace = open_workspace(home)
    with Store(workspace.db_path) as store:
        for path in sorted((shipped_dir("samples") / "items").glob("*.json")):
            ingest(store, path)


def one_run(home: Path, timeout_s: float = 20.0) -> float:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    started = time.perf_counter()
    proc = subprocess.Popen([str(STUDIO), "--home", str(home)], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    seen = b""
    elapsed = float("nan")
    try:
        while time.perf_counter() - started < timeout_s:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if all(marker in seen for marker in PAINTED):
                    elapsed = time.perf_counter() - started
                    break
        os.write(master, b"\x11")  # Ctrl+Q
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        os.close(master)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="studio-bench-tui-"))
    try:
        stock(home)
        one_run(home)  # warm the OS file cache and Python's bytecode cache
        times = [one_run(home) for _ in range(args.runs)]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    median = statistics.median(times)
    result = {"runs": times, "median_s": median, "min_s": min(times), "goal_s": GOAL_S,
              "load_average": os.getloadavg()[0]}
    print(f"studio → first painted screen: median {median:.3f} s, min {min(times):.3f} s, {args.runs} runs "
          f"(goal < {GOAL_S:.1f} s: {'met' if median < GOAL_S else 'NOT met'}; load average "
          f"{result['load_average']:.1f} on {os.cpu_count()} cores)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
