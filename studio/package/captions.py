"""Captions: WebVTT and SRT from the programme's sentence cues.

Owns: formatting cues (text, start_s, end_s) as WebVTT (W3C: UTF-8, "WEBVTT" header,
`hh:mm:ss.ttt`, `&`, `<`, `>` escaped) and SubRip (numbered, `hh:mm:ss,ttt`), one cue per spoken
sentence, long sentences wrapped onto lines of at most `line_chars` characters. Timings are the
sentence timings of the speech: nothing is re-timed here. Imports nothing above the models.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from studio.config import atomic_write_text
from studio.errors import InputError
from studio.models import nfc

LINE_CHARS = 42
"""Characters per caption line (the common broadcast guideline for Latin scripts)."""


class CueLike(Protocol):
    text: str
    start_s: float
    end_s: float


def _check(cues: Sequence[CueLike]) -> None:
    previous_end = 0.0
    for n, cue in enumerate(cues):
        if not (0.0 <= cue.start_s < cue.end_s):
            raise InputError(f"caption {n + 1}: start {cue.start_s:.3f} s must be ≥ 0 and before end {cue.end_s:.3f} s")
        if cue.start_s < previous_end - 1e-6:
            raise InputError(f"caption {n + 1}: starts at {cue.start_s:.3f} s, before the previous one ends "
                             f"({previous_end:.3f} s)")
        previous_end = cue.end_s


def timestamp(seconds: float, *, separator: str = ".") -> str:
    """`hh:mm:ss.ttt` (WebVTT) or with `separator=','` `hh:mm:ss,ttt` (SRT); rounded to the millisecond."""
    ms = int(round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _lines(text: str, line_chars: int) -> list[str]:
    return textwrap.wrap(" ".join(nfc(text).split()), width=line_chars, break_long_words=False,
                         break_on_hyphens=False) or [""]


def _vtt_escape(line: str) -> str:
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_webvtt(cues: Sequence[CueLike], *, line_chars: int = LINE_CHARS) -> str:
    """The cues as a WebVTT document.

    Raises:
        InputError: a cue ends before it starts, or overlaps the previous one.
    """
    _check(cues)
    blocks = ["WEBVTT\n"]
    for n, cue in enumerate(cues, start=1):
        body = "\n".join(_vtt_escape(line) for line in _lines(cue.text, line_chars))
        blocks.append(f"{n}\n{timestamp(cue.start_s)} --> {timestamp(cue.end_s)}\n{body}\n")
    return "\n".join(blocks)


def to_srt(cues: Sequence[CueLike], *, line_chars: int = LINE_CHARS) -> str:
    """The cues as a SubRip (.srt) document.

    Raises:
        InputError: as for `to_webvtt`.
    """
    _check(cues)
    blocks = []
    for n, cue in enumerate(cues, start=1):
        body = "\n".join(_lines(cue.text, line_chars))
        blocks.append(f"{n}\n{timestamp(cue.start_s, separator=',')} --> {timestamp(cue.end_s, separator=',')}\n"
                      f"{body}\n")
    return "\n".join(blocks)


def write_captions(cues: Sequence[CueLike], stem: Path) -> tuple[Path, Path]:
    """Write `<stem>.vtt` and `<stem>.srt` atomically; returns their paths."""
    vtt, srt = stem.with_suffix(".vtt"), stem.with_suffix(".srt")
    atomic_write_text(vtt, to_webvtt(cues))
    atomic_write_text(srt, to_srt(cues))
    return vtt, srt


def parse_webvtt(text: str) -> list[tuple[float, float, str]]:
    """Read back cues written by `to_webvtt` (for checks and tests): (start_s, end_s, text)."""
    return _parse(text.split("\n", 1)[1] if text.startswith("WEBVTT") else text, ".")


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """Read back cues written by `to_srt`: (start_s, end_s, text)."""
    return _parse(text, ",")


def _seconds(stamp: str, separator: str) -> float:
    hms, ms = stamp.strip().split(separator)
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _parse(text: str, separator: str) -> list[tuple[float, float, str]]:
    out = []
    for block in _blocks(text.strip().split("\n\n")):
        lines = block.strip().split("\n")
        timing = next(i for i, ln in enumerate(lines) if "-->" in ln)
        start, end = lines[timing].split("-->")
        body = " ".join(lines[timing + 1:])
        if separator == ".":
            body = body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        out.append((_seconds(start, separator), _seconds(end, separator), body))
    return out


def _blocks(blocks: Iterable[str]) -> Iterable[str]:
    return (b for b in blocks if "-->" in b)
