"""RSS/Atom feeds: entries or an InputError naming the feed, nothing else (expat, feedparser, HTML)."""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=_harness.instrumented("feedparser", "defusedxml")):
    import feedparser  # noqa: F401  (instrumented)

    from studio.errors import InputError
    from studio.ingest import feeds


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    try:
        entries = feeds.parse_bytes(data, name="fuzz.rss")
    except InputError as exc:
        assert "fuzz.rss" in exc.message, exc.message
        return
    assert entries


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
