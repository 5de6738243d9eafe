"""normalize/explain contract: NFC, no digits or symbols left, bad input never crashes, speed."""

from __future__ import annotations

import re
import time
import unicodedata

import pytest

from studio.text import explain, normalize
from tests.text.cases import load_cases

_SPOKEN = re.compile(r"[^\W\d_]+(?:[ ,.?!]+[^\W\d_]+)*[,.?!]?")


def test_nfd_input_reads_like_nfc() -> None:
    nfc = "Thông báo của UBND xã ngày 2/9."
    nfd = unicodedata.normalize("NFD", nfc)
    assert normalize(nfd) == normalize(nfc)
    assert unicodedata.is_normalized("NFC", normalize(nfd))


@pytest.mark.parametrize("text", [
    "", " ", "...", "!!!???", "—", "/", "😀🎉👍", "中文字符 和 العربية", "١٢٣ và １２３", "\x00\x01\ufeff",
    "ngày 99/99/9999", "9" * 5000, "thứ 0", "quý 0/0000", "10^20", "a" * 10_000, "1/0", "0/0/0",
    "((()))", "«»“”", "&&&", "@@@", "http://", "x@y", "+84", "24h/24h", "1-2-3-4-5", "1.2.3.4.5",
    "I", "Đ", "XIV XIV XIV", "-.-.-", "\n\n\n", "\t", "𝟙𝟚𝟛", "Ⅻ", "²³", "1e10", "0x1F", "½",
])
def test_bad_input_never_crashes_and_leaves_no_digits(text: str) -> None:
    spoken = normalize(text)
    assert not re.search(r"\d", spoken)
    assert spoken == "" or _SPOKEN.fullmatch(spoken.replace(" ,", ",")) or not spoken.isascii()
    explain(text)


def test_other_scripts_pass_through_readably() -> None:
    assert "中文" in normalize("Khách 中文 đến")
    assert normalize("Chào 😀 bà con") == "chào bà con"


def test_unknown_tokens_pass_through() -> None:
    assert normalize("Xin chào Karaoke Thành Đạt") == "xin chào karaoke thành đạt"
    assert normalize("Cơ quan XYZ thông báo") == "cơ quan ích i dài dét thông báo"


def test_one_megabyte() -> None:
    text = ("Ngày 30/3, Bộ TT&TT đã ra Quyết định 490/QĐ-BTTTT với 1.500.000 đồng/người lúc 7h30. " * 12000)
    text = text[:1_000_000]
    t0 = time.perf_counter()
    spoken = normalize(text)
    assert time.perf_counter() - t0 < 60
    assert "quyết định bốn trăm chín mươi quyết định bộ thông tin và truyền thông" in spoken
    assert not re.search(r"\d", spoken)


def test_mean_time_per_sentence_under_one_ms() -> None:
    texts = [c.text for c in load_cases()]
    for t in texts[:20]:
        normalize(t)
    best = min(_time_all(texts) for _ in range(3))
    assert best / len(texts) < 0.001, f"{1000 * best / len(texts):.3f} ms per sentence"


def _time_all(texts: list[str]) -> float:
    t0 = time.perf_counter()
    for t in texts:
        normalize(t)
    return time.perf_counter() - t0


def test_explain_tokens() -> None:
    tokens = explain("Bộ TT&TT họp lúc 7h30 ngày 2/9.")
    by_text = {t.text: t for t in tokens}
    assert by_text["TT&TT"].kind == "abbreviation"
    assert by_text["TT&TT"].reading == "thông tin và truyền thông" and by_text["TT&TT"].changed
    assert by_text["7h30"].kind == "time" and by_text["7h30"].reading == "bảy giờ ba mươi phút"
    assert by_text["Bộ"].kind == "word" and not by_text["Bộ"].changed
    date = next(t for t in tokens if t.kind == "date")
    assert date.text == "ngày 2/9" and date.reading == "ngày mùng hai tháng chín"
    assert all(t.text for t in tokens)


def test_region_words_and_bad_region() -> None:
    assert normalize("105", region="nam") == "một trăm lẻ năm"
    assert normalize("105", region="trung") == "một trăm linh năm"
    with pytest.raises(ValueError, match="region 'xyz'"):
        normalize("1", region="xyz")


def test_roman_needs_context_for_single_letters() -> None:
    assert normalize("Tổ V họp") == "tổ vê họp"
    assert normalize("khóa V") == "khóa năm"
    assert normalize("Quý II/2024") == "quý hai năm hai nghìn không trăm hai mươi tư"


def test_output_keeps_pause_marks() -> None:
    assert normalize("Ngày 2/9, bà con nghỉ lễ. Chúc mừng!") == \
        "ngày mùng hai tháng chín, bà con nghỉ lễ. chúc mừng!"
