"""The package manifest: what a package holds, every file's size and sha256, measured loudness.

Owns: the manifest's fields, their JSON form (docs/package-spec.md, docs/package.schema.json), and
reading a manifest back with every field checked (`Manifest.from_json`), which the verifier and the
dispatcher rely on. No file writing here.
"""

from __future__ import annotations

import hashlib
import json
import math
import mimetypes
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from studio.errors import PackageError

SPEC_VERSION = "1.0"
"""Major.minor. A reader accepts any 1.x; a new major means it must refuse."""
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.json.minisig"
NINJS_NAME = "bulletin.ninjs.json"
MAX_MANIFEST_BYTES = 1 << 20

PRIORITIES = ("thong-thuong", "uu-tien", "khan-cap")
PACKAGE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ISSUER_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_KEY_ID_RE = re.compile(r"^[0-9A-F]{16}$")
_MEDIA_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".txt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".mp4": "video/mp4",
}


class ManifestError(PackageError):
    """A manifest field is missing, has the wrong type, or an invalid value."""

    default_title = "Manifest không hợp lệ"


def media_type(path: Path) -> str:
    """The media type recorded for a file, from its suffix."""
    if path.name == NINJS_NAME:
        return "application/ninjs+json"
    return (
        _MEDIA_TYPES.get(path.suffix.lower())
        or mimetypes.guess_type(path.name)[0]
        or "application/octet-stream"
    )


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_relative_path(value: str, *, field: str) -> str:
    """A package-relative file name: '/'-separated, no '..', no absolute path, no hidden parts.

    Raises:
        ManifestError: the path could escape the package folder or is not portable.
    """
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{field}: expected a non-empty relative path")
    if "\\" in value or "\0" in value or value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise ManifestError(f"{field}: {value!r} is an absolute or non-POSIX path")
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise ManifestError(f"{field}: {value!r} has an empty, '.' or '..' part (path traversal)")
    if any(p.startswith(".") for p in parts):
        raise ManifestError(f"{field}: {value!r} has a hidden part (starting with '.')")
    if any(ord(c) < 0x20 for c in value) or len(value) > 255:
        raise ManifestError(f"{field}: {value!r} has control characters or is longer than 255")
    if PurePosixPath(value).as_posix() != value:
        raise ManifestError(f"{field}: {value!r} is not in normal form")
    return value


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
    captions: str | None = None
    """The caption file that goes with this rendition (web: WebVTT), if any."""
    video: dict[str, Any] | None = None
    """For video renditions: width, height, frame_rate, video_codec, audio_codec."""


@dataclass(frozen=True, slots=True)
class AreaEntry:
    """A target area: an official administrative unit code (GSO), after the 1 July 2025 reorganization."""

    code: str
    level: str
    """'province' (2 digits) or 'commune' (5 digits: xã, phường, đặc khu)."""
    name: str
    province_code: str
    legacy_code: str | None = None
    """The pre-2025 code the sender gave, when it was converted."""


@dataclass(frozen=True, slots=True)
class CaptionEntry:
    file: str
    format: str
    """'webvtt' or 'srt'."""
    cues: int


@dataclass(frozen=True, slots=True)
class SourceRef:
    source: str
    id: str
    title: str


@dataclass(frozen=True, slots=True)
class VoiceEntry:
    voice: str
    engine: str
    fallbacks: tuple[str, ...] = ()
    """What happened when a voice failed and another read instead (empty when none did)."""


@dataclass(frozen=True, slots=True)
class SignerEntry:
    key_id: str
    """minisign key id, 16 upper-case hex digits."""
    key_name: str
    role: str


