"""Clock times: 7h30, 7h, 6h00, 17h, 7g30, 7:30, 7:30:15, 7h30'.

Owns: time rules. "h"/"g" are "giờ"; minutes "00" are not said ("6h00" → "sáu giờ").
"14 giờ 15 phút" needs no rule: its numbers are plain cardinals.
"""

from __future__ import annotations

import re

from studio.text.rules.common import END, Reader, Rule


def _time(m: re.Match[str], rd: Reader) -> tuple[str, str] | None:
    hour = int(m.group("h"))
    minute = int(m.group("m") or 0)
    second = int(m.group("s") or 0)
    if hour > 24 or minute > 59 or second > 59:
        return None
    words = f"{rd.int(hour)} giờ"
    if minute or second:
        words += f" {rd.int(minute)} phút"
    if second:
        words += f" {rd.int(second)} giây"
    return "time", words


RULES = [
    Rule("time", r"(?<![\w.,/])(?P<h>[0-9]{1,2})(?:[hg:](?P<m>[0-9]{2})(?::(?P<s>[0-9]{2}))?"
         r"(?:'|(?:ph|p)(?![^\W\d_]))?|h)" + END, _time),
]
