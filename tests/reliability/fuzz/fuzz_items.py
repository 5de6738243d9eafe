"""JSON items (`studio ingest x.json`, `studio convert x.json`): entries or an InputError, nothing else."""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=_harness.instrumented("json")):
    from studio.errors import InputError
    from studio.ingest import items


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    try:
        entries = items.parse_bytes(data, name="fuzz.json", default_source="fuzz")
    except InputError as exc:
        assert "fuzz.json" in exc.message, exc.message
        return
    for entry in entries:
        assert (entry.item is None) != (entry.error == ""), entry


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