@dataclass(frozen=True, slots=True)
class Manifest:
    package_id: str
    issuer: str
    sequence: int
    created: str
    valid_until: str
    priority: str
    title: str
    summary: str
    text: str
    """The bulletin text as read (also in `text_file`)."""
    text_file: str
    files: tuple[FileEntry, ...]
    renditions: tuple[RenditionEntry, ...]
    captions: tuple[CaptionEntry, ...]
    source_items: tuple[SourceRef, ...]
    voices: tuple[VoiceEntry, ...]
    signer: SignerEntry
    areas: tuple[AreaEntry, ...] = ()
    ninjs: str = NINJS_NAME
    language: str = "vi"
    spec_version: str = SPEC_VERSION

    def to_json(self) -> bytes:
        """The exact manifest bytes: UTF-8, sorted keys, 2-space indent, trailing newline."""
        return (
            json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True, allow_nan=False) + "\n"
        ).encode("utf-8")

    @property
    def created_at(self) -> datetime:
        return parse_time(self.created, field="created")

    @property
    def valid_until_at(self) -> datetime:
        return parse_time(self.valid_until, field="valid_until")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse and check manifest bytes (duplicate keys, unknown fields and wrong types are errors).

        Raises:
            ManifestError: naming the first field that is wrong.
        """
        if len(data) > MAX_MANIFEST_BYTES:
            raise ManifestError(f"manifest: {len(data)} bytes, more than {MAX_MANIFEST_BYTES}")
        try:
            raw = json.loads(
                data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constants
            )
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"manifest: not valid UTF-8 JSON: {exc}") from exc
        except RecursionError:
            raise ManifestError("manifest: not valid JSON: nested too deeply") from None
        except ValueError as exc:  # an integer past Python's 4,300-digit limit
            raise ManifestError(f"manifest: not valid JSON: {exc}") from None
        return _parse_manifest(raw)


def parse_time(value: str, *, field: str) -> datetime:
    """An RFC 3339 timestamp with its offset (naive times are refused).

    Raises:
        ManifestError: not a timestamp, or no UTC offset.
    """
    if not isinstance(value, str) or not re.match(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", value
    ):
        raise ManifestError(f"{field}: {value!r} is not an RFC 3339 date-time with offset")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise ManifestError(f"{field}: {value!r}: {exc}") from exc


def format_time(value: datetime) -> str:
    """UTC, whole seconds, 'Z'."""
    from datetime import UTC

    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- strict reading -----------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ManifestError(f"manifest: key {key!r} appears twice")
        out[key] = value
    return out


def _no_constants(name: str) -> Any:
    raise ManifestError(f"manifest: {name} is not JSON")


def _obj(
    value: Any, field: str, required: set[str], optional: frozenset[str] = frozenset()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{field}: expected an object")
    missing = required - value.keys()
    if missing:
        raise ManifestError(f"{field}: missing {', '.join(sorted(missing))}")
    unknown = value.keys() - required - optional
    if unknown:
        raise ManifestError(f"{field}: unknown field(s) {', '.join(sorted(unknown))}")
    return value


def _str(value: Any, field: str, *, pattern: re.Pattern[str] | None = None, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value):
        raise ManifestError(f"{field}: expected a {'' if empty else 'non-empty '}string")
    if pattern is not None and not pattern.match(value):
        raise ManifestError(f"{field}: {value!r} does not match {pattern.pattern}")
    return value


def _int(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ManifestError(f"{field}: expected an integer ≥ {minimum}")
    return value


def _num(value: Any, field: str, *, nullable: bool = False) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ManifestError(f"{field}: expected a finite number")
    return float(value)


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise ManifestError(f"{field}: expected an array")
    return value


_TOP_REQUIRED = {
    "spec_version",
    "package_id",
    "issuer",
    "sequence",
    "created",
    "valid_until",
    "priority",
    "title",
    "summary",
    "text",
    "text_file",
    "files",
    "renditions",
    "captions",
    "source_items",
    "voices",
    "signer",
    "areas",
    "ninjs",
    "language",
}


def _parse_manifest(raw: Any) -> Manifest:
    m = _obj(raw, "manifest", _TOP_REQUIRED)
    spec = _str(m["spec_version"], "spec_version", pattern=re.compile(r"^\d+\.\d+$"))
    if spec.split(".")[0] != SPEC_VERSION.split(".")[0]:
        raise ManifestError(
            f"spec_version: {spec} is not readable by this studio (reads {SPEC_VERSION[0]}.x)"
        )
    files: list[FileEntry] = []
    seen: set[str] = set()
    for i, f in enumerate(_list(m["files"], "files")):
        e = _obj(f, f"files[{i}]", {"path", "size", "sha256", "media_type"})
        path = check_relative_path(e["path"], field=f"files[{i}].path")
        if path in (MANIFEST_NAME, SIGNATURE_NAME):
            raise ManifestError(f"files[{i}].path: {path} cannot be listed in itself")
        if path in seen:
            raise ManifestError(f"files[{i}].path: {path} is listed twice")
        seen.add(path)
        files.append(
            FileEntry(
                path=path,
                size=_int(e["size"], f"files[{i}].size"),
                sha256=_str(e["sha256"], f"files[{i}].sha256", pattern=_SHA256_RE),
                media_type=_str(e["media_type"], f"files[{i}].media_type"),
            )
        )

    def listed(value: Any, field: str) -> str:
        path = check_relative_path(value, field=field)
        if path not in seen:
            raise ManifestError(f"{field}: {path} is not in files")
        return path

    renditions = []
    for i, r in enumerate(_list(m["renditions"], "renditions")):
        f = f"renditions[{i}]"
        e = _obj(
            r,
            f,
            {
                "profile",
                "file",
                "duration_s",
                "integrated_lufs",
                "true_peak_dbtp",
                "loudness_range_lu",
                "target_lufs",
                "ceiling_dbtp",
                "sample_rate",
                "channels",
                "captions",
                "video",
            },
        )
        video = e["video"]
        if video is not None:
            _obj(video, f"{f}.video", {"width", "height", "frame_rate", "video_codec", "audio_codec"})
        renditions.append(
            RenditionEntry(
                profile=_str(e["profile"], f"{f}.profile"),
                file=listed(e["file"], f"{f}.file"),
                duration_s=_num(e["duration_s"], f"{f}.duration_s"),  # type: ignore[arg-type]
                integrated_lufs=_num(e["integrated_lufs"], f"{f}.integrated_lufs"),  # type: ignore[arg-type]
                true_peak_dbtp=_num(e["true_peak_dbtp"], f"{f}.true_peak_dbtp"),  # type: ignore[arg-type]
                loudness_range_lu=_num(e["loudness_range_lu"], f"{f}.loudness_range_lu", nullable=True),
                target_lufs=_num(e["target_lufs"], f"{f}.target_lufs"),  # type: ignore[arg-type]
                ceiling_dbtp=_num(e["ceiling_dbtp"], f"{f}.ceiling_dbtp"),  # type: ignore[arg-type]
                sample_rate=_int(e["sample_rate"], f"{f}.sample_rate", minimum=1),
                channels=_int(e["channels"], f"{f}.channels", minimum=1),
                captions=None if e["captions"] is None else listed(e["captions"], f"{f}.captions"),
                video=video,
            )
        )
    captions = []
    for i, c in enumerate(_list(m["captions"], "captions")):
        e = _obj(c, f"captions[{i}]", {"file", "format", "cues"})
        if e["format"] not in ("webvtt", "srt"):
            raise ManifestError(f"captions[{i}].format: {e['format']!r}; expected webvtt or srt")
        captions.append(
            CaptionEntry(
                file=listed(e["file"], f"captions[{i}].file"),
                format=e["format"],
                cues=_int(e["cues"], f"captions[{i}].cues"),
            )
        )
    areas = []
    for i, a in enumerate(_list(m["areas"], "areas")):
        e = _obj(a, f"areas[{i}]", {"code", "level", "name", "province_code", "legacy_code"})
        if e["level"] not in ("province", "commune"):
            raise ManifestError(f"areas[{i}].level: {e['level']!r}; expected province or commune")
        areas.append(
            AreaEntry(
                code=_str(e["code"], f"areas[{i}].code", pattern=re.compile(r"^(\d{2}|\d{5})$")),
                level=e["level"],
                name=_str(e["name"], f"areas[{i}].name"),
                province_code=_str(
                    e["province_code"], f"areas[{i}].province_code", pattern=re.compile(r"^\d{2}$")
                ),
                legacy_code=None
                if e["legacy_code"] is None
                else _str(e["legacy_code"], f"areas[{i}].legacy_code"),
            )
        )
    sources = [
        SourceRef(
            **{
                k: _str(v, f"source_items[{i}].{k}", empty=k == "title")
                for k, v in _obj(s, f"source_items[{i}]", {"source", "id", "title"}).items()
            }
        )
        for i, s in enumerate(_list(m["source_items"], "source_items"))
    ]
    voices = []
    for i, v in enumerate(_list(m["voices"], "voices")):
        e = _obj(v, f"voices[{i}]", {"voice", "engine", "fallbacks"})
        voices.append(
            VoiceEntry(
                voice=_str(e["voice"], f"voices[{i}].voice"),
                engine=_str(e["engine"], f"voices[{i}].engine"),
                fallbacks=tuple(
                    _str(x, f"voices[{i}].fallbacks") for x in _list(e["fallbacks"], f"voices[{i}].fallbacks")
                ),
            )
        )
    s = _obj(m["signer"], "signer", {"key_id", "key_name", "role"})
    if s["role"] not in ("routine", "emergency"):
        raise ManifestError(f"signer.role: {s['role']!r}; expected routine or emergency")
    signer = SignerEntry(
        key_id=_str(s["key_id"], "signer.key_id", pattern=_KEY_ID_RE),
        key_name=_str(s["key_name"], "signer.key_name"),
        role=s["role"],
    )
    if m["priority"] not in PRIORITIES:
        raise ManifestError(f"priority: {m['priority']!r}; expected one of {', '.join(PRIORITIES)}")
    manifest = Manifest(
        spec_version=spec,
        package_id=_str(m["package_id"], "package_id", pattern=PACKAGE_ID_RE),
        issuer=_str(m["issuer"], "issuer", pattern=ISSUER_RE),
        sequence=_int(m["sequence"], "sequence", minimum=1),
        created=m["created"],
        valid_until=m["valid_until"],
        priority=m["priority"],
        title=_str(m["title"], "title"),
        summary=_str(m["summary"], "summary", empty=True),
        text=_str(m["text"], "text"),
        text_file=listed(m["text_file"], "text_file"),
        files=tuple(files),
        renditions=tuple(renditions),
        captions=tuple(captions),
        source_items=tuple(sources),
        voices=tuple(voices),
        signer=signer,
        areas=tuple(areas),
        ninjs=listed(m["ninjs"], "ninjs"),
        language=_str(m["language"], "language"),
    )
    if manifest.valid_until_at <= manifest.created_at:
        raise ManifestError(f"valid_until: {manifest.valid_until} is not after created {manifest.created}")
    return manifest
