"""Document symbols: 490/QĐ-BTTTT, 100/2019/NĐ-CP, 24/2018/QH14, 05/CT-TTg, 123/UBND-VX.

Owns: the document-symbol rule. Announcers say the number, "năm" and the year, then the type and
the issuer in full ("nghị định số 100/2019/NĐ-CP" → "… một trăm năm hai nghìn không trăm mười
chín nghị định chính phủ"); the slashes and hyphens are not said. Parts come from the lexicon's
[documents] table, then [abbreviations]; unknown parts are spelled.
"""

from __future__ import annotations

import re

from studio.text.lexicon import spell
from studio.text.rules.common import Reader, Rule


def _part(part: str, rd: Reader) -> str:
    found = rd.lexicon.document_part(part)
    if found:
        return found
    words = []
    for run in re.findall(r"[0-9]+|[^\W\d_]+|&", part):
        if run == "&":
            words.append("và")
        elif run.isdigit():
            words.append(rd.num(run))
        else:
            words.append(rd.lexicon.document_part(run) or spell(run))
    return " ".join(words)


def _document(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    words = [rd.num(m.group("num").rstrip("abcdđ")) + ("" if m.group("num")[-1].isdigit()
                                                        else " " + spell(m.group("num")[-1]))]
    if m.group("year"):
        words.append(f"năm {rd.int(int(m.group('year')))}")
    for part in re.split(r"[-–]", m.group("sym")):
        if part:
            words.append(_part(part, rd))
    return "document", " ".join(words)


def _party_document(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    """Party documents put the type before the slash: 57-NQ/TW."""
    parts = [_part(p, rd) for p in re.split(r"[/-]", m.group("sym")) if p]
    return "document", " ".join([rd.num(m.group("num")), *parts])


_PART = r"[A-ZĐ][A-Za-zĐđ0-9&]*"
RULES = [
    Rule("document-party", r"(?<![\w/.,])(?P<num>[0-9]{1,5})-(?P<sym>" + _PART + r"/" + _PART + r")(?![\w&])",
         _party_document),
    Rule("document", r"(?<![\w/.,])(?P<num>[0-9]{1,5}[a-dđ]?)(?:/(?P<year>[0-9]{4}))?/(?P<sym>" + _PART
         + r"(?:[-–]" + _PART + r")*)(?![\w&])", _document),
]
