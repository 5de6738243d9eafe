"""The reading lexicon: abbreviations, foreign words and document-symbol parts, shipped and per workspace.

Owns: the shipped `lexicon.toml` beside this file, the workspace override (`<home>/lexicon.toml`,
same format), their validation, loading with a cache, adding/removing entries with atomic writes,
and spelling with Vietnamese letter names. Must not import any stage above text.

File format (TOML, UTF-8), three tables:
    [abbreviations]  case-sensitive, matched as a whole token anywhere ("UBND", "TT&TT", "TP.HCM")
    [words]          case-insensitive, matched as a whole token anywhere ("Zalo", "COVID-19")
    [documents]      case-sensitive, only inside a document symbol ("QĐ" in 490/QĐ-BTTTT)
A workspace entry replaces the shipped entry with the same key in the same table.
"""

from __future__ import annotations

import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from threading import Lock
from types import MappingProxyType
from typing import Mapping

from studio.config import atomic_write_text
from studio.errors import ConfigError
from studio.models import nfc

SHIPPED_PATH = Path(__file__).resolve().parent / "lexicon.toml"
SECTIONS = ("abbreviations", "words", "documents")

LETTER_NAMES = {
    "a": "a", "ă": "á", "â": "ớ", "b": "bê", "c": "xê", "d": "dê", "đ": "đê", "e": "e", "ê": "ê",
    "f": "ép", "g": "giê", "h": "hát", "i": "i", "j": "gi", "k": "ca", "l": "e lờ", "m": "em",
    "n": "en", "o": "o", "ô": "ô", "ơ": "ơ", "p": "pê", "q": "quy", "r": "e rờ", "s": "ét",
    "t": "tê", "u": "u", "ư": "ư", "v": "vê", "w": "vê kép", "x": "ích", "y": "i dài", "z": "dét",
}

# A reading may hold letters, spaces and the pause marks , . only: it goes to an engine verbatim.
_READING_OK = re.compile(r"[^\W\d_]+(?:[ ,.]+[^\W\d_]+)*")


def spell(letters: str) -> str:
    """Spell `letters` with Vietnamese letter names: "VTV" → "vê tê vê"; other characters are dropped."""
    names = []
    for ch in letters.lower():
        name = LETTER_NAMES.get(ch)
        if name is None and ch.isalpha():
            base = unicodedata.normalize("NFD", ch)[0]
            name = LETTER_NAMES.get(base, ch)
        if name:
            names.append(name)
    return " ".join(names)


def _trie_pattern(keys: list[str]) -> str:
    """A regex matching any of `keys`, longest first, built as a trie so scanning stays fast."""
    trie: dict[str, dict] = {}
    for key in keys:
        node = trie
        for ch in key:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict[str, dict]) -> str:
        ends = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if ends:
            return "(?:" + body + ")?"
        return body

    return build(trie)


@dataclass(frozen=True)
class Lexicon:
    """Readings by table. Build with `load_lexicon`; a Lexicon never changes after it is built."""

    abbreviations: Mapping[str, str]
    words: Mapping[str, str]
    """Keys are lower-case (matched case-insensitively)."""
    documents: Mapping[str, str]
    sources: tuple[Path, ...] = ()
    _pattern: list[str] = field(default_factory=list, repr=False, compare=False)

    def lookup(self, token: str) -> str | None:
        """The reading of a whole token from [abbreviations] or [words], else None."""
        reading = self.abbreviations.get(token)
        if reading is None:
            reading = self.words.get(token.lower())
        return reading

    def document_part(self, part: str) -> str | None:
        """The reading of one part of a document symbol ("QĐ", "BTTTT"), else None."""
        return self.documents.get(part) or self.abbreviations.get(part)

    def pattern(self) -> str:
        """A regex source matching any [abbreviations] or [words] key as a whole token."""
        if not self._pattern:
            abbr = _trie_pattern(sorted(self.abbreviations))
            words = _trie_pattern(sorted(self.words))
            alts = [p for p in (abbr, f"(?i:{words})" if words else "") if p]
            body = "|".join(alts) if alts else r"(?!x)x"
            self._pattern.append(rf"(?<![\w&])(?:{body})(?![\w&]|[.,][^\W_])")
        return self._pattern[0]

    def __hash__(self) -> int:
        return id(self)


