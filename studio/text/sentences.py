"""Splitting text into sentences with the pause that follows each (comma, sentence end, paragraph).

Owns: `Sentence`, `Pause`, `sentences` and `script`. A full stop after a number group, an
abbreviation with a dot (TP. HCM, TS.) or inside an address does not end a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from studio.text.normalize import TITLES, normalize, prepare


class Pause(StrEnum):
    """What follows a piece of text, and so how long the silence after it is."""

    COMMA = "comma"
    SENTENCE = "sentence"
    PARAGRAPH = "paragraph"

    @property
    def seconds(self) -> float:
        return PAUSE_S[self]


PAUSE_S = {Pause.COMMA: 0.25, Pause.SENTENCE: 0.5, Pause.PARAGRAPH: 0.9}
"""Silence after each pause kind, in seconds (announcer pacing at ~5 syllables/s)."""


@dataclass(frozen=True, slots=True)
class Sentence:
    """One sentence (or clause) and the pause after it."""

    text: str
    pause: Pause

    @property
    def pause_s(self) -> float:
        return PAUSE_S[self.pause]


_PARAGRAPHS = re.compile(r"\n\s*\n|\r\n\s*\r\n|\u2029")
# A sentence ends at . ! ? … (with closing quotes/brackets) followed by space and then an
# upper-case letter, a digit, an opening quote or bracket, or a dash.
# Matches start only at the head of a run of marks, taken whole: a long run ("......" in forms)
# stays linear instead of being re-scanned from each of its characters.
_END = re.compile(r"(?<![.!?…])([.!?…]++[\"”’»)\]]*)(\s+)(?=[\"“‘«(\[\-–—]?[^\W_a-zà-ỹđ]|$)")
_CLAUSE = re.compile(r"([,;:])(\s+)")
_TITLES_ALT = "|".join(re.escape(t) for t in sorted(TITLES, key=len, reverse=True))
_TITLE_TAIL = re.compile(r"(?:^|[\s(])(" + _TITLES_ALT + r"|[A-ZĐ])\.$")
# Searched on the last few characters only: on the whole head it is quadratic ("A. A. A. …").
_TITLE_SPAN = max(len(t) for t in TITLES) + 2


def _split_sentences(paragraph: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for m in _END.finditer(paragraph):
        if _TITLE_TAIL.search(paragraph[max(start, m.end(1) - _TITLE_SPAN):m.end(1)]):
            continue  # "TP. Hồ Chí Minh", "TS. Nguyễn": the dot belongs to the abbreviation
        pieces.append(paragraph[start:m.end(1)].strip())
        start = m.end()
    tail = paragraph[start:].strip()
    if tail:
        pieces.append(tail)
    return [p for p in pieces if p]


def sentences(text: str, *, clauses: bool = False) -> list[Sentence]:
    """Split `text` into sentences, each with the pause after it.

    Args:
        text: any text; paragraphs are separated by blank lines (a single newline also ends a
            paragraph when the line has no final punctuation, as in headlines).
        clauses: also split at , ; : (each piece then ends with a COMMA pause).

    Returns:
        Sentences in order, as written (NFKC); pass each through `normalize` before an engine.
        The last sentence of each paragraph has a PARAGRAPH pause.
    """
    text = prepare(text)
    out: list[Sentence] = []
    for para in _PARAGRAPHS.split(text):
        lines = [ln.strip() for ln in para.split("\n")]
        blocks: list[str] = []
        for line in lines:
            if not line:
                continue
            if blocks and not re.search(r"[.!?…:;\"”)]$", blocks[-1]):
                blocks.append(line)  # headline or list line: its own block
            elif blocks:
                blocks[-1] += " " + line
            else:
                blocks.append(line)
        for b, block in enumerate(blocks):
            found = _split_sentences(block)
            for s, sentence in enumerate(found):
                last = b == len(blocks) - 1 and s == len(found) - 1
                pause = Pause.PARAGRAPH if last else Pause.SENTENCE
                if clauses:
                    parts = [p for p in _CLAUSE.split(sentence)]
                    chunks = ["".join(parts[i:i + 2]).strip() for i in range(0, len(parts), 3)]
                    chunks = [c for c in chunks if c]
                    for c, chunk in enumerate(chunks):
                        out.append(Sentence(chunk, pause if c == len(chunks) - 1 else Pause.COMMA))
                else:
                    out.append(Sentence(sentence, pause))
    return out


def script(text: str, region: str = "bac", lexicon=None, *, clauses: bool = False) -> list[Sentence]:  # type: ignore[no-untyped-def]
    """`sentences`, each already in spoken form (sentences with nothing to say are dropped)."""
    spoken = [Sentence(normalize(s.text, region, lexicon), s.pause) for s in sentences(text, clauses=clauses)]
    return [s for s in spoken if s.text.strip(",.?! ")]
