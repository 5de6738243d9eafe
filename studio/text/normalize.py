"""Text → spoken form: the scanner that applies the reading rules and the lexicon, token by token.

Owns: `normalize`, `explain` and `Token`. Input is NFKC-normalized first (NFC plus compatibility
forms: Word and macOS send NFD, which espeak misreads; "m²", "℃" and full-width digits become
plain). Output is lower-case, with letters, spaces and the pause marks , . ? ! only.
Must not import anything above the text stage.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from studio.text.lexicon import Lexicon, default_lexicon
from studio.text.numbers import REGIONS, read_digits
from studio.text.rules import AFTER_LEXICON, BEFORE_LEXICON, Reader, Rule
from studio.text.rules.units import PER_LEFT, PER_NOUNS, UNITS

NUMERIC = frozenset({"number", "date", "time", "unit", "percent", "money", "ordinal", "roman", "range"})
# Abbreviations that take a full stop which is not a sentence end ("TP. Hồ Chí Minh", "TS. Lê Văn A").
TITLES = frozenset({"TP", "Tp", "TX", "TS", "ThS", "PGS", "GS", "BS", "PGS.TS", "GS.TS", "Đ/c", "đ/c"})


@dataclass(frozen=True, slots=True)
class Token:
    """One token of the input and how it is said (what `studio text explain` and the TUI show)."""

    text: str
    """The token as written."""
    kind: str
    """Its class: word, abbreviation, foreign, acronym, number, date, time, ordinal, roman, unit,
    percent, money, range, phone, document, code, url, email, punct or symbol."""
    reading: str
    """What is said for it ("" when it is silent)."""
    start: int
    """Offset of the token in the normalized (NFKC) input."""
    changed: bool
    """True when the reading is more than the token lower-cased."""


def _strip_names(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


def _lexicon_handler(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    token = m.group()
    if token in rd.lexicon.abbreviations:
        return "abbreviation", rd.lexicon.abbreviations[token]
    found = rd.lexicon.words.get(token.lower())
    return ("foreign", found) if found else None


class _Scanner:
    """The rules of one lexicon compiled into a single alternation, tried left to right."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.rules: list[Rule] = [*BEFORE_LEXICON, Rule("lexicon", lexicon.pattern(), _lexicon_handler),
                                  *AFTER_LEXICON]
        self.compiled = [rule.compiled() for rule in self.rules]
        # Leading blanks are skipped inside the same match: half the iterations on ordinary text.
        self.master = re.compile("[ \t\r\f\v]*(?:" + "|".join(
            f"(?P<r{i}>{_strip_names(rule.pattern)})" for i, rule in enumerate(self.rules)) + ")")
        self.simple = {i for i, rule in enumerate(self.rules) if rule.name in ("word", "space", "other")}

    def tokens(self, text: str, rd: Reader) -> list[Token]:
        out: list[Token] = []
        pos, size = 0, len(text)
        master, compiled, rules, simple = self.master, self.compiled, self.rules, self.simple
        while pos < size:
            m = master.match(text, pos)
            assert m is not None and m.lastgroup is not None  # the last rule matches any character
            group = m.lastgroup
            index = int(group[1:])
            pos = m.start(group)
            if index in simple:
                # Their patterns have no groups or look-arounds: the master's match is theirs.
                sub: re.Match[str] | None = m
                result = rules[index].handler(_Whole(m, group), rd)  # type: ignore[arg-type]
                end = m.end()
            else:
                result = None
                while result is None:
                    sub = compiled[index].match(text, pos)
                    if sub is not None:
                        result = rules[index].handler(sub, rd)
                    index += 1
                assert sub is not None
                end = sub.end()
            kind, reading = result
            if kind != "space":
                written = text[pos:end]
                out.append(Token(written, kind, reading, pos, reading != written.lower()))
            pos = end
        return _context_pass(out)


class _Whole:
    """A match seen through one of its groups (what handlers of group-less rules need)."""

    __slots__ = ("_m", "_g")

    def __init__(self, m: re.Match[str], group: str) -> None:
        self._m, self._g = m, group

    def group(self, *_: object) -> str:
        return self._m.group(self._g)


def _neighbours(tokens: list[Token], i: int) -> tuple[int, int]:
    """Indexes of the tokens before and after i (-1 when there is none)."""
    return i - 1, (i + 1 if i + 1 < len(tokens) else -1)


