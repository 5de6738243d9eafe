"""Number words by region, decimals, digit strings."""

from __future__ import annotations

import pytest

from studio.text.numbers import day_of_month, month, ordinal, rank, read_digits, read_int, read_numeral


@pytest.mark.parametrize(("n", "bac", "nam"), [
    (0, "không", "không"),
    (5, "năm", "năm"),
    (10, "mười", "mười"),
    (14, "mười bốn", "mười bốn"),
    (15, "mười lăm", "mười lăm"),
    (21, "hai mươi mốt", "hai mươi mốt"),
    (24, "hai mươi tư", "hai mươi tư"),
    (65, "sáu mươi lăm", "sáu mươi lăm"),
    (101, "một trăm linh một", "một trăm lẻ một"),
    (110, "một trăm mười", "một trăm mười"),
    (1000, "một nghìn", "một ngàn"),
    (1005, "một nghìn không trăm linh năm", "một ngàn không trăm lẻ năm"),
    (2023, "hai nghìn không trăm hai mươi ba", "hai ngàn không trăm hai mươi ba"),
    (1_000_500, "một triệu năm trăm", "một triệu năm trăm"),
    (1_050_000, "một triệu không trăm năm mươi nghìn", "một triệu không trăm năm mươi ngàn"),
    (2_000_000_000, "hai tỷ", "hai tỷ"),
    (3_005_000_000, "ba tỷ không trăm linh năm triệu", "ba tỷ không trăm lẻ năm triệu"),
    (1_250_000_000_000, "một nghìn hai trăm năm mươi tỷ", "một ngàn hai trăm năm mươi tỷ"),
    (10**18, "một tỷ tỷ", "một tỷ tỷ"),
])
def test_read_int(n: int, bac: str, nam: str) -> None:
    assert read_int(n, "bac") == bac
    assert read_int(n, "trung") == bac
    assert read_int(n, "nam") == nam


@pytest.mark.parametrize(("text", "words"), [
    ("1.500.000", "một triệu năm trăm nghìn"),
    ("3,5", "ba phẩy năm"),
    ("3,05", "ba phẩy không năm"),
    ("1.234,56", "một nghìn hai trăm ba mươi tư phẩy năm mươi sáu"),
    ("0,85", "không phẩy tám mươi lăm"),
    ("4.0", "bốn chấm không"),
    ("-2", "âm hai"),
    ("007", "không không bảy"),
    ("05", "năm"),
    ("12345678901234567890", " ".join(["một hai ba bốn năm sáu bảy tám chín không"] * 2)),
])
def test_read_numeral(text: str, words: str) -> None:
    assert read_numeral(text) == words


def test_special_words() -> None:
    assert ordinal(1) == "nhất" and ordinal(4) == "tư" and ordinal(2) == "hai" and ordinal(14) == "mười bốn"
    assert rank(2) == "nhì" and rank(1) == "nhất" and rank(3) == "ba"
    assert day_of_month(2) == "mùng hai" and day_of_month(10) == "mùng mười"
    assert day_of_month(11) == "mười một"
    assert month(4) == "tư" and month(12) == "mười hai"
    assert read_digits("0912") == "không chín một hai"


def test_negative_int() -> None:
    assert read_int(-5) == "âm năm"
