"""The reading suite: every case in tests/data/text_cases, as written in notices → accepted readings."""

from __future__ import annotations

import re

import pytest

from studio.text import normalize
from tests.text.cases import canonical, expand, load_cases

CASES = load_cases()


def test_suite_is_big_enough_and_covers_every_class() -> None:
    assert len(CASES) >= 250
    sources = {c.source for c in CASES}
    assert {"numbers", "dates", "ordinals", "times", "phones", "money", "units", "roman", "documents",
            "abbreviations", "codes_web", "regions", "notices"} <= sources


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case) -> None:  # type: ignore[no-untyped-def]
    spoken = normalize(case.text, case.region)
    assert canonical(spoken) in case.accepted, f"{case.text!r} → {spoken!r}"
    assert not re.search(r"[0-9%/&@#$€+=<>]", spoken), spoken


def test_expand_alternatives_and_optional() -> None:
    assert sorted(expand("a {b|c} [d] e")) == sorted(["a b d e", "a b e", "a c d e", "a c e"])
    assert canonical("Uỷ ban, HOÀ bình!") == "ủy ban hòa bình"
