"""CAP 1.2 alerts: one entry (item, skip, cancel or error) or an InputError, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

import _harness
import atheris

with atheris.instrument_imports(include=_harness.instrumented("defusedxml")):
    from studio.errors import InputError
    from studio.ingest import cap

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    try:
        entries = cap.parse_bytes(data, name="fuzz.xml", now=NOW)
    except InputError as exc:
        assert "fuzz.xml" in exc.message, exc.message
        return
    assert len(entries) == 1


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
