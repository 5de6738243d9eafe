"""Ingest: turn what the source systems and documents send into SourceItems, and store them.

One module per source kind (items.py JSON, feeds.py RSS/Atom, cap.py CAP 1.2, documents.py
txt/md/docx/pdf, hotfolder.py). Every parser returns `ParsedEntry` objects: a SourceItem, or the error
that kept one entry out (naming the file and field), so one bad entry never drops the rest. This
module picks the parser for a path or URL (`parse_target`) and stores the entries (`store_entries`):
good ones as items, bad ones as items in state 'error' with their error and raw text, CAP Update and
Cancel acting on the alerts they reference. Must not import compose/tts/audio/package.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from studio.errors import InputError, StudioError
from studio.models import ItemState, SourceItem

if TYPE_CHECKING:
    from studio.store import Store

FETCH_TIMEOUT_S = 20.0
"""Hard deadline for one URL (a stalled portal must not hang an ingest run)."""
MAX_INPUT_BYTES = 50 * 1024 * 1024
"""Any one input (a JSON batch from a source system, a .docx or .pdf with photos). Each kind has its own,
lower limit where its parser would take long on a file that large (see `check_size`)."""
RAW_KEEP_CHARS = 200_000
"""How much of a failed text input is kept in the store (the whole of any realistic notice)."""
FAILED_SOURCE = "ingest"
"""The source under which an input that could not be read at all is stored."""

KINDS = ("items", "feed", "cap", "document")
_DOCUMENT_SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".pdf")


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry of an input: an item, or why there is none."""

    location: str
    """Where it came from: 'items.json[2]'."""
    item: SourceItem | None = None
    error: str = ""
    source: str = ""
    """For an entry in error: the source it claimed (or the input's), to store the error under."""
    source_id: str = ""
    """For an entry in error: its id at the source (or its location)."""
    raw: str = ""
    """For an entry in error: the entry as received, so nothing is lost."""
    title: str = ""
    """For an entry in error: its title when it had one (shown in the item list)."""
    skipped: str = ""
    """Set when the entry is deliberately not stored (CAP Test/Exercise/Draft, expired): why."""
    replaces: tuple[tuple[str, str], ...] = ()
    """(source, source_id) of earlier items this one supersedes (CAP msgType Update)."""
    cancels: tuple[tuple[str, str], ...] = ()
    """(source, source_id) of earlier items withdrawn by this entry (CAP msgType Cancel; item is None)."""


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What happened to one entry of one input. `status` is part of the CLI's JSON output."""

    input: str
    location: str
    status: str
    """'added', 'duplicate', 'error', 'skipped' or 'cancelled'."""
    item_id: int | None = None
    title: str = ""
    priority: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, object]:
        return {"input": self.input, "location": self.location, "status": self.status, "id": self.item_id,
                "title": self.title, "priority": self.priority, "message": self.message}


def is_url(target: str | Path) -> bool:
    return isinstance(target, str) and target.lower().startswith(("http://", "https://"))


