"""WebVTT and SRT writers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from studio.errors import InputError
from studio.package.captions import parse_srt, parse_webvtt, timestamp, to_srt, to_webvtt


@dataclass
class C:
    text: str
    start_s: float
    end_s: float


CUES = [C("Đây là Đài Truyền thanh xã.", 0.5, 2.25), C("Giá điện < 2.000 đồng & hơn.", 2.7506, 3661.0)]


def test_webvtt_format() -> None:
    assert to_webvtt(CUES) == ("WEBVTT\n\n1\n00:00:00.500 --> 00:00:02.250\nĐây là Đài Truyền thanh xã.\n\n"
                               "2\n00:00:02.751 --> 01:01:01.000\nGiá điện &lt; 2.000 đồng &amp; hơn.\n")


def test_srt_format() -> None:
    assert to_srt(CUES) == ("1\n00:00:00,500 --> 00:00:02,250\nĐây là Đài Truyền thanh xã.\n\n"
                            "2\n00:00:02,751 --> 01:01:01,000\nGiá điện < 2.000 đồng & hơn.\n")


def test_long_sentences_wrap_and_round_trip() -> None:
    long = C("Đề nghị bà con không ra khơi, tàu thuyền đang hoạt động trên biển khẩn trương vào nơi tránh trú.", 1, 9)
    vtt = to_webvtt([long])
    body = vtt.split("\n")[4:-1]
    assert len(body) == 3 and all(len(line) <= 42 for line in body)
    assert parse_webvtt(vtt) == [(1.0, 9.0, long.text)]
    assert parse_srt(to_srt(CUES)) == [(c.start_s if c.start_s != 2.7506 else 2.751, c.end_s, c.text) for c in CUES]


@pytest.mark.parametrize(("cues", "message"), [
    ([C("a", 2.0, 1.0)], "caption 1: start 2.000 s must be ≥ 0 and before end 1.000 s"),
    ([C("a", 0.0, 2.0), C("b", 1.5, 3.0)], "caption 2: starts at 1.500 s, before the previous one ends"),
])
def test_bad_cues(cues: list[C], message: str) -> None:
    with pytest.raises(InputError, match=message):
        to_webvtt(cues)


def test_timestamp_rounding() -> None:
    assert timestamp(59.9996) == "00:01:00.000" and timestamp(0.0004, separator=",") == "00:00:00,000"
