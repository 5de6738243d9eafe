"""Plain data types shared by every stage. No I/O here.

Owns: SourceItem, Priority, Bulletin, Segment, VoiceProfile, DestinationProfile. Text fields are NFC:
the constructors normalize, so nothing built from these types can carry NFD Vietnamese.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from studio.errors import ConfigError, InputError


def nfc(text: str) -> str:
    """Return `text` in Unicode NFC (Word and macOS send NFD, which espeak misreads)."""
    return unicodedata.normalize("NFC", text)


class Priority(StrEnum):
    """The three priority levels the source information systems use."""

    THONG_THUONG = "thong-thuong"
    UU_TIEN = "uu-tien"
    KHAN_CAP = "khan-cap"

    @property
    def label(self) -> str:
        """The Vietnamese word shown to staff."""
        return _PRIORITY_LABELS[self]

    @property
    def rank(self) -> int:
        """Sort key: khẩn cấp first (0), thông thường last (2)."""
        return _PRIORITY_RANK[self]

    @classmethod
    def parse(cls, value: str, *, field_name: str = "priority") -> Priority:
        """Accept the slug, the Vietnamese word (with or without marks) or an English alias.

        Raises:
            InputError: the value names no priority; the message lists the accepted ones.
        """
        key = _fold(value)
        for prio, aliases in _PRIORITY_ALIASES.items():
            if key in aliases:
                return prio
        accepted = ", ".join(f"{p.value} ({p.label})" for p in cls)
        raise InputError(f"{field_name}: unknown priority {value!r}; expected one of {accepted}")


_PRIORITY_LABELS = {
    Priority.THONG_THUONG: "thông thường",
    Priority.UU_TIEN: "ưu tiên",
    Priority.KHAN_CAP: "khẩn cấp",
}
_PRIORITY_RANK = {Priority.KHAN_CAP: 0, Priority.UU_TIEN: 1, Priority.THONG_THUONG: 2}


def _fold(value: str) -> str:
    """Lower-case, strip marks and đ, join with hyphens: 'Khẩn cấp' → 'khan-cap'."""
    decomposed = unicodedata.normalize("NFD", value.strip().lower().replace("đ", "d"))
    bare = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return "-".join(bare.replace("_", " ").replace("-", " ").split())


_PRIORITY_ALIASES = {
    Priority.THONG_THUONG: {"thong-thuong", "normal", "routine", "0"},
    Priority.UU_TIEN: {"uu-tien", "priority", "high", "1"},
    Priority.KHAN_CAP: {"khan-cap", "emergency", "urgent", "flash", "2"},
}


class ItemState(StrEnum):
    """Where a stored item is in its life. The database keeps the ASCII slug; staff see `label`."""

    NEW = "new"
    USED = "used"
    ARCHIVED = "archived"
    ERROR = "error"

    @property
    def label(self) -> str:
        """The Vietnamese word shown to staff."""
        return _STATE_LABELS[self]

    @classmethod
    def parse(cls, value: str, *, field_name: str = "state") -> ItemState:
        """Accept the slug or the Vietnamese word (with or without marks): 'đã dùng', 'da-dung', 'used'.

        Raises:
            InputError: the value names no state; the message lists the accepted ones.
        """
        key = _fold(value)
        for state in cls:
            if key in (state.value, _fold(state.label)):
                return state
        accepted = ", ".join(f"{s.value} ({s.label})" for s in cls)
        raise InputError(f"{field_name}: unknown item state {value!r}; expected one of {accepted}")


_STATE_LABELS = {
    ItemState.NEW: "mới",
    ItemState.USED: "đã dùng",
    ItemState.ARCHIVED: "lưu trữ",
    ItemState.ERROR: "lỗi",
}


def content_hash(*parts: str) -> str:
    """sha256 hex of the NFC parts joined by NUL: the identity used for de-duplication and caching."""
    h = hashlib.sha256()
    for part in parts:
        h.update(nfc(part).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class SourceItem:
    """One item pushed by a source information system or read from a document."""

    source: str
    """Where it came from: a system name, feed URL or file path."""
    source_id: str
    """The item's id at its source; (source, source_id) is unique."""
    title: str
    body: str
    priority: Priority = Priority.THONG_THUONG
    category: str = ""
    areas: tuple[str, ...] = ()
    """Target areas as official administrative unit codes."""
    published: datetime | None = None
    valid_until: datetime | None = None
    attachments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("source", "source_id", "title", "body", "category"):
            object.__setattr__(self, name, nfc(getattr(self, name)).strip())
        if not self.title:
            raise InputError(f"item {self.source_id!r} from {self.source}: field 'title' is empty")
        if not self.body:
            raise InputError(f"item {self.source_id!r} from {self.source}: field 'body' is empty")
        object.__setattr__(self, "areas", tuple(nfc(a).strip() for a in self.areas))

    @property
    def content_hash(self) -> str:
        """Hash of title + body, for de-duplicating the same text arriving twice."""
        return content_hash(self.title, self.body)


