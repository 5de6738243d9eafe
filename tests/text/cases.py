"""The text-reading suite: loading tests/data/text_cases/*.txt and judging a reading against it.

Shared by tests/text/test_cases.py and bench/bench_text.py (which loads this file by path).

Case file format (UTF-8):
    # comment                      ignored
    @nam                           the next case is read with region nam (default bac)
    <sentence as written>          one line
    = <accepted reading>           one or more lines; {a|b|} picks one (empty allowed), [x] is optional
A blank line ends a case. Readings are compared after `canonical`: lower case, NFC, punctuation and
spacing ignored, old/new tone placement (hoà/hòa, uỷ/ủy) and "kí lô"/"ki lô" treated alike.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

CASES_DIR = Path(__file__).resolve().parent.parent / "data" / "text_cases"

_OLD_TONE = {  # old-style tone placement → the form used in our readings
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}
_OLD_RE = re.compile("(" + "|".join(_OLD_TONE) + r")(?![^\W\d_])")


@dataclass(frozen=True)
class Case:
    source: str
    line: int
    region: str
    text: str
    accepted: tuple[str, ...]
    """Canonical accepted readings."""

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


def canonical(text: str) -> str:
    """Lower-case NFC words only, single-spaced, tone placement unified."""
    text = unicodedata.normalize("NFC", text).lower()
    text = re.sub(r"[^\w]+|_", " ", text)
    text = _OLD_RE.sub(lambda m: _OLD_TONE[m.group(1)], text)
    text = re.sub(r"\bkí lô\b", "ki lô", text)  # "kí lô mét" and "ki lô mét" are both written
    return " ".join(text.split())


def expand(pattern: str) -> list[str]:
    """All readings a pattern allows: {a|b|} alternatives, [x] optional."""
    pattern = re.sub(r"\[([^\[\]]*)\]", r"{\1|}", pattern)
    parts = re.split(r"(\{[^{}]*\})", pattern)
    options = [p[1:-1].split("|") if p.startswith("{") else [p] for p in parts]
    return [canonical("".join(combo)) for combo in itertools.product(*options)]


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    cases: list[Case] = []
    for path in sorted(directory.glob("*.txt")):
        cases.extend(_load_file(path))
    return cases


def _load_file(path: Path) -> list[Case]:
    cases: list[Case] = []
    region, text, start, accepted = "bac", None, 0, []

    def close() -> None:
        nonlocal text, accepted, region
        if text is not None:
            if not accepted:
                raise ValueError(f"{path.name}:{start}: case without an accepted reading")
            cases.append(Case(path.stem, start, region, text, tuple(dict.fromkeys(accepted))))
        text, accepted, region = None, [], "bac"

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip()
        if not line:
            close()
        elif line.startswith("#"):
            continue
        elif line.startswith("@"):
            close()
            region = line[1:].strip()
        elif line.startswith("= "):
            if text is None:
                raise ValueError(f"{path.name}:{number}: reading before any sentence")
            accepted.extend(expand(line[2:]))
        else:
            if text is not None:
                close()
            text, start = line, number
    close()
    return cases


def judge(case: Case, reading: str) -> bool:
    return canonical(reading) in case.accepted
