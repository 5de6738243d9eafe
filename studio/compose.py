"""Compose: source items + a template → a Bulletin (its running order of speech, jingles and gaps).

Owns: loading templates/*.toml (shipped, or the workspace's `templates/` folder, which overrides
them), rendering their Jinja2 text in a sandbox with StrictUndefined (a typo in a template is an error
naming the file, never an empty reading; attribute escapes, huge ranges and huge strings are refused),
the template variables (station and settings, date, the workspace's `templates/variables.toml`),
ordering items, and the draft workflow (`new_draft`, `edit_item_and_recompose`) that saves the draft
on every change. Must not import tts/audio/package.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from studio.config import Settings, shipped_dir
from studio.errors import ConfigError, InputError
from studio.models import Bulletin, ItemState, Priority, Segment, SourceItem, nfc

if TYPE_CHECKING:
    from studio.store import Store

WEEKDAYS = ("thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật")
ASSET_SUFFIXES = (".flac", ".wav", ".ogg", ".mp3")
VARIABLES_FILE = "variables.toml"
MAX_TEXT_CHARS = 100_000
"""A rendered field longer than this is a template error (a loop gone wrong), not a bulletin."""
_TEXT_FIELDS = ("opening", "item", "closing", "repeat_item")
_JINGLE_FIELDS = ("intro_jingle", "separator_jingle", "outro_jingle", "attention_tone", "music_bed")
_ALLOWED = {"id", "name", "description", "gap_between_items_s", "repeat", "max_items", "gap_after_jingle_s",
            "bed_level_db", *_TEXT_FIELDS, *_JINGLE_FIELDS}


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
    repeat: int = 1
    """How many times each item is read (commune notices are read twice)."""
    repeat_item: str = ""
    """Text of the second and later readings (default: the `item` text again)."""
    max_items: int = 0
    """At most this many items (0: no limit). A notice template takes one."""
    intro_jingle: str = ""
    separator_jingle: str = ""
    """Played between two items."""
    outro_jingle: str = ""
    attention_tone: str = ""
    """Played first, before the opening (emergency templates)."""
    music_bed: str = ""
    """A bed ducked under the whole programme ('' for none)."""
    gap_after_jingle_s: float = 0.5
    bed_level_db: float = -20.0


def asset_dirs(extra_dir: Path | None = None) -> list[Path]:
    """Where jingle/tone assets are looked up: the workspace's templates/assets, then the shipped one."""
    folders = [extra_dir / "assets"] if extra_dir else []
    return folders + [shipped_dir("templates") / "assets"]


def find_asset(name: str, extra_dir: Path | None = None) -> Path:
    """The audio file of asset `name` (a bare name like 'nhac-hieu').

    Raises:
        ConfigError: not found; the message lists the assets there are.
    """
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", name):
        raise ConfigError(f"asset name {name!r}: use lower-case letters, digits and '-' (a file in templates/assets)")
    folders = asset_dirs(extra_dir)
    for folder in folders:
        for suffix in ASSET_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                return folder / f"{name}{suffix}"
    known = sorted({p.stem for f in folders if f.is_dir() for p in f.iterdir() if p.suffix in ASSET_SUFFIXES})
    raise ConfigError(f"audio asset {name!r} not found in {', '.join(map(str, folders))}; "
                      f"available: {', '.join(known) or 'none'}")


MAX_LOOP_STEPS = 100_000
"""Loop iterations one rendered field may take, all loops together (nested loops multiply)."""
_WIDTH = re.compile(r"%[-+ #0]*(\d+|\*)|\{[^{}]*:[^{}]*?(\d+)[^{}]*\}")
_LOOP_BUDGET: ContextVar[list[int]] = ContextVar("studio_template_loop_budget")


def _too_big(value: Any) -> bool:
    return isinstance(value, str | list | tuple | dict) and len(value) > MAX_TEXT_CHARS


