"""What every harness shares: atheris setup and the run, plus the rule for what a crash is.

A harness is run as a script by tests/reliability/test_fuzz.py (libFuzzer flags on the command line:
-runs, -max_total_time, -rss_limit_mb, a seed corpus folder). An exception that escapes its
`TestOneInput` is a crash: libFuzzer writes the input to `crash-<sha1>` (the reproducer) and exits
non-zero. Warnings are errors, as under the test suite (pyproject: filterwarnings = error).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:  # run as a script: make `studio` and `tests` importable
    sys.path.insert(0, str(ROOT))


def instrumented(*libraries: str) -> list[str]:
    """What `atheris.instrument_imports` instruments: studio always; the libraries it drives only when
    STUDIO_FUZZ_DEEP=1 (the long run): instrumenting pypdf alone takes ~10 s of start-up."""
    deep = os.environ.get("STUDIO_FUZZ_DEEP") == "1"
    return ["studio", *(libraries if deep else ())]


def fuzz(test_one_input: Callable[[bytes], None]) -> None:
    import atheris

    warnings.simplefilter("error")
    sys.setrecursionlimit(3000)
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
