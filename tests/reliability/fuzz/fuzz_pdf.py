"""The .pdf reader (pypdf): the text or an InputError naming the file, nothing else; within the
per-input timeout and the RSS limit (decompression bombs, page-tree loops, broken xref tables)."""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=_harness.instrumented("pypdf")):
    import pypdf  # noqa: F401  (instrumented)

    from studio.errors import InputError
    from studio.ingest import documents


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    try:
        (entry,) = documents.parse_bytes(data, name="fuzz.pdf")
    except InputError as exc:
        assert "fuzz.pdf" in exc.message, exc.message
        return
    assert entry.item is not None and entry.item.title and entry.item.body


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
