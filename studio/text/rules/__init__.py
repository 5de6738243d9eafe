"""Reading rules, in the order they are tried at each position of the text.

Owns: the rule order. Earlier rules win when two match at the same place, so specific shapes
(addresses, document symbols, phones, dates, times) come before quantities, codes and numerals.
"""

from __future__ import annotations

from studio.text.rules import codes, dates, documents, phones, roman, times, units, web
from studio.text.rules.common import Reader, Rule

BEFORE_LEXICON: list[Rule] = [*web.RULES, phones.RULES[0], *codes.ROAD_RULES]
AFTER_LEXICON: list[Rule] = [
    *documents.RULES,
    *phones.RULES[1:],
    *dates.RULES,
    *roman.RULES,
    *times.RULES,
    *units.RULES,
    *roman.FREE_RULES,
    *codes.RULES,
]

__all__ = ["AFTER_LEXICON", "BEFORE_LEXICON", "Reader", "Rule"]
