"""The text front-end: `normalize`, `explain`, `sentences`, `script` never raise on any text, and the
spoken form never holds an ASCII digit (every number is read out in words)."""

from __future__ import annotations

import re

import _harness
import atheris

with atheris.instrument_imports(include=_harness.instrumented()):
    from studio.text import REGIONS, explain, normalize, script, sentences


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    fdp = atheris.FuzzedDataProvider(data)
    region = REGIONS[fdp.ConsumeIntInRange(0, len(REGIONS) - 1)]
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes()) if fdp.ConsumeBool() else \
        data[1:].decode("utf-8", "replace")
    spoken = normalize(text, region)
    if re.search(r"[0-9]", spoken):
        raise AssertionError(f"ASCII digit left in the spoken form: {text!r} -> {spoken!r}")
    for token in explain(text, region):
        if re.search(r"[0-9]", token.reading):
            raise AssertionError(f"ASCII digit left in a reading: {text!r} -> {token!r}")
    for clauses in (False, True):
        for sentence in sentences(text, clauses=clauses):
            if not sentence.text.strip():
                raise AssertionError(f"empty sentence from {text!r}")
    for sentence in script(text, region):
        if re.search(r"[0-9]", sentence.text):
            raise AssertionError(f"ASCII digit left in a script sentence: {text!r} -> {sentence.text!r}")


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
