"""Ingest: turn what the source systems and documents send into SourceItems.

One module per source kind. Every parser returns `ParsedEntry` objects: a SourceItem, or the error
that kept one entry out (naming the file and field), so one bad entry never drops the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.models import SourceItem


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry of an input: an item, or why there is none."""

    location: str
    """Where it came from: 'items.json[2]'."""
    item: SourceItem | None = None
    error: str = ""
