"""JSON source items, in the schema of docs/source-items.md.

Owns: parsing a JSON document holding one item, a list of items, or {"items": [...]}. Text is NFC
(SourceItem normalizes). Unknown fields are errors, so a typo ("prority") never passes silently.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from studio.errors import InputError, StudioError
from studio.ingest import ParsedEntry
from studio.models import Priority, SourceItem

MAX_BYTES = 50 * 1024 * 1024
FIELDS = {"source", "id", "title", "body", "priority", "category", "areas", "published", "valid_until",
          "attachments"}


def parse_file(path: Path) -> list[ParsedEntry]:
    """Parse a JSON items file.

    Raises:
        InputError: the file cannot be read, is too large, is not UTF-8 or not JSON. Per-entry problems
            are returned as ParsedEntry errors instead.
    """
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise InputError(f"{path}: {size} bytes is over the {MAX_BYTES} byte limit for a JSON items file")
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_bytes(raw, name=str(path), default_source=path.stem)


def parse_bytes(raw: bytes, *, name: str, default_source: str = "") -> list[ParsedEntry]:
    """Parse JSON items from bytes; `name` is used in messages."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 (byte {exc.start}): save the file as UTF-8") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError:
        raise InputError(f"{name}: invalid JSON: nested too deeply to be an item file") from None
    except ValueError as exc:  # a number past Python's 4,300-digit limit for int()
        raise InputError(f"{name}: invalid JSON: {exc}") from None
    if isinstance(data, dict) and "items" in data and isinstance(data["items"], list):
        entries, prefix = data["items"], f"{name}.items"
    elif isinstance(data, list):
        entries, prefix = data, name
    elif isinstance(data, dict):
        return [_entry(data, name, default_source)]
    else:
        raise InputError(f"{name}: expected an item object, a list of items or {{\"items\": [...]}}, "
                         f"got {type(data).__name__}")
    return [_entry(e, f"{prefix}[{i}]", default_source) for i, e in enumerate(entries)]


def _entry(data: Any, location: str, default_source: str) -> ParsedEntry:
    try:
        return ParsedEntry(location=location, item=item_from_mapping(data, location, default_source))
    except StudioError as exc:
        # Keep what identifies the entry, and the entry itself, so the error row can be found and fixed.
        ident = data if isinstance(data, dict) else {}
        source = ident.get("source") if isinstance(ident.get("source"), str) else ""
        source_id = ident.get("id") if isinstance(ident.get("id"), str | int) else ""
        return ParsedEntry(location=location, error=exc.message, source=(source or default_source).strip(),
                           source_id=str(source_id).strip() or location,
                           raw=json.dumps(data, ensure_ascii=False, indent=2, default=str),
                           title=ident["title"] if isinstance(ident.get("title"), str) else "")


def item_from_mapping(data: Any, location: str, default_source: str = "") -> SourceItem:
    """Build a SourceItem from one JSON object.

    Raises:
        InputError: naming `location` and the field that is missing or wrong.
    """
    if not isinstance(data, dict):
        raise InputError(f"{location}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise InputError(f"{location}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}")
    source = _str(data, "source", location, required=not default_source) or default_source
    return SourceItem(
        source=source,
        source_id=_str(data, "id", location, required=True),
        title=_str(data, "title", location, required=True),
        body=_str(data, "body", location, required=True),
        priority=Priority.parse(_str(data, "priority", location) or "thong-thuong",
                                field_name=f"{location}.priority"),
        category=_str(data, "category", location),
        areas=_str_list(data, "areas", location),
        published=_time(data, "published", location),
        valid_until=_time(data, "valid_until", location),
        attachments=_str_list(data, "attachments", location),
    )


def _str(data: dict[str, Any], key: str, location: str, *, required: bool = False) -> str:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(f"{location}.{key}: required field is missing or empty")
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and key == "id":
        return str(value)
    if not isinstance(value, str):
        raise InputError(f"{location}.{key}: expected a string, got {type(value).__name__}")
    return value


def _str_list(data: dict[str, Any], key: str, location: str) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{location}.{key}: expected a list of strings")
    return tuple(value)


def _time(data: dict[str, Any], key: str, location: str) -> datetime | None:
    value = _str(data, key, location)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{location}.{key}: {value!r} is not an ISO 8601 date-time "
                         "(e.g. 2026-11-28T13:30:00+07:00)") from None
    if parsed.tzinfo is None:
        raise InputError(f"{location}.{key}: {value!r} has no UTC offset (add +07:00 for Vietnam time)")
    return parsed
