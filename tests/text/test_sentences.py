"""Sentence splitting and pauses."""

from __future__ import annotations

from studio.text import Pause, script, sentences


def test_sentences_and_pauses() -> None:
    text = ("Ngày 30/3, Bộ TT&TT ra quyết định. TP. Hồ Chí Minh có 1.500 hộ. Xem www.mic.gov.vn. Hết!\n\n"
            "Đoạn hai. TS. Lê Văn An phát biểu.")
    got = sentences(text)
    assert [s.text for s in got] == [
        "Ngày 30/3, Bộ TT&TT ra quyết định.", "TP. Hồ Chí Minh có 1.500 hộ.", "Xem www.mic.gov.vn.", "Hết!",
        "Đoạn hai.", "TS. Lê Văn An phát biểu."]
    assert [s.pause for s in got] == [Pause.SENTENCE] * 3 + [Pause.PARAGRAPH] + [Pause.SENTENCE,
                                                                                 Pause.PARAGRAPH]
    assert got[0].pause_s < got[3].pause_s


def test_headline_lines_are_their_own_sentences() -> None:
    got = sentences("THÔNG BÁO\nVề việc tiêm chủng\nUBND xã thông báo lịch tiêm.")
    assert [s.text for s in got] == ["THÔNG BÁO", "Về việc tiêm chủng", "UBND xã thông báo lịch tiêm."]


def test_clauses() -> None:
    got = sentences("Sáng nay, trời mưa; chiều nắng.", clauses=True)
    assert [(s.text, s.pause) for s in got] == [
        ("Sáng nay,", Pause.COMMA), ("trời mưa;", Pause.COMMA), ("chiều nắng.", Pause.PARAGRAPH)]
    assert got[0].pause_s == 0.25


def test_script_is_spoken_and_drops_empty() -> None:
    got = script("Ngày 2/9.\n\n😀 !\n\nHọp lúc 7h.")
    assert [s.text for s in got] == ["ngày mùng hai tháng chín.", "họp lúc bảy giờ."]


def test_empty() -> None:
    assert sentences("") == [] and sentences("  \n\n ") == []
