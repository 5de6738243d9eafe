"""Web addresses and e-mail: www.mic.gov.vn, https://dichvucong.gov.vn/p/home, ten.ho@gmail.com.

Owns: the address rules. The scheme (https://) is not said; separators are named ("chấm",
"a còng", "gạch chéo"); short letter runs are spelled, known ones come from the lexicon, longer
runs are left as written for the engine.
"""

from __future__ import annotations

import re

from studio.text import numbers
from studio.text.lexicon import spell
from studio.text.rules.common import Reader, Rule, is_syllable

_SEPARATORS = {".": "chấm", "@": "a còng", "/": "gạch chéo", "-": "gạch ngang", "_": "gạch dưới",
               ":": "hai chấm", "?": "hỏi", "=": "bằng", "&": "và", "#": "thăng"}


def address_words(text: str, rd: Reader) -> str:
    """Read an address part by part."""
    text = re.sub(r"^(?i:https?://)", "", text).rstrip("/")
    words = []
    for run in re.findall(r"[0-9]+|[^\W\d_]+|.", text):
        if run in _SEPARATORS:
            words.append(_SEPARATORS[run])
        elif run.isdigit():
            words.append(numbers.read_digits(run))
        elif run.isalpha():
            known = rd.lexicon.words.get(run.lower())
            words.append(known or (spell(run) if len(run) <= 4 and not is_syllable(run) else run.lower()))
    return " ".join(words)


def _address(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    kind = "email" if "@" in m.group() else "url"
    return kind, address_words(m.group(), rd)


_TAIL = r"(?:/[^\s<>\"“”'()]*[^\s<>\"“”'().,;:!?])?"
RULES = [
    Rule("email", r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?![\w])",
         _address),
    Rule("url", r"(?i:https?://)[^\s<>\"“”'()]*[^\s<>\"“”'().,;:!?]", _address),
    Rule("domain", r"(?<![\w@.-])(?:(?i:www)\.)?[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*"
         r"\.(?:vn|com|net|org|gov|edu|info|int)(?![\w])" + _TAIL, _address),
]
