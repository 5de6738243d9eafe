"""Number words: integers, decimals, digit strings and ordinals, as Vietnamese announcers say them.

Owns: the reading of numerals in the three regions. Bắc (and Trung, which follows the VOV broadcast
norm) says "nghìn" and "linh"; Nam says "ngàn" and "lẻ". Imports nothing from studio.

Why our own and not vn-numberwords 0.2.0: it reads 65 as "sáu mươi năm", 3,05 as "ba phẩy năm"
(the fraction goes through int()) and fails past 10^18 (it goes through float()); measured here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
REGIONS = ("bac", "trung", "nam")
MAX_GROUPED_DIGITS = 36
"""A dot-grouped numeral longer than this (10^36, "tỷ tỷ tỷ tỷ") is read digit by digit."""


@dataclass(frozen=True, slots=True)
class NumberStyle:
    """The words that differ between regions."""

    thousand: str
    """1 000: "nghìn" (Bắc) or "ngàn" (Nam)."""
    zero_ten: str
    """The filler for an empty tens place (105): "linh" (Bắc) or "lẻ" (Nam)."""


_STYLES = {
    "bac": NumberStyle(thousand="nghìn", zero_ten="linh"),
    "trung": NumberStyle(thousand="nghìn", zero_ten="linh"),
    "nam": NumberStyle(thousand="ngàn", zero_ten="lẻ"),
}


def style(region: str) -> NumberStyle:
    """The number style of `region` (bac, trung or nam); unknown regions read as bac."""
    return _STYLES.get(region, _STYLES["bac"])


def _triplet(n: int, full: bool, st: NumberStyle) -> list[str]:
    """Words for 0 < n < 1000; `full` says the group follows a higher one (so "không trăm" is said)."""
    hundreds, tens, units = n // 100, n // 10 % 10, n % 10
    words: list[str] = []
    if full or hundreds:
        words += [DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units and words:
            words.append(st.zero_ten)
    elif tens == 1:
        words.append("mười")
    else:
        words += [DIGITS[tens], "mươi"]
    if units:
        if units == 1 and tens >= 2:
            words.append("mốt")
        elif units == 4 and tens >= 2:
            words.append("tư")
        elif units == 5 and tens >= 1:
            words.append("lăm")
        else:
            words.append(DIGITS[units])
    return words


def _below_billion(n: int, full: bool, st: NumberStyle) -> list[str]:
    """Words for 0 < n < 10^9; groups of three, empty groups skipped ("một triệu năm trăm")."""
    words: list[str] = []
    for scale, word in ((1_000_000, "triệu"), (1_000, st.thousand), (1, "")):
        group = n // scale % 1000
        if group:
            words += _triplet(group, full or bool(words), st)
            if word:
                words.append(word)
    return words


def _int_words(n: int, st: NumberStyle) -> list[str]:
    if n == 0:
        return ["không"]
    if n < 1_000_000_000:
        return _below_billion(n, False, st)
    high, low = divmod(n, 1_000_000_000)
    words = _int_words(high, st) + ["tỷ"]
    if low:
        words += _below_billion(low, True, st)
    return words


@lru_cache(maxsize=4096)
def read_int(n: int, region: str = "bac") -> str:
    """Read a non-negative integer: 2023 → "hai nghìn không trăm hai mươi ba".

    Args:
        n: the integer (negative values are read with "âm").
        region: bac, trung or nam.

    Returns:
        The words, space-separated.
    """
    if n < 0:
        return "âm " + read_int(-n, region)
    return " ".join(_int_words(n, style(region)))


def read_digits(digits: str) -> str:
    """Read a digit string one digit at a time: "0912" → "không chín một hai"."""
    return " ".join(DIGITS[int(d)] for d in digits if d.isdigit())


def read_fraction(digits: str, region: str = "bac") -> str:
    """The part after "phẩy"/"chấm": leading zeros one by one, then up to two digits as a number.

    "5" → "năm", "05" → "không năm", "56" → "năm mươi sáu", "125" → "một hai năm".
    """
    stripped = digits.lstrip("0")
    zeros = ["không"] * (len(digits) - len(stripped))
    if not stripped:
        return " ".join(zeros)
    rest = read_int(int(stripped), region) if len(stripped) <= 2 else read_digits(stripped)
    return " ".join(zeros + [rest])


def read_numeral(text: str, region: str = "bac") -> str:
    """Read a numeral as written in Vietnamese text.

    "." groups thousands and "," marks decimals (1.500.000; 3,5; 1.234,56). A dot not followed by
    groups of three ("4.0", "2.5") is an English-style point and is read "chấm". Very long or
    zero-led digit strings (codes, accounts) are read digit by digit.

    Args:
        text: digits with optional "." and "," separators, optionally led by "-" or "+".
        region: bac, trung or nam.

    Returns:
        The words; "" when `text` holds no digit.
    """
    sign = ""
    if text[:1] in "-−":
        sign, text = "âm ", text[1:]
    elif text[:1] == "+":
        sign, text = "cộng ", text[1:]
    if "," in text:
        whole, _, frac = text.partition(",")
        head = read_numeral(whole, region) if whole else "không"
        frac = frac.replace(",", "").replace(".", "")
        return sign + (f"{head} phẩy {read_fraction(frac, region)}" if frac else head)
    if "." in text:
        groups = text.split(".")
        if len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:]) and groups[0]:
            joined = "".join(groups)
            if len(joined) > MAX_GROUPED_DIGITS:  # no amount is that long; int() refuses past 4,300 digits
                return sign + read_digits(joined)
            return sign + read_int(int(joined), region)
        whole, _, frac = text.partition(".")
        head = read_numeral(whole, region) if whole else "không"
        return sign + f"{head} chấm {read_fraction(frac.replace('.', ''), region)}"
    if not text:
        return ""
    if len(text) > 15 or (len(text) > 2 and text[0] == "0"):
        return sign + read_digits(text)
    return sign + read_int(int(text), region)


def ordinal(n: int, region: str = "bac") -> str:
    """The word after "thứ": 1 → "nhất", 4 → "tư", otherwise the cardinal ("thứ mười bốn")."""
    if n == 1:
        return "nhất"
    if n == 4:
        return "tư"
    return read_int(n, region)


def rank(n: int, region: str = "bac") -> str:
    """The word after "giải"/"hạng": 1 → "nhất", 2 → "nhì", 4 → "tư", otherwise the cardinal."""
    if n == 2:
        return "nhì"
    return ordinal(n, region)


def day_of_month(n: int, region: str = "bac") -> str:
    """A day in a date: 1–10 take "mùng" ("mùng hai tháng chín"), the others are cardinals."""
    words = read_int(n, region)
    return f"mùng {words}" if 1 <= n <= 10 else words


def month(n: int, region: str = "bac") -> str:
    """A month number after "tháng": 4 is "tư" ("tháng tư"); the others are cardinals."""
    return "tư" if n == 4 else read_int(n, region)
