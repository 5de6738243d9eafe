"""Quantities: a numeral (or a range of two) with a unit, a currency or a per-unit ("50.000 đồng/người").

Owns: the unit table and the quantity rule. Units are read only right after a numeral, where "m"
or "ha" cannot be a word; the few units that are safe anywhere ("km", "kg", "m2") are also in
ANYWHERE for the word pass.
"""

from __future__ import annotations

import re

from studio.text.lexicon import _trie_pattern
from studio.text.rules.common import DASH, NUM, NUM_START, Reader, Rule

UNITS = {
    "km": "ki lô mét", "Km": "ki lô mét", "m": "mét", "cm": "xen ti mét", "mm": "mi li mét",
    "dm": "đề xi mét",
    "km2": "ki lô mét vuông", "m2": "mét vuông", "cm2": "xen ti mét vuông", "m3": "mét khối",
    "ha": "héc ta", "kg": "ki lô gam", "Kg": "ki lô gam", "g": "gam", "mg": "mi li gam", "ml": "mi li lít",
    "km/h": "ki lô mét trên giờ", "h": "giờ", "kVA": "ki lô vôn ampe", "m/s": "mét trên giây",
    "°C": "độ xê", "℃": "độ xê", "oC": "độ xê", "độ C": "độ xê", "°F": "độ ép", "°": "độ",
    "%": "phần trăm", "‰": "phần nghìn",
    "Hz": "héc", "kHz": "ki lô héc", "MHz": "mê ga héc", "GHz": "gi ga héc",
    "W": "oát", "kW": "ki lô oát", "kWh": "ki lô oát giờ", "MW": "mê ga oát", "V": "vôn", "kV": "ki lô vôn",
    "GB": "gi ga bai", "MB": "mê ga bai", "Mbps": "mê ga bít trên giây", "dB": "đề xi ben",
    "mmHg": "mi li mét thủy ngân", "ppm": "pi pi em",
    "đ": "đồng", "đồng": "đồng", "₫": "đồng", "VNĐ": "đồng", "VND": "đồng", "vnđ": "đồng",
    "USD": "đô la mỹ", "$": "đô la mỹ", "EUR": "ơ rô", "€": "ơ rô",
}
ANYWHERE = {"km", "kg", "km2", "m2", "m3", "km/h", "kWh", "MHz", "kHz", "GHz", "°C", "℃"}
# Counting nouns that follow "/" in a rate ("đồng/người", "tạ/ha"): the "/" is said "một".
PER_NOUNS = {"người", "hộ", "khẩu", "ngày", "tháng", "năm", "tuần", "quý", "giờ", "phút", "lượt", "con",
             "lần", "suất", "xã", "sào", "mẫu", "công", "ca", "buổi", "chuyến", "cái", "chiếc", "bao", "lít",
             "tấn", "tạ", "yến", "cân", "lớp", "trường", "thôn", "bản", "xe", "học"}
PER_LEFT = {"tạ", "yến", "cân", "mẫu", "sào", "đồng", "đ", "USD", "VNĐ", "VND", "$", "EUR", "km", "kg", "m",
            "m2", "m3", "ha", "tấn", "lít", "g"}
_SCALES = r"(?i:nghìn|ngàn|triệu|tỷ|tỉ)"
UNIT_PATTERN = _trie_pattern(sorted(UNITS, key=len, reverse=True))


def unit_reading(unit: str) -> str:
    """A unit as said, or the word itself lower-cased."""
    return UNITS.get(unit) or UNITS.get(unit.lower()) or unit.lower()


def _quantity(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    words = rd.num(m.group("n"))
    if m.group("n2"):
        words += " đến " + rd.num(m.group("n2"))
    if m.group("scale"):
        words += " " + m.group("scale").lower()
    unit = m.group("u")
    words += " " + unit_reading(unit)
    for per in (m.group("per"), m.group("per2")):
        if per:
            words += " một " + unit_reading(per)
    if unit in ("%", "‰"):
        kind = "percent"
    else:
        kind = "money" if unit_reading(unit) in ("đồng", "đô la mỹ", "ơ rô") else "unit"
    return kind, words


def _money_before(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    words = rd.num(m.group("n"))
    if m.group("scale"):
        words += " " + m.group("scale").lower()
    return "money", f"{words} {unit_reading(m.group('cur'))}"


RULES = [
    Rule("quantity", NUM_START + r"(?P<n>-?" + NUM + r")(?:\s*" + DASH + r"\s*(?P<n2>" + NUM + r"))?"
         r"(?:\s*(?P<scale>" + _SCALES + r")(?![^\W\d_]))?\s?(?P<u>" + UNIT_PATTERN + r")"
         r"(?:/(?P<per>" + UNIT_PATTERN + r"(?![^\W_])|[^\W\d_]+))?"
         r"(?:/(?P<per2>" + UNIT_PATTERN + r"(?![^\W_])|[^\W\d_]+))?(?![^\W_])", _quantity),
    Rule("money-prefix", r"(?P<cur>[$€])\s?(?P<n>" + NUM + r")"
         r"(?:\s*(?P<scale>" + _SCALES + r")(?![^\W\d_]))?", _money_before),
]
