"""What every reading rule shares: the Rule record, the Reader passed to handlers, common patterns.

Owns: the rule contract. A rule is a regex (named groups allowed, no back-references) and a handler
that turns its match into (token class, reading), or None to let the next rule try. Imports only
studio.text.numbers and studio.text.lexicon.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from studio.text import numbers
from studio.text.lexicon import Lexicon, spell

# A numeral as written in Vietnamese notices: 1.500.000 / 1.234,56 / 3,5 / 4.0 / 2023.
NUM = r"(?:[0-9]{1,3}(?:\.[0-9]{3})+(?:,[0-9]+)?|[0-9]+(?:[.,][0-9]+)?)"
# Not glued to a word or another numeral on the left.
NUM_START = r"(?<![\w.,/])"
# A token end: no letter or digit follows (punctuation and spaces do).
END = r"(?![^\W_])"
DASH = r"[-–—]"

# Vietnamese syllable without its tone mark (onset, nucleus, coda): all-caps words that fit are words.
_SYLLABLE = re.compile(r"(?:ngh|ng|gh|gi|nh|ch|kh|ph|th|tr|qu|[bcdđghklmnprstvx])?"
                       r"[aăâeêioôơuưy]{1,3}(?:ch|ng|nh|[cmnpt])?")
_TONE_MARKS = dict.fromkeys(map(ord, "\u0300\u0301\u0303\u0309\u0323"))


def is_syllable(word: str) -> bool:
    """Whether `word` (any case) is shaped like one Vietnamese syllable ("THÔNG" yes, "VTV" no)."""
    import unicodedata

    base = unicodedata.normalize("NFC", unicodedata.normalize("NFD", word.lower()).translate(_TONE_MARKS))
    return _SYLLABLE.fullmatch(base) is not None


@dataclass(frozen=True, slots=True)
class Reader:
    """What a handler needs besides its match: the region and the lexicon."""

    region: str
    lexicon: Lexicon

    def num(self, text: str) -> str:
        """A written numeral ("1.500.000", "3,5", "-2") in words."""
        return numbers.read_numeral(text, self.region)

    def int(self, n: int) -> str:
        return numbers.read_int(n, self.region)

    def letters(self, token: str) -> str:
        """A letter run: the lexicon's reading if it has one, else spelled."""
        return self.lexicon.lookup(token) or spell(token)


Handler = Callable[[re.Match[str], Reader], "tuple[str, str] | None"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One reading rule: where it applies (pattern) and what it says (handler)."""

    name: str
    pattern: str
    handler: Handler

    def compiled(self) -> re.Pattern[str]:
        return _compile(self.pattern)


_compiled: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    found = _compiled.get(pattern)
    if found is None:
        found = _compiled[pattern] = re.compile(pattern)
    return found


def lower_words(text: str) -> str:
    """A context word as said: lower-case, single spaces."""
    return " ".join(text.lower().split())