def _check_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """A width, count or size over MAX_TEXT_CHARS ('x'.ljust(10**9), center(10**9), lipsum(10**6),
    slice(10**9)) cannot belong in a bulletin field; refused before the call allocates it."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEXT_CHARS:
            raise SecurityError(f"the number {value} is too large for a template")


def _check_format(fmt: Any) -> None:
    """'%1000000000s' and '{:>1000000000}' pad to a gigabyte: refuse such widths and '*' widths."""
    if isinstance(fmt, str):
        for m in _WIDTH.finditer(fmt):
            width = m.group(1) or m.group(2)
            if width == "*" or int(width) > MAX_TEXT_CHARS:
                raise SecurityError(f"the format width in {fmt[:40]!r} is too large for a template")


def _check_product(obj: Any, name: str, args: tuple[Any, ...]) -> None:
    """replace() and join() multiply sizes: 'x'*99999 with each 'x' replaced by 'x'*99999 is 10^10."""
    if name == "replace" and len(args) >= 2 and isinstance(obj, str) and isinstance(args[1], str):
        if len(obj) * max(len(args[1]), 1) > MAX_TEXT_CHARS * 10 and args[0] != "":
            raise SecurityError("replace() would make a text too large for a template")
    if name == "join" and args and isinstance(args[0], list | tuple | range):
        sep = obj if isinstance(obj, str) else (args[1] if len(args) > 1 else "")
        if isinstance(sep, str) and len(args[0]) * len(sep) > MAX_TEXT_CHARS:
            raise SecurityError("join() would make a text too large for a template")


MAX_INT_BITS = 10_000
"""Integers past this (~3,000 digits) are refused: str() fails past 4,300 digits, and loops of
multiplications on growing integers take quadratic time."""


def _checked_result(value: Any) -> Any:
    if _too_big(value):
        raise SecurityError(f"a value of {len(value)} elements is too large for a template")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError("a number too large for a template")
    return value


def _loop(iterable: Any) -> Iterator[Any]:
    """What every {% for %} iterates through (see _Bounded): counts against the field's budget."""
    budget = _LOOP_BUDGET.get()
    for value in iterable:
        budget[0] -= 1
        if budget[0] < 0:
            raise SecurityError(f"the template loops more than {MAX_LOOP_STEPS} times")
        yield value


def _concat(parts: list[Any]) -> str:
    """What `a ~ b` becomes (see _Bounded): the joined text, refused past the size limit."""
    return _checked_result("".join(str(p) for p in parts))


