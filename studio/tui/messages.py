"""App-wide messages, as small dataclasses. Workers post these; screens turn them into widgets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from studio.store import StoredBulletin, StoredItem, StoredPackage


@dataclass
class ItemsLoaded(Message):
    """The workspace's items were read (in a worker thread)."""

    items: list[StoredItem]


@dataclass
class IngestFinished(Message):
    """A file was ingested: how many items were new, already known, or refused (with why)."""

    path: str
    added: int
    known: int
    errors: list[str] = field(default_factory=list)


@dataclass
class BulletinLoaded(Message):
    """The current bulletin draft was read, or there is none (`stored` is None)."""

    stored: StoredBulletin | None
    items: dict[int, StoredItem] = field(default_factory=dict)


@dataclass
class DraftSaved(Message):
    """A draft reached the store: `bulletin_id` is its id (new drafts get one on first save)."""

    bulletin_id: int
    seq: int


@dataclass
class ReadingExplained(Message):
    """How a segment's text will be read: studio.text tokens, for the Cách đọc panel."""

    text: str
    tokens: list[Any]


@dataclass
class RenderProgress(Message):
    """Render progress (0–1) and what is happening. Floods collapse to the latest one."""

    fraction: float
    what: str

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RenderProgress)


@dataclass
class RenderFinished(Message):
    """A render finished: `result` is a studio.tui.produce.RenderResult."""

    bulletin_id: int
    result: Any


@dataclass
class PackagesLoaded(Message):
    """The workspace's packages were read."""

    packages: list[StoredPackage]


@dataclass
class VoicesLoaded(Message):
    """Voice profiles with whether each can speak here (and why not)."""

    rows: list[tuple[Any, bool, str]]


@dataclass
class VoiceTested(Message):
    """A voice (or a lexicon reading) was spoken into `path`."""

    voice_id: str
    text: str
    path: str
    duration_s: float
    notes: list[str] = field(default_factory=list)


@dataclass
class LexiconLoaded(Message):
    """The workspace lexicon's own entries, by table, and the shipped entry count."""

    entries: dict[str, dict[str, str]]
    shipped_count: int
