"""Compose: source items + a template → a Bulletin (its running order of speech and gaps).

Owns: loading templates/*.toml, rendering their Jinja2 text in a sandbox with StrictUndefined (a typo
in a template is an error naming the file, never an empty reading), and ordering items.
Must not import tts/audio/package.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from studio.config import Settings, shipped_dir
from studio.errors import ConfigError
from studio.models import Bulletin, Priority, Segment, SourceItem, nfc

WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
_TEXT_FIELDS = ("opening", "item", "closing")
_ALLOWED = {"id", "name", "description", "gap_between_items_s", *_TEXT_FIELDS}


@dataclass(frozen=True, slots=True)
class Template:
    """A bulletin template from templates/<id>.toml."""

    id: str
    name: str
    description: str
    opening: str
    item: str
    closing: str
    gap_between_items_s: float
    path: Path


def load_template(name_or_path: str | Path, *, extra_dir: Path | None = None) -> Template:
    """Load a template by id (looked up in `extra_dir`, then the shipped templates/) or by path.

    Raises:
        ConfigError: not found, invalid TOML, unknown/missing fields, or Jinja2 syntax errors.
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        folders = ([extra_dir] if extra_dir else []) + [shipped_dir("templates")]
        candidates = [f / f"{name_or_path}.toml" for f in folders if (f / f"{name_or_path}.toml").is_file()]
        if not candidates:
            known = sorted({p.stem for f in folders if f.is_dir() for p in f.glob("*.toml")})
            raise ConfigError(f"template {name_or_path!r} not found; available: {', '.join(known)}",
                              title="Không có mẫu bản tin này")
        path = candidates[0]
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read template: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {', '.join(unknown)}")
    for key in ("id", "name", *_TEXT_FIELDS):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(f"{path}: field {key!r} is missing or not a non-empty string")
    gap = data.get("gap_between_items_s", 1.0)
    if not isinstance(gap, int | float) or not 0 <= gap <= 10:
        raise ConfigError(f"{path}: field 'gap_between_items_s' must be a number of seconds in 0–10")
    template = Template(id=data["id"], name=nfc(data["name"]), description=nfc(data.get("description", "")),
                        opening=nfc(data["opening"]), item=nfc(data["item"]), closing=nfc(data["closing"]),
                        gap_between_items_s=float(gap), path=path)
    for key in _TEXT_FIELDS:
        try:
            _ENV.parse(getattr(template, key))
        except TemplateError as exc:
            raise ConfigError(f"{path}: field {key!r}: template syntax error: {exc}") from exc
    return template


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


def order_items(items: list[tuple[int, SourceItem]]) -> list[tuple[int, SourceItem]]:
    """Most urgent first; within a priority, in order of publication."""
    def key(pair: tuple[int, SourceItem]) -> tuple[int, float, int]:
        item_id, item = pair
        published = item.published.timestamp() if item.published else float("inf")
        return item.priority.rank, published, item_id

    return sorted(items, key=key)


def _render(template: Template, key: str, context: dict[str, Any]) -> str:
    try:
        text = _ENV.from_string(getattr(template, key)).render(**context)
    except TemplateError as exc:
        raise ConfigError(f"{template.path}: field {key!r}: {exc}") from exc
    # Paragraphs (blank lines) survive, for the longer pause; lines inside one are joined.
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def compose(template: Template, items: list[tuple[int, SourceItem]], settings: Settings, *,
            today: date | None = None, title: str | None = None) -> Bulletin:
    """Build a bulletin from stored items `(id, item)` with `template`.

    Raises:
        ConfigError: the template uses an unknown variable or fails to render.
    """
    if not items:
        raise ConfigError(f"template {template.id!r}: no items to compose a bulletin from")
    today = today or date.today()
    ordered = order_items(items)
    base = {"station": settings.station_name, "today": today, "weekday": WEEKDAYS[today.weekday()]}
    segments = [Segment("speech", _render(template, "opening", {**base, "items": [i for _, i in ordered]}))]
    for n, (item_id, item) in enumerate(ordered):
        segments.append(Segment("gap", duration_s=template.gap_between_items_s))
        ctx = {**base, "n": n + 1, "item": {
            "title": item.title.rstrip(". "), "body": item.body, "priority": item.priority.value,
            "priority_label": item.priority.label, "category": item.category, "source": item.source,
            "published": item.published}}
        segments.append(Segment("speech", _render(template, "item", ctx), item_id=item_id))
    segments.append(Segment("gap", duration_s=template.gap_between_items_s))
    segments.append(Segment("speech", _render(template, "closing", base)))
    priority = min((i.priority for _, i in ordered), key=lambda p: p.rank, default=Priority.THONG_THUONG)
    return Bulletin(title=title or f"{template.name} {today.day:02d}/{today.month:02d}/{today.year}",
                    template=template.id, segments=tuple(segments), item_ids=tuple(i for i, _ in ordered),
                    priority=priority, created=datetime.now().astimezone())
