"""Reliability long variants (issue 10): the tests/reliability suites with STUDIO_LONG=1.

    .venv/bin/python bench/bench_reliability.py [-k EXPR]

The CI run of these suites uses small counts (a few kills, a few thousand fuzz runs, smaller loads) to stay
within its time limit; STUDIO_LONG=1 switches every suite to its long variant: >= 20 random SIGKILLs per
stage, 1,000 notices through the queue with two workers, minute-long fuzzing, 50 MB inputs. There is no
peer to compare with here: the figure that matters is "anything lost or duplicated", which must be 0, and
the suites fail otherwise. Prints each test's wall time and the total.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="pytest -k expression (default: every reliability test)")
    args = parser.parse_args()
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-s", "--durations=0",
               "-p", "no:cacheprovider"]
    if args.k:
        command += ["-k", args.k]
    env = dict(os.environ, STUDIO_LONG="1")
    start = time.perf_counter()
    code = subprocess.call(command, cwd=ROOT, env=env)
    print(f"reliability long variants: exit {code}, {time.perf_counter() - start:.0f} s wall")
    return code


if __name__ == "__main__":
    sys.exit(main())