def _parse(path: Path, text: str) -> dict[str, dict[str, str]]:
    """Parse and validate one lexicon file; raise ConfigError naming the file and the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", title="Invalid lexicon file") from exc
    tables: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
    for section, entries in data.items():
        if section not in SECTIONS:
            raise ConfigError(f"{path}: unknown table [{section}]; expected one of {', '.join(SECTIONS)}",
                              title="Invalid lexicon file")
        if not isinstance(entries, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of \"KEY\" = \"reading\"",
                              title="Invalid lexicon file")
        for key, reading in entries.items():
            tables[section][_check_key(path, section, key)] = _check_reading(path, section, key, reading)
    return tables


def _check_key(path: Path | None, section: str, key: str) -> str:
    key = nfc(key)
    if not key or key != key.strip() or any(ch.isspace() for ch in key):
        raise ConfigError(f"{path}: entry {key!r} in [{section}]: a key is one token without spaces",
                          title="Invalid lexicon file")
    if not key[0].isalnum() or not key[-1].isalnum():
        raise ConfigError(f"{path}: entry {key!r} in [{section}]: a key starts and ends with a letter "
                          "or digit",
                          title="Invalid lexicon file")
    return key.lower() if section == "words" else key


def _check_reading(path: Path | None, section: str, key: str, reading: object) -> str:
    if not isinstance(reading, str):
        raise ConfigError(f"{path}: entry {key!r} in [{section}]: the reading must be a string, "
                          f"got {type(reading).__name__}", title="Invalid lexicon file")
    reading = " ".join(nfc(reading).split())
    if not _READING_OK.fullmatch(reading):
        raise ConfigError(f"{path}: entry {key!r} in [{section}]: the reading {reading!r} must hold only "
                          "letters, spaces, commas and full stops (no digits or symbols)",
                          title="Invalid lexicon file")
    return reading.lower()


def _read_file(path: Path) -> dict[str, dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: {exc}", title="Invalid lexicon file") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the lexicon: {exc.strerror}",
                          title="Invalid lexicon file") from exc
    return _parse(path, text)


@lru_cache(maxsize=1)
def _shipped() -> dict[str, dict[str, str]]:
    return _read_file(SHIPPED_PATH)


_cache_lock = Lock()
_cache: dict[tuple[str, int, int], Lexicon] = {}


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return (str(path), -1, -1)
    return (str(path), st.st_mtime_ns, st.st_size)


def _build(tables: list[dict[str, dict[str, str]]], sources: tuple[Path, ...]) -> Lexicon:
    merged: dict[str, dict[str, str]] = {name: {} for name in SECTIONS}
    for table in tables:
        for name in SECTIONS:
            merged[name].update(table[name])
    return Lexicon(
        abbreviations=MappingProxyType(merged["abbreviations"]),
        words=MappingProxyType(merged["words"]),
        documents=MappingProxyType(merged["documents"]),
        sources=sources,
    )


def default_lexicon() -> Lexicon:
    """The shipped lexicon alone (cached)."""
    return load_lexicon(None)


def load_lexicon(workspace_path: Path | None = None) -> Lexicon:
    """The shipped lexicon, overridden entry by entry by the workspace lexicon file if there is one.

    Cached by the workspace file's path, mtime and size, so calling it per bulletin is cheap and an
    edited file is picked up.

    Args:
        workspace_path: `Workspace.lexicon_path`, or None for the shipped lexicon only. A missing
            file is the same as an empty one.

    Returns:
        The merged Lexicon.

    Raises:
        ConfigError: a lexicon file is not valid TOML or has a bad entry (the message names both).
    """
    key = _file_key(workspace_path) if workspace_path is not None else ("", 0, 0)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    tables = [_shipped()]
    sources: tuple[Path, ...] = (SHIPPED_PATH,)
    if workspace_path is not None and key[1] != -1:
        tables.append(_read_file(workspace_path))
        sources += (workspace_path,)
    lexicon = _build(tables, sources)
    with _cache_lock:
        if len(_cache) > 32:
            _cache.clear()
        _cache[key] = lexicon
    return lexicon


def _remember(workspace_path: Path, tables: dict[str, dict[str, str]]) -> Lexicon:
    """Cache the lexicon just written: two writes within one mtime tick must not read stale."""
    lexicon = _build([_shipped(), tables], (SHIPPED_PATH, workspace_path))
    with _cache_lock:
        _cache[_file_key(workspace_path)] = lexicon
    return lexicon


def _dump(tables: dict[str, dict[str, str]]) -> str:
    """Serialize lexicon tables as TOML (JSON strings are valid TOML basic strings)."""
    out = ["# studio workspace lexicon: readings added here override the shipped ones.", ""]
    for name in SECTIONS:
        if not tables.get(name):
            continue
        out.append(f"[{name}]")
        for key in sorted(tables[name]):
            value = tables[name][key]
            out.append(f"{json.dumps(key, ensure_ascii=False)} = {json.dumps(value, ensure_ascii=False)}")
        out.append("")
    return "\n".join(out)


_write_lock = Lock()


def add_entry(workspace_path: Path, key: str, reading: str, section: str = "abbreviations") -> Lexicon:
    """Add or replace one reading in the workspace lexicon file (atomic write) and return the new Lexicon.

    Args:
        workspace_path: `Workspace.lexicon_path`; created if missing.
        key: the token as written ("UBMTTQ", "Zalo"); one token, no spaces.
        reading: how to say it ("ủy ban mặt trận tổ quốc"); letters and spaces only.
        section: abbreviations (case-sensitive), words (case-insensitive) or documents.

    Raises:
        ConfigError: bad section, key or reading, or the existing file is invalid.
    """
    if section not in SECTIONS:
        raise ConfigError(f"{workspace_path}: unknown table [{section}]; expected one of "
                          f"{', '.join(SECTIONS)}",
                          title="Invalid lexicon entry")
    checked_key = _check_key(workspace_path, section, key)
    checked = _check_reading(workspace_path, section, key, reading)
    with _write_lock:
        tables = _read_file(workspace_path) if workspace_path.exists() else {n: {} for n in SECTIONS}
        tables[section][checked_key] = checked
        atomic_write_text(workspace_path, _dump(tables))
        return _remember(workspace_path, tables)


def remove_entry(workspace_path: Path, key: str, section: str = "abbreviations") -> Lexicon:
    """Remove one reading from the workspace lexicon file (atomic write); the shipped one shows again.

    Raises:
        ConfigError: the entry is not in the workspace file, or the file is invalid.
    """
    with _write_lock:
        tables = _read_file(workspace_path) if workspace_path.exists() else {n: {} for n in SECTIONS}
        lookup = nfc(key).lower() if section == "words" else nfc(key)
        if section not in tables or lookup not in tables[section]:
            raise ConfigError(f"{workspace_path}: no entry {key!r} in [{section}]",
                              title="Invalid lexicon entry")
        del tables[section][lookup]
        atomic_write_text(workspace_path, _dump(tables))
        return _remember(workspace_path, tables)


def workspace_entries(workspace_path: Path) -> dict[str, dict[str, str]]:
    """The entries of the workspace lexicon file alone, by table (empty tables when it is missing)."""
    if not workspace_path.exists():
        return {n: {} for n in SECTIONS}
    return _read_file(workspace_path)


__all__ = [
    "Lexicon", "LETTER_NAMES", "SHIPPED_PATH", "add_entry", "default_lexicon", "load_lexicon",
    "remove_entry", "spell", "workspace_entries",
]
