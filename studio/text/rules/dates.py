"""Dates: 30/3, 2/9, 01/12/2023, 30-3-2023, tháng 9/2021, ngày 7-9/12, ngày 4 tháng 5, tháng 4.

Owns: date rules. Days 1–10 take "mùng"; a date with no "ngày" before it gets one, as announcers
say it ("Sáng 30/3" → "sáng ngày ba mươi tháng ba"). Month 4 is "tháng tư".
"""

from __future__ import annotations

import re

from studio.text import numbers
from studio.text.rules.common import DASH, END, Reader, Rule, lower_words

_PRE = r"(?:(?P<pre>(?i:ngày|mùng|mồng))\s+)?"
_D = r"(?P<d>[0-9]{1,2})"
_M = r"(?P<m>[0-9]{1,2})"
_Y = r"(?P<y>[0-9]{4})"
_LEFT = r"(?<![\w.,/])"


# Nouns after "a/b" that make it a share ("3/5 thôn đạt chuẩn"), not a date.
_COUNTED = re.compile(r"\s+(?:thôn|xã|hộ|người|trường|đơn vị|chỉ tiêu|tiêu chí|phường|tổ|lớp|huyện|tỉnh|"
                      r"khu|bản|ấp|làng|cơ sở|doanh nghiệp|học sinh|thành viên|số)(?![^\W\d_])")


def _valid(day: int, month: int) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


def _date_words(m: re.Match[str], rd: Reader, day: int, month: int, year: str | None) -> str:
    pre = lower_words(m.group("pre") or "")
    day_words = rd.int(day) if pre in ("mùng", "mồng") else numbers.day_of_month(day, rd.region)
    head = pre if pre else "ngày"
    words = f"{head} {day_words} tháng {numbers.month(month, rd.region)}"
    if year:
        words += f" năm {rd.int(int(year))}"
    return words


def _dmy(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    day, month = int(m.group("d")), int(m.group("m"))
    if not _valid(day, month):
        return None
    return "date", _date_words(m, rd, day, month, m.group("y"))


def _dm(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    day, month = int(m.group("d")), int(m.group("m"))
    if not _valid(day, month):
        return None
    if not m.group("pre") and (day, month) == (24, 7):
        return None  # "24/7" with no "ngày" is round-the-clock, read by the slash rule
    if not m.group("pre") and _COUNTED.match(m.string, m.end()):
        return None  # "3/5 thôn": a share of things counted, read "ba trên năm"
    return "date", _date_words(m, rd, day, month, None)


def _range(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    first, last, month = int(m.group("d1")), int(m.group("d2")), int(m.group("m"))
    if not (_valid(first, month) and _valid(last, month) and first < last):
        return None
    pre = lower_words(m.group("pre") or "")
    head = pre if pre else "ngày"
    if pre in ("mùng", "mồng"):
        words = f"{head} {rd.int(first)} đến {head} {rd.int(last)}"
    else:
        words = (f"{head} {numbers.day_of_month(first, rd.region)} đến ngày "
                 f"{numbers.day_of_month(last, rd.region)}")
    words += f" tháng {numbers.month(month, rd.region)}"
    if m.group("y"):
        words += f" năm {rd.int(int(m.group('y')))}"
    return "date", words


def _month_year(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    month = int(m.group("m"))
    if not 1 <= month <= 12:
        return None
    return "date", f"tháng {numbers.month(month, rd.region)} năm {rd.int(int(m.group('y')))}"


def _month(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    month = int(m.group("m"))
    if not 1 <= month <= 12:
        return None
    return "date", f"{lower_words(m.group('w'))} {numbers.month(month, rd.region)}"


def _day_word(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    day, month = int(m.group("d")), int(m.group("m"))
    if not _valid(day, month):
        return None
    return "date", _date_words(m, rd, day, month, m.group("y"))


RULES = [
    Rule("date-range", _PRE + _LEFT + r"(?P<d1>[0-9]{1,2})\s*" + DASH + r"\s*(?P<d2>[0-9]{1,2})/" + _M
         + r"(?:/" + _Y + r")?(?![0-9/]|[.,][0-9])", _range),
    Rule("date-dmy", _PRE + _LEFT + _D + r"/" + _M + r"/" + _Y + r"(?![0-9])", _dmy),
    Rule("date-dmy-dot", _PRE + _LEFT + _D + r"\." + _M + r"\." + _Y + r"(?![0-9])", _dmy),
    Rule("date-dmy-dash", _PRE + _LEFT + _D + r"-" + _M + r"-" + _Y + r"(?![0-9])", _dmy),
    Rule("month-year", _LEFT + r"(?:(?i:tháng)\s+)?" + _M + r"/" + _Y + r"(?![0-9/])", _month_year),
    Rule("month-year-dash", r"(?i:tháng)\s+" + _M + r"[-.]" + _Y + r"(?![0-9])", _month_year),
    Rule("date-dm", _PRE + _LEFT + _D + r"/" + _M + r"(?![0-9/]|[.,][0-9])", _dm),
    Rule("date-dm-dash", r"(?P<pre>(?i:ngày|mùng|mồng))\s+" + _D + r"[-.]" + _M + r"(?![0-9/]|[.,][0-9])"
         + END, _dm),
    Rule("date-words", r"(?P<pre>(?i:ngày|mùng|mồng))\s+" + _D + r"\s+(?i:tháng)\s+" + _M
         + r"(?:\s+(?i:năm)\s+" + _Y + r")?" + r"(?![0-9/.,])", _day_word),
    Rule("month", r"(?P<w>(?i:tháng))\s+" + _M + r"(?![0-9/]|[.,-][0-9])", _month),
]
