"""Phone numbers, hotlines and other digit strings read one digit at a time, in the groups written.

Owns: phone rules. A number after a context word ("điện thoại", "đường dây nóng", "gọi"...) is read
digit by digit whatever its shape; without one, only shapes that are surely phones are (10–11 digits
starting with 0 or +84, 1800/1900 numbers). Groups are kept as written, else 4-3-3 / 4-3-4.
"""

from __future__ import annotations

import re

from studio.text import numbers
from studio.text.rules.common import Reader, Rule, lower_words

_CONTEXT = (r"(?i:số điện thoại|điện thoại|đường dây nóng|hotline|tổng đài|số fax|fax|"
            r"số tài khoản|tài khoản|gọi(?:\s+ngay)?(?:\s+(?:đến|tới|vào))?(?:\s+số)?|mã số|"
            r"số máy lẻ|máy lẻ)|SĐT|ĐT")


def digit_groups(text: str) -> str:
    """Digits in the groups written, groups separated by commas; ungrouped runs grouped 4-3-3(-…)."""
    plus = "cộng " if text.startswith("+") else ""
    groups = [g for g in re.split(r"[^0-9]+", text) if g]
    if len(groups) == 1 and len(groups[0]) >= 8:
        run = groups[0]
        groups = [run[:4], run[4:7], run[7:]]
    return plus + ", ".join(numbers.read_digits(g) for g in groups)


def _count(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _with_context(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    num = m.group("num")
    ctx_text = m.group("ctx")
    if _count(num) < 3:
        return None
    ctx = rd.lexicon.lookup(ctx_text) or lower_words(ctx_text)
    sep = m.group("sep") or ""
    sep_words = " là" if "là" in sep else ""
    return "phone", f"{ctx}{sep_words} {digit_groups(num)}"


def _bare(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    num = m.group("num")
    digits = _count(num)
    if num.startswith("+84"):
        ok = 11 <= digits <= 12
    elif num.startswith(("1800", "1900")):
        ok = digits in (8, 10)
    else:
        ok = 10 <= digits <= 11
    return ("phone", digit_groups(num)) if ok else None


_NUMBER = r"\+?[0-9](?:[0-9]|[ .\-](?=[0-9])){2,19}"
RULES = [
    Rule("phone-context", r"(?<![\w])(?P<ctx>" + _CONTEXT + r")(?P<sep>\s*(?::|là|số)?\s*)"
         r"(?<![^\s:])(?P<num>" + _NUMBER + r")(?![\w]|[.,][0-9])", _with_context),
    Rule("phone", r"(?<![\w.,/+])(?P<num>(?:\+84|0|1800|1900)(?:[0-9]|[ .\-](?=[0-9])){6,16})"
         r"(?![\w]|[.,/][0-9])", _bare),
]