def _context_pass(tokens: list[Token]) -> list[Token]:
    """Readings that depend on the tokens around: ranges, "/" and title full stops."""
    for i, tok in enumerate(tokens):
        if tok.kind not in ("punct", "symbol") or tok.text not in "-–—/.":
            continue
        b, a = _neighbours(tokens, i)
        before = tokens[b] if b >= 0 else None
        after = tokens[a] if a >= 0 else None
        reading = tok.reading
        if tok.text in "-–—" and before and after and before.kind in NUMERIC and after.kind in NUMERIC:
            reading, kind = "đến", "range"
        elif tok.text == "/" and before and after:
            glued = before.start + len(before.text) == tok.start and after.start == tok.start + 1
            if before.kind in NUMERIC and after.kind in NUMERIC and glued:
                reading, kind = "trên", "symbol"
            elif glued and (before.text in PER_LEFT or before.reading.endswith("đồng")) and \
                    after.kind in ("word", "unit") and (after.text in UNITS or after.text in PER_NOUNS):
                reading, kind = "một " + UNITS.get(after.text, after.reading), "symbol"
                tokens[a] = Token(after.text, after.kind, "", after.start, True)
            else:
                continue
        elif tok.text == "." and before and before.text in TITLES and \
                before.start + len(before.text) == tok.start and after and after.kind not in ("punct",):
            reading, kind = "", "punct"
        else:
            continue
        tokens[i] = Token(tok.text, kind, reading, tok.start, True)
    return tokens


@lru_cache(maxsize=16)
def _scanner(lexicon: Lexicon) -> _Scanner:
    return _Scanner(lexicon)


_FOREIGN_DIGIT = re.compile(r"(?![0-9])\d")


def prepare(text: str) -> str:
    """NFKC, digits of other scripts as ASCII, non-breaking and odd spaces as plain ones."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = _FOREIGN_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group(), 0)), text)
    return text


def _check_region(region: str) -> None:
    if region not in REGIONS:
        raise ValueError(f"region {region!r}: expected one of {', '.join(REGIONS)}")


def explain(text: str, region: str = "bac", lexicon: Lexicon | None = None) -> list[Token]:
    """Each token of `text` with its class and reading, spaces left out.

    Args:
        text: any text; it is NFKC-normalized first.
        region: bac, trung or nam (number words: nghìn/linh or ngàn/lẻ).
        lexicon: readings for abbreviations and foreign words; default: the shipped lexicon.

    Returns:
        The tokens in order.

    Raises:
        ValueError: unknown region.
    """
    _check_region(region)
    lex = lexicon if lexicon is not None else default_lexicon()
    tokens = _scanner(lex).tokens(prepare(text), Reader(region, lex))
    return [t for t in tokens if t.kind != "space"]


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.?!])")
_PUNCT_RUN = re.compile(r"[,.?!](?:\s*[,.?!])+")
_NOT_SPOKEN = re.compile(r"[^\w\s,.?!]|_")
_LEFT_DIGITS = re.compile(r"[0-9]+")
_SPACES = re.compile(r"\s+")


def _collapse_punct(m: re.Match[str]) -> str:
    run = m.group()
    for mark in "?!.":
        if mark in run:
            return mark
    return ","


def spoken(tokens: list[Token]) -> str:
    """Join token readings into one spoken line (what `normalize` returns)."""
    line = " ".join(t.reading for t in tokens if t.reading and t.kind != "space")
    line = _NOT_SPOKEN.sub(" ", line)
    line = _LEFT_DIGITS.sub(lambda m: " " + read_digits(m.group()) + " ", line)  # safety net; rules read all
    line = _SPACE_BEFORE_PUNCT.sub(r"\1", line)
    line = _PUNCT_RUN.sub(_collapse_punct, line)
    line = _SPACES.sub(" ", line).strip()
    line = line.lstrip(",.?! ")
    return line.lower()


def normalize(text: str, region: str = "bac", lexicon: Lexicon | None = None) -> str:
    """The spoken form of `text`: what an announcer says, with no digits or symbols left.

    Args:
        text: any text (one sentence or many; newlines become full stops).
        region: bac (default), trung or nam; the voice profile picks it.
        lexicon: from `load_lexicon(workspace.lexicon_path)`; default: the shipped lexicon.

    Returns:
        Lower-case words with the pause marks , . ? ! ("" for text with nothing to say).

    Raises:
        ValueError: unknown region.
    """
    _check_region(region)
    lex = lexicon if lexicon is not None else default_lexicon()
    return spoken(_scanner(lex).tokens(prepare(text), Reader(region, lex)))