def fetch_url(url: str, *, timeout_s: float = FETCH_TIMEOUT_S, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """GET `url` (http/https only) with a hard deadline and a size bound.

    Raises:
        InputError: not http(s), network failure, HTTP error status, or too large.
    """
    if not is_url(url):
        raise InputError(f"{url}: only http:// and https:// URLs can be fetched")
    request = urllib.request.Request(url, headers={"User-Agent": "studio-ingest/1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked)
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise InputError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"{url}: cannot fetch: {reason}") from exc
    if len(data) > max_bytes:
        raise InputError(f"{url}: more than {max_bytes} bytes; refusing to ingest it")
    return data


def read_input(path: Path, *, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """Read a local input file with a size bound.

    Raises:
        InputError: unreadable, a folder, or too large.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{path}: {size} bytes is over the {max_bytes} byte limit for one input")
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise InputError(f"{path}: is a folder, not a file") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from exc


def check_size(raw: bytes, *, name: str, limit: int, what: str) -> None:
    """Refuse at once an input larger than a kind's limit (before any parsing).

    Raises:
        InputError: naming the file, its size and the limit.
    """
    if len(raw) > limit:
        raise InputError(f"{name}: {len(raw)} bytes is over the {limit} byte limit for {what}")


def detect_kind(name: str, raw: bytes) -> str:
    """Which parser reads this input: 'items', 'feed', 'cap' or 'document'.

    By suffix for .json and documents; XML (.xml, .cap, .rss, .atom or a URL) by its root element.

    Raises:
        InputError: the kind cannot be told, naming what is accepted.
    """
    lower = name.lower().split("?", 1)[0]
    suffix = Path(lower).suffix
    if suffix == ".json":
        return "items"
    if suffix in _DOCUMENT_SUFFIXES:
        return "document"
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"{", b"[")):
        return "items"
    if head.startswith(b"<") or suffix in (".xml", ".cap", ".rss", ".atom"):
        if b"urn:oasis:names:tc:emergency:cap:" in raw[:4096] or b"<alert" in head:
            return "cap"
        if any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf")):
            return "feed"
        raise InputError(f"{name}: XML that is neither a CAP 1.2 alert nor an RSS/Atom feed")
    raise InputError(f"{name}: cannot tell what this is; expected JSON items (.json), an RSS/Atom feed, "
                     f"a CAP 1.2 alert (.xml/.cap) or a document ({', '.join(_DOCUMENT_SUFFIXES)})")


def parse_target(target: str | Path, *, now: datetime | None = None) -> tuple[str, list[ParsedEntry]]:
    """Read a path or URL and parse it with the parser for its kind.

    Returns:
        (kind, entries).

    Raises:
        InputError: the whole input is unusable (unreadable, malformed, unsafe XML, failing the CAP
            schema, encrypted or corrupt document…); per-entry problems are entries with an error.
        ConfigError: the CAP 1.2 schema cannot be found (CAP alerts are never taken unvalidated).
    """
    name = str(target)
    raw = fetch_url(name) if is_url(target) else read_input(Path(target))
    kind = detect_kind(name, raw)
    return kind, parse_bytes(kind, raw, name=name, now=now)


def parse_bytes(kind: str, raw: bytes, *, name: str, now: datetime | None = None) -> list[ParsedEntry]:
    """Parse `raw` as `kind` (see `detect_kind`); `name` is a path or URL, used in messages."""
    if kind == "items":
        from studio.ingest import items

        stem = Path(name.split("?", 1)[0]).stem if not is_url(name) else name
        return items.parse_bytes(raw, name=name, default_source=stem)
    if kind == "feed":
        from studio.ingest import feeds

        return feeds.parse_bytes(raw, name=name)
    if kind == "cap":
        from studio.ingest import cap

        return cap.parse_bytes(raw, name=name, now=now)
    if kind == "document":
        from studio.ingest import documents

        return documents.parse_bytes(raw, name=name)
    raise InputError(f"{name}: unknown input kind {kind!r}; expected one of {', '.join(KINDS)}")


def input_id(name: str, raw: bytes) -> str:
    """An id for a whole input: its file name and the first 12 hex digits of its sha256."""
    base = name.rstrip("/").rsplit("/", 1)[-1] or name
    return f"{base}#{hashlib.sha256(raw).hexdigest()[:12]}"


def raw_text(raw: bytes) -> str:
    """The input as text for the store (binary documents keep nothing: they stay in the hot folder)."""
    try:
        return raw[:RAW_KEEP_CHARS].decode("utf-8")
    except UnicodeDecodeError:
        return ""


def ingest(store: Store, target: str | Path, *, actor: str = "ingest",
           now: datetime | None = None) -> list[IngestOutcome]:
    """Parse one path or URL and store what it holds. Never raises for bad input: an input that
    cannot be read at all is stored as one item in state 'error' (source 'ingest') and reported.

    Raises:
        ConfigError: the CAP 1.2 schema is missing (a setup problem, not the input's).
    """
    from studio.errors import ConfigError

    name = str(target)
    raw = b""
    try:
        raw = fetch_url(name) if is_url(target) else read_input(Path(target))
        kind = detect_kind(name, raw)
        entries = parse_bytes(kind, raw, name=name, now=now)
    except ConfigError:
        raise
    except StudioError as exc:
        item_id, _ = store.add_failed_item(FAILED_SOURCE, input_id(name, raw), exc.message, raw=raw_text(raw),
                                           title=Path(name).name or name, actor=actor)
        return [IngestOutcome(input=name, location=name, status="error", item_id=item_id, message=exc.message)]
    return store_entries(store, entries, input_name=name, actor=actor)


def store_entries(store: Store, entries: Sequence[ParsedEntry], *, input_name: str,
                  actor: str = "ingest") -> list[IngestOutcome]:
    """Store parsed entries: items added (or found as duplicates), errors kept as 'error' items,
    CAP updates archiving what they replace, cancels archiving what they withdraw."""
    out: list[IngestOutcome] = []
    for entry in entries:
        if entry.skipped:
            store.audit(actor, "item.skip", entry.location, {"reason": entry.skipped})
            out.append(IngestOutcome(input_name, entry.location, "skipped", message=entry.skipped))
            continue
        if entry.cancels and entry.item is None:
            out.append(_cancel(store, entry, input_name, actor))
            continue
        if entry.item is None:
            item_id, _ = store.add_failed_item(entry.source or FAILED_SOURCE, entry.source_id or entry.location,
                                               entry.error, raw=entry.raw, title=entry.title, actor=actor)
            out.append(IngestOutcome(input_name, entry.location, "error", item_id, message=entry.error))
            continue
        item_id, created = store.add_item(entry.item, actor=actor)
        notes = []
        for source, source_id in entry.replaces:
            old = store.find_item(source, source_id)
            if old is None:
                notes.append(f"updates {source_id}, which is not in the store")
                continue
            if old.state != ItemState.ARCHIVED:
                store.set_item_state(old.id, ItemState.ARCHIVED, actor=actor,
                                     note=f"thay bằng bản cập nhật {entry.item.source_id} (tin {item_id})")
            notes.append(f"replaces item {old.id}")
        out.append(IngestOutcome(input_name, entry.location, "added" if created else "duplicate", item_id,
                                 entry.item.title, entry.item.priority.value, "; ".join(notes)))
    return out


def _cancel(store: Store, entry: ParsedEntry, input_name: str, actor: str) -> IngestOutcome:
    done, missing = [], []
    for source, source_id in entry.cancels:
        old = store.find_item(source, source_id)
        if old is None:
            missing.append(source_id)
            continue
        store.set_item_state(old.id, ItemState.ARCHIVED, actor=actor, note=f"đã huỷ bởi {entry.source_id}")
        done.append(old.id)
    store.audit(actor, "item.cancel", entry.location, {"cancelled": done, "unknown": missing})
    if not done:
        return IngestOutcome(input_name, entry.location, "skipped",
                             message=f"cancels {', '.join(missing)}, which is not in the store")
    message = f"cancelled item(s) {', '.join(map(str, done))}"
    if missing:
        message += f"; not in the store: {', '.join(missing)}"
    return IngestOutcome(input_name, entry.location, "cancelled", done[0], message=message)
