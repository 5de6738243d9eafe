"""Numbers in context: ordinals (thứ 1 → thứ nhất, thứ 4 → thứ tư), ranks (giải 2 → giải nhì) and
Roman numerals after the words that take them (khóa XV, lần thứ XXI, quý III/2023, thế kỷ XXI).

Owns: the context-word rule and free-standing Roman numerals. A lone "I", "V" or "X" is a numeral
only after a context word, so the English "I" and ordinary capitals are left alone.
"""

from __future__ import annotations

import re

from studio.text import numbers
from studio.text.rules.common import DASH, Reader, Rule, lower_words

# I, V, X only: a "C" or "D" after "khu vực" or "loại" is a letter far more often than 100 or 500.
ROMAN = r"(?=[IVX])X{0,3}(?:IX|IV|V?I{0,3})"
_VALUES = {"I": 1, "V": 5, "X": 10}

_ORDINAL = ("thứ", "lần thứ", "kỳ họp thứ", "kì họp thứ")
_RANK = ("hạng", "giải")
_CONTEXT = (r"(?i:lần thứ|kỳ họp thứ|kì họp thứ|thứ|khóa|khoá|quý|thế kỷ|thế kỉ|kỳ|kì|đại hội|chương|"
            r"phần|mục|"
            r"tập|giai đoạn|đợt|vòng|cấp|loại|nhóm|hạng|giải|khu vực|quân khu|quân đoàn|sư đoàn|"
            r"trung đoàn|tiểu đoàn|quận|phường|chặng|học kỳ|học kì|bậc)")


def roman_value(text: str) -> int:
    """The value of a valid Roman numeral made of I, V and X."""
    total = 0
    for ch, nxt in zip(text, text[1:] + " ", strict=True):
        value = _VALUES[ch]
        total += -value if nxt != " " and _VALUES[nxt] > value else value
    return total


def _value(text: str) -> int:
    return int(text) if text.isdigit() else roman_value(text)


def _word(ctx: str, n: int, rd: Reader, medal: bool = False) -> str:
    if ctx.endswith(_ORDINAL):
        return numbers.ordinal(n, rd.region)
    if ctx == "giải" or (ctx == "hạng" and medal):
        return numbers.rank(n, rd.region)
    return rd.int(n)


def _context(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    ctx = lower_words(m.group("ctx"))
    # "Huân chương Lao động hạng Nhì" but "bệnh viện hạng hai": ranks only for orders and medals.
    medal = ctx == "hạng" and "chương" in m.string[max(0, m.start() - 48):m.start()].lower()
    first = m.group("v")
    is_roman = not first.isdigit()
    if not is_roman and not (ctx.endswith(_ORDINAL) or ctx == "giải" or medal or m.group("y")):
        return None  # "khóa 15", "chương 3": a plain cardinal, the number rule says it
    words = f"{ctx} {_word(ctx, _value(first), rd, medal)}"
    if m.group("v2"):
        # "thứ 2-6" → "thứ hai đến thứ sáu"
        words += f" đến {ctx.split()[-1]} {_word(ctx, _value(m.group('v2')), rd, medal)}"
    if m.group("y"):
        words += f" năm {rd.int(int(m.group('y')))}"
    kind = "roman" if is_roman else "ordinal"
    return kind, words


def _free(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    return "roman", rd.int(roman_value(m.group("r")))


_VAL = r"(?:[0-9]{1,3}|" + ROMAN + r")"
RULES = [
    Rule("context-number", r"(?<![\w])(?P<ctx>" + _CONTEXT + r")\s+(?P<v>" + _VAL + r")(?![\w])"
         r"(?:\s*" + DASH + r"\s*(?P<v2>" + _VAL + r")(?![\w]))?(?:/(?P<y>[0-9]{4}))?(?![\w/]|[.,][0-9])",
         _context),
]
FREE_RULES = [
    Rule("roman", r"(?<![\w&./-])(?P<r>(?=[IVX]{2,}(?![\w]))" + ROMAN + r")(?![\w&]|[./-][\w])", _free),
]
