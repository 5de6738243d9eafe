"""Plain numerals, letters with digits (Quốc lộ 1A, lớp 12A1, H5N1, F0, 5G, PM2.5) and words.

Owns: the fallback rules that every position ends in: a numeral, a letter-digit code, a word (with
all-caps acronyms spelled unless they are shaped like a Vietnamese syllable), a space, a symbol.
"""

from __future__ import annotations

import re
import unicodedata

from studio.text.lexicon import spell
from studio.text.rules.common import NUM, NUM_START, Reader, Rule, is_syllable
from studio.text.rules.units import UNITS, unit_reading

# Letter runs before a number that name a road, not the abbreviation ("ĐT741" is đường tỉnh 741).
ROAD_PREFIXES = {"QL": "quốc lộ", "ĐT": "đường tỉnh", "TL": "tỉnh lộ", "ĐH": "đường huyện", "HL": "hương lộ",
                 "ĐX": "đường xã", "CT": "cao tốc"}
_SEGMENT = re.compile(r"[0-9]+(?:\.[0-9]+)?|[^\W\d_]+")
_NUM_UNIT = re.compile(r"(" + NUM + r")(.+)")


def _code(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    text = m.group()
    glued = _NUM_UNIT.fullmatch(text)
    if glued and glued.group(2) in UNITS:
        return "unit", f"{rd.num(glued.group(1))} {unit_reading(glued.group(2))}"
    if text.lower() in UNITS and not text.isupper():
        return "unit", unit_reading(text)
    words = []
    segments = _SEGMENT.findall(text)
    if len(segments) >= 2 and segments[0] in ROAD_PREFIXES and segments[1][0].isdigit():
        words.append(ROAD_PREFIXES[segments[0]])
        segments = segments[1:]
    for seg in segments:
        if seg[0].isdigit():
            words.append(rd.num(seg) if seg[0] != "0" or len(seg) == 1 else " ".join(
                rd.num(d) for d in seg))
        else:
            words.append(rd.letters(seg))
    return "code", " ".join(words)


def _number(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    return "number", rd.num(m.group())


def word_reading(word: str, rd: Reader) -> tuple[str, str]:
    """A word with no rule: acronyms spelled, the rest lower-cased."""
    known = rd.lexicon.lookup(word)
    if known:
        return "abbreviation", known
    if word in UNITS and word in ("km", "kg", "km2", "m2", "m3"):
        return "unit", UNITS[word]
    caps = sum(ch.isupper() for ch in word)
    if (word.isupper() and not is_syllable(word)) or (2 <= caps and len(word) <= 5 and not is_syllable(word)):
        return "acronym", spell(word)
    return "word", word.lower()


def _word(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    return word_reading(m.group(), rd)


SYMBOLS = {
    ",": ",", ".": ".", "!": "!", "?": "?", ";": ",", ":": ",", "…": ".", "(": ",", ")": ",",
    "[": ",", "]": ",", "{": ",", "}": ",", "-": ",", "–": ",", "—": ",", "/": ",", "|": ",",
    "&": "và", "+": "cộng", "=": "bằng", "%": "phần trăm", "‰": "phần nghìn", "°": "độ",
    "@": "a còng", "×": "nhân", "÷": "chia", "±": "cộng trừ", "≈": "khoảng", "~": "khoảng",
    ">": "lớn hơn", "<": "nhỏ hơn", "≥": "lớn hơn hoặc bằng", "≤": "nhỏ hơn hoặc bằng",
    "$": "đô la", "€": "ơ rô", "₫": "đồng", "•": ",", "·": ",", "\n": ".",
}


def _other(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    ch = m.group()
    if ch in SYMBOLS:
        return "punct" if SYMBOLS[ch] in ",.!?" else "symbol", SYMBOLS[ch]
    if unicodedata.category(ch)[0] in "LM":
        return "word", ch.lower()
    return "symbol", ""  # emoji, quotes, stray marks: not said


def _road(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    number = m.group("n")
    letters = "".join(" " + rd.letters(ch) for ch in number if ch.isalpha())
    words = rd.num(number.rstrip("ABCDEFGHK")) + letters
    return "code", f"{ROAD_PREFIXES[m.group('p')]} {words}"


ROAD_RULES = [
    Rule("road", r"(?<![\w.])(?P<p>" + "|".join(ROAD_PREFIXES) + r")(?:\.\s?|\s)?"
         r"(?P<n>[0-9]{1,4}[A-K]?)(?![\w])", _road),
]
RULES = [
    Rule("code", NUM_START + r"(?=[A-Za-zĐđ0-9]*[0-9])(?=[A-Za-zĐđ0-9]*[A-Za-zĐđ])[A-Za-zĐđ0-9]+"
         r"(?:\.[0-9]+)?(?![\w])", _code),
    Rule("number", r"(?:(?<![\w.,])-)?" + NUM, _number),
    Rule("word", r"[^\W\d_]+", _word),
    Rule("space", r"[ \t\r\f\v]+", lambda m, rd: ("space", " ")),
    Rule("other", r"(?s:.)", _other),
]