class _Bounded(NodeTransformer):
    """Rewrites a parsed template so its work is bounded: every loop's iterable goes through `_loop`
    (an iteration budget shared by nested loops) and every `~` through `_concat` (a size limit)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - the NodeTransformer protocol
        node = self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("_studio_loop", "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        node = self.generic_visit(node)
        return nodes.Call(nodes.Name("_studio_concat", "load"), [nodes.List(node.nodes)], [], None, None)


class _Sandbox(SandboxedEnvironment):
    """The sandbox, plus bounds the stock sandbox leaves out: on `*`, `**`, `+` and `%`, on the
    numbers passed to methods, functions and filters, on format widths, on the size of what calls
    return, and (with `_Bounded`) on loop iterations and `~`. Rendering is bounded in time and memory."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.globals.update(_studio_loop=_loop, _studio_concat=_concat)
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError(f"exponent {right} is too large for a template")
            if isinstance(left, int) and isinstance(right, int) and left.bit_length() * right > MAX_INT_BITS:
                raise SecurityError("a number too large for a template")
            return left ** right
        if operator == "+":
            return _checked_result(left + right)
        if operator == "%":
            _check_format(left)
            return _checked_result(left % right)
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(count, int) and len(seq) * count > MAX_TEXT_CHARS:
                raise SecurityError("repeating a text that many times is not allowed in a template")
        return _checked_result(left * right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if not getattr(__obj, "_studio_format", False):  # str.format's values may be large numbers
            _check_args(args, kwargs)
        _check_product(getattr(__obj, "__self__", None), getattr(__obj, "__name__", ""), args)
        return _checked_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Any:
        _check_format(getattr(value, "__self__", None))
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            wrapped._studio_format = True  # type: ignore[attr-defined]
        return wrapped


def _bounded_filter(name: str, func: Any) -> Any:
    @functools.wraps(func)  # keeps jinja's pass_context/pass_environment marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        values = [a for a in args if not isinstance(a, SandboxedEnvironment | Context | EvalContext)]
        if name == "format" and values:
            _check_format(values[0])  # its arguments are the values formatted, large numbers included
        else:
            _check_args(tuple(values[1:]), kwargs)  # the filtered value itself may be a large number
        if name in ("replace", "join") and values:
            _check_product(values[0], name, tuple(values[1:]) if name == "replace" else tuple(values))
        return _checked_result(func(*args, **kwargs))

    return bounded


_ENV = _Sandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


def template_dirs(extra_dir: Path | None = None) -> list[Path]:
    return ([extra_dir] if extra_dir else []) + [shipped_dir("templates")]


def list_templates(extra_dir: Path | None = None) -> list[str]:
    return sorted({p.stem for f in template_dirs(extra_dir) if f.is_dir() for p in f.glob("*.toml")
                   if p.name != VARIABLES_FILE})


def load_template(name_or_path: str | Path, *, extra_dir: Path | None = None) -> Template:
    """Load a template by id (looked up in `extra_dir`, then the shipped templates/) or by path.

    Raises:
        ConfigError: not found, invalid TOML, unknown/missing fields, a missing audio asset, or Jinja2
            syntax errors.
    """
    path = Path(name_or_path)
    if path.suffix != ".toml":
        candidates = [f / f"{name_or_path}.toml" for f in template_dirs(extra_dir)
                      if (f / f"{name_or_path}.toml").is_file()]
        if not candidates:
            raise ConfigError(f"template {name_or_path!r} not found; available: "
                              f"{', '.join(list_templates(extra_dir))}", title="Không có mẫu bản tin này")
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
    for key in ("id", "name", "opening", "item", "closing"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise ConfigError(f"{path}: field {key!r} is missing or not a non-empty string")
    for key in ("description", "repeat_item", *_JINGLE_FIELDS):
        if not isinstance(data.get(key, ""), str):
            raise ConfigError(f"{path}: field {key!r} must be a string")
    numbers = {"gap_between_items_s": (1.0, 0, 10), "gap_after_jingle_s": (0.5, 0, 5),
               "bed_level_db": (-20.0, -40, -6), "repeat": (1, 1, 3), "max_items": (0, 0, 100)}
    values: dict[str, Any] = {}
    for key, (default, low, high) in numbers.items():
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ConfigError(f"{path}: field {key!r} must be a number in {low}–{high}")
        if key in ("repeat", "max_items") and not isinstance(value, int):
            raise ConfigError(f"{path}: field {key!r} must be a whole number")
        values[key] = value
    for key in _JINGLE_FIELDS:
        if data.get(key):
            find_asset(data[key], extra_dir)  # a missing jingle is a template error, found now, not at render
    template = Template(
        id=data["id"], name=nfc(data["name"]), description=nfc(data.get("description", "")),
        opening=nfc(data["opening"]), item=nfc(data["item"]), closing=nfc(data["closing"]),
        repeat_item=nfc(data.get("repeat_item", "")), path=path,
        gap_between_items_s=float(values["gap_between_items_s"]),
        gap_after_jingle_s=float(values["gap_after_jingle_s"]),
        bed_level_db=float(values["bed_level_db"]), repeat=int(values["repeat"]), max_items=int(values["max_items"]),
        **{key: data.get(key, "") for key in _JINGLE_FIELDS})
    for key in _TEXT_FIELDS:
        try:
            _ENV.parse(getattr(template, key))
        except TemplateError as exc:
            raise ConfigError(f"{path}: field {key!r}: template syntax error: {exc}") from exc
    return template


def load_variables(extra_dir: Path | None) -> dict[str, str]:
    """The workspace's own template variables (`<workspace>/templates/variables.toml`, a flat table
    of strings: commune = "xã Nghĩa Hà", hotline = "0255 3822 111"), available as `vars.<name>`.

    Raises:
        ConfigError: unreadable file, invalid TOML, or a value that is not a string.
    """
    if extra_dir is None or not (extra_dir / VARIABLES_FILE).is_file():
        return {}
    path = extra_dir / VARIABLES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read template variables: {exc}") from exc
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        raise ConfigError(f"{path}: variable(s) {', '.join(bad)} must be strings")
    return {k: nfc(v) for k, v in data.items()}


def order_items(items: list[tuple[int, SourceItem]]) -> list[tuple[int, SourceItem]]:
    """Most urgent first; within a priority, in order of publication."""
    def key(pair: tuple[int, SourceItem]) -> tuple[int, float, int]:
        item_id, item = pair
        published = item.published.timestamp() if item.published else float("inf")
        return item.priority.rank, published, item_id

    return sorted(items, key=key)


def _render(template: Template, key: str, context: dict[str, Any]) -> str:
    token = _LOOP_BUDGET.set([MAX_LOOP_STEPS])
    try:
        compiled = _ENV.from_string(_Bounded().visit(_ENV.parse(getattr(template, key))))
        text = compiled.render(**context)
    except (TemplateError, OverflowError) as exc:  # OverflowError: the sandbox's range() limit
        raise ConfigError(f"{template.path}: field {key!r}: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:  # {{ 1 + 'a' }}, {{ 1 // 0 }},
        # {% include %} (no loader): the template's own runtime error, not studio's
        raise ConfigError(f"{template.path}: field {key!r}: {type(exc).__name__}: {exc}") from exc
    except RecursionError:  # a macro calling itself
        raise ConfigError(f"{template.path}: field {key!r}: recursion too deep (a macro calling itself?)") from None
    except MemoryError:  # a size no check could see in advance (a join over a generator): malloc refused it
        raise ConfigError(f"{template.path}: field {key!r}: needs more memory than a template may use") from None
    finally:
        _LOOP_BUDGET.reset(token)
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(f"{template.path}: field {key!r} renders to {len(text)} characters "
                          f"(more than {MAX_TEXT_CHARS}): check its loops")
    # Paragraphs (blank lines) survive, for the longer pause; lines inside one are joined.
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _item_context(n: int, item: SourceItem) -> dict[str, Any]:
    return {"n": n, "item": {
        "title": item.title.rstrip(". "), "body": item.body, "priority": item.priority.value,
        "priority_label": item.priority.label, "category": item.category, "source": item.source,
        "published": item.published, "valid_until": item.valid_until, "areas": list(item.areas)}}


def compose(template: Template, items: list[tuple[int, SourceItem]], settings: Settings, *,
            today: date | None = None, title: str | None = None,
            variables: dict[str, str] | None = None) -> Bulletin:
    """Build a bulletin from stored items `(id, item)` with `template`.

    Raises:
        ConfigError: the template uses an unknown variable or fails to render, or gets more items
            than its `max_items`.
    """
    if not items:
        raise ConfigError(f"template {template.id!r}: no items to compose a bulletin from")
    if template.max_items and len(items) > template.max_items:
        raise ConfigError(f"template {template.id!r} ({template.name}) reads at most {template.max_items} "
                          f"item(s); {len(items)} given")
    today = today or date.today()
    ordered = order_items(items)
    base = {"station": settings.station_name, "today": today, "weekday": WEEKDAYS[today.weekday()],
            "date_text": f"ngày {today.day} tháng {today.month} năm {today.year}",
            "settings": asdict(settings), "vars": dict(variables or {})}
    segments: list[Segment] = []

    def jingle(name: str) -> None:
        if name:
            segments.append(Segment("jingle", name))
            segments.append(Segment("gap", duration_s=template.gap_after_jingle_s))

    jingle(template.attention_tone)
    jingle(template.intro_jingle)
    segments.append(Segment("speech", _render(template, "opening", {**base, "items": [i for _, i in ordered]})))
    for n, (item_id, item) in enumerate(ordered):
        segments.append(Segment("gap", duration_s=template.gap_between_items_s))
        if n and template.separator_jingle:
            jingle(template.separator_jingle)
        ctx = {**base, **_item_context(n + 1, item)}
        segments.append(Segment("speech", _render(template, "item", ctx), item_id=item_id))
        for _ in range(template.repeat - 1):
            segments.append(Segment("gap", duration_s=template.gap_between_items_s))
            key = "repeat_item" if template.repeat_item else "item"
            segments.append(Segment("speech", _render(template, key, ctx), item_id=item_id))
    segments.append(Segment("gap", duration_s=template.gap_between_items_s))
    segments.append(Segment("speech", _render(template, "closing", base)))
    if template.outro_jingle:
        segments.append(Segment("gap", duration_s=template.gap_after_jingle_s))
        segments.append(Segment("jingle", template.outro_jingle))
    priority = min((i.priority for _, i in ordered), key=lambda p: p.rank, default=Priority.THONG_THUONG)
    return Bulletin(title=title or f"{template.name} {today.day:02d}/{today.month:02d}/{today.year}",
                    template=template.id, segments=tuple(segments), item_ids=tuple(i for i, _ in ordered),
                    priority=priority, created=datetime.now().astimezone(), music_bed=template.music_bed)


# -- drafts ----------------------------------------------------------------------------------------

def _usable_items(store: Store, item_ids: list[int] | tuple[int, ...]) -> list[tuple[int, SourceItem]]:
    items = []
    for item_id in item_ids:
        stored = store.get_item(item_id)
        if stored.state == ItemState.ERROR:
            raise InputError(f"item {item_id} is in state 'lỗi' ({stored.error}); fix it before using it")
        items.append((item_id, stored.item))
    return items


def new_draft(store: Store, settings: Settings, template_name: str, item_ids: list[int], *,
              title: str | None = None, extra_dir: Path | None = None, today: date | None = None,
              actor: str = "studio") -> int:
    """Compose a bulletin from stored items and save it as a draft; the items become 'đã dùng'.

    Raises:
        StoreError: an unknown item id. InputError: an item in state 'lỗi'. ConfigError: template.
    """
    template = load_template(template_name, extra_dir=extra_dir)
    items = _usable_items(store, item_ids)
    bulletin = compose(template, items, settings, today=today, title=title, variables=load_variables(extra_dir))
    bulletin_id = store.save_bulletin(bulletin, actor=actor)
    for item_id, _ in items:
        store.set_item_state(item_id, ItemState.USED, actor=actor)
    return bulletin_id


def recompose(store: Store, settings: Settings, bulletin_id: int, *, extra_dir: Path | None = None,
              today: date | None = None, actor: str = "studio") -> Bulletin:
    """Compose draft `bulletin_id` again from its items' current text (after an edit) and save it.

    Raises:
        StoreError: no such bulletin or item. ConfigError: its template is gone or fails.
    """
    stored = store.get_bulletin(bulletin_id)
    template = load_template(stored.bulletin.template, extra_dir=extra_dir)
    items = _usable_items(store, stored.bulletin.item_ids)
    created = stored.bulletin.created
    bulletin = compose(template, items, settings, today=today or (created.date() if created else None),
                       title=stored.bulletin.title, variables=load_variables(extra_dir))
    store.save_bulletin(bulletin, bulletin_id=bulletin_id, state=stored.state, actor=actor)
    return bulletin


def edit_item_and_recompose(store: Store, settings: Settings, bulletin_id: int, item_id: int, *,
                            title: str | None = None, body: str | None = None, extra_dir: Path | None = None,
                            today: date | None = None, actor: str = "studio") -> Bulletin:
    """Correct one item's text and recompose the draft that uses it (saved: drafts keep every change).

    Raises:
        InputError: the item is not in this bulletin, or the new text is empty.
    """
    if item_id not in store.get_bulletin(bulletin_id).bulletin.item_ids:
        raise InputError(f"item {item_id} is not in bulletin {bulletin_id}")
    store.update_item(item_id, title=title, body=body, actor=actor)
    return recompose(store, settings, bulletin_id, extra_dir=extra_dir, today=today, actor=actor)
