"""The package manifest: what a package holds, every file's size and sha256, measured loudness.

Owns: the manifest's fields and their JSON form (docs/package-spec.md). No file writing here.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SPEC_VERSION = "1.0"
_MEDIA_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
                ".opus": "audio/ogg", ".txt": "text/plain; charset=utf-8", ".vtt": "text/vtt",
                ".srt": "application/x-subrip", ".json": "application/json", ".mp4": "video/mp4"}


def media_type(path: Path) -> str:
    """The media type recorded for a file, from its suffix."""
    return _MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    """Relative to the package folder, '/'-separated."""
    size: int
    sha256: str
    media_type: str

    @classmethod
    def of(cls, folder: Path, path: Path) -> FileEntry:
        rel = path.relative_to(folder).as_posix()
        return cls(path=rel, size=path.stat().st_size, sha256=sha256_file(path), media_type=media_type(path))


@dataclass(frozen=True, slots=True)
class RenditionEntry:
    """One rendition and what was measured on the written file (not what was intended)."""

    profile: str
    file: str
    duration_s: float
    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float | None
    target_lufs: float
    ceiling_dbtp: float
    sample_rate: int
    channels: int


@dataclass(frozen=True, slots=True)
class Manifest:
    package_id: str
    issuer: str
    sequence: int
    created: str
    priority: str
    title: str
    valid_until: str | None
    summary: str
    files: tuple[FileEntry, ...]
    renditions: tuple[RenditionEntry, ...]
    source_items: tuple[dict[str, str], ...]
    voices: tuple[dict[str, str], ...]
    areas: tuple[str, ...] = ()
    spec_version: str = SPEC_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        """The exact manifest bytes: UTF-8, sorted keys, 2-space indent, trailing newline."""
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