@dataclass(frozen=True, slots=True)
class Segment:
    """One part of a bulletin's running order."""

    kind: str
    """'speech', 'jingle' (an audio asset) or 'gap' (silence)."""
    text: str = ""
    """Speech text (kind 'speech'), or the asset name (kind 'jingle')."""
    duration_s: float = 0.0
    """Length of a gap."""
    item_id: int | None = None
    """The store id of the SourceItem this speech came from, if any."""

    def __post_init__(self) -> None:
        if self.kind not in ("speech", "jingle", "gap"):
            raise InputError(f"segment kind {self.kind!r}: expected speech, jingle or gap")
        object.__setattr__(self, "text", nfc(self.text))
        if self.kind == "gap" and not (0.0 <= self.duration_s <= 60.0):
            raise InputError(f"gap segment: duration_s {self.duration_s} is outside 0–60 s")


@dataclass(frozen=True, slots=True)
class Bulletin:
    """A composed bulletin: a title, its running order, and the items it uses."""

    title: str
    template: str
    segments: tuple[Segment, ...]
    item_ids: tuple[int, ...] = ()
    priority: Priority = Priority.THONG_THUONG
    created: datetime | None = None
    music_bed: str = ""
    """Asset name of a music bed ducked under the whole programme, or '' for none."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "title", nfc(self.title).strip())

    @property
    def script(self) -> str:
        """The speech text, paragraphs in running order."""
        return "\n\n".join(s.text for s in self.segments if s.kind == "speech")


@dataclass(frozen=True, slots=True)
class VoiceProfile:
    """A voice from voices/*.toml or the workspace's own voices."""

    id: str
    name: str
    """Display name in Vietnamese."""
    engine: str
    """'espeak', 'gtts', 'piper' or 'fake'."""
    region: str = "bac"
    """Reading region for the text front-end: 'bac', 'trung' or 'nam'."""
    engine_voice: str = ""
    """The engine's own voice name (espeak 'vi-VN-x-south', a Piper model file…)."""
    rate_wpm: int = 165
    pitch: int = 50
    """0–100, engine default 50."""
    volume: int = 100
    """0–200, engine default 100."""
    online: bool = False
    fallback: str = ""
    """Voice id used when this one fails (an online voice without network)."""
    attribution: str = ""
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", nfc(self.name))
        if self.region not in ("bac", "trung", "nam"):
            raise ConfigError(f"voice {self.id!r}: field 'region' is {self.region!r}; expected bac, trung or nam")
        if not 80 <= self.rate_wpm <= 450:
            raise ConfigError(f"voice {self.id!r}: field 'rate_wpm' {self.rate_wpm} is outside 80–450")
        if not 0 <= self.pitch <= 100:
            raise ConfigError(f"voice {self.id!r}: field 'pitch' {self.pitch} is outside 0–100")
        if not 0 <= self.volume <= 200:
            raise ConfigError(f"voice {self.id!r}: field 'volume' {self.volume} is outside 0–200")


@dataclass(frozen=True, slots=True)
class DestinationProfile:
    """Where a rendition goes, and the format and loudness it needs there (DESIGN.md §4)."""

    id: str
    name: str
    container: str
    """'mp3', 'wav' (BWF) …"""
    sample_rate: int
    channels: int
    target_lufs: float
    true_peak_dbtp: float
    bitrate_kbps: int = 0
    bit_depth: int = 16
    highpass_hz: float = 0.0
    compress: bool = False
    tolerance_lu: float = 1.0

    def __post_init__(self) -> None:
        if not -40.0 <= self.target_lufs <= -5.0:
            raise ConfigError(f"profile {self.id!r}: target_lufs {self.target_lufs} is outside −40…−5 LUFS")
        if not -10.0 <= self.true_peak_dbtp <= 0.0:
            raise ConfigError(f"profile {self.id!r}: true_peak_dbtp {self.true_peak_dbtp} is outside −10…0 dBTP")
        if self.channels not in (1, 2):
            raise ConfigError(f"profile {self.id!r}: channels {self.channels}: expected 1 or 2")

    def with_target(self, target_lufs: float, true_peak_dbtp: float) -> DestinationProfile:
        """A copy with another loudness target (validated like the original)."""
        return replace(self, target_lufs=target_lufs, true_peak_dbtp=true_peak_dbtp)
