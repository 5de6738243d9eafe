"""RSS and Atom feeds (a provincial portal's news, a ministry's notices) as source items.

Owns: turning a feed document into one SourceItem per entry with feedparser, after the bytes have
passed studio.ingest.xmlsafe (feedparser is lenient: it would read a malformed feed half-way, and its
SAX parser is not where entity bombs should be refused). Summaries are HTML: tags are dropped with
paragraph breaks kept. The source is the feed's own link (stable across fetches), else its URL/path.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from datetime import UTC, datetime
from html import unescape
from html.parser import HTMLParser
from typing import Any

from studio.errors import InputError, StudioError
from studio.ingest import ParsedEntry, check_size, fetch_url
from studio.ingest.xmlsafe import local, parse_untrusted
from studio.models import Priority, SourceItem

MAX_FEED_BYTES = 16 * 1024 * 1024
"""A portal's feed is a few hundred KB to a few MB. Parsing is linear but feedparser is slow: ~0.4 s
and ~9× the feed's size in memory per MB (50 MB took 18 s and 450 MB)."""
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
               "blockquote", "section", "article"}


class _TextExtractor(HTMLParser):
    """HTML → text: block elements become paragraph breaks, scripts and styles vanish."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment, paragraphs separated by blank lines."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
        raw = "".join(parser.parts)
    except AssertionError:  # html.parser (3.11) asserts on a bogus marked section "<![x[": drop the tags
        raw = re.sub(r"<[^>]*>", "\n\n", html)
    text = unescape(raw).replace("\xa0", " ")
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def parse_url(url: str) -> list[ParsedEntry]:
    """Fetch and parse a feed (hard deadline, size bound)."""
    return parse_bytes(fetch_url(url, max_bytes=MAX_FEED_BYTES), name=url)


def parse_bytes(raw: bytes, *, name: str) -> list[ParsedEntry]:
    """Parse an RSS 0.9x/1.0/2.0 or Atom feed.

    Raises:
        InputError: malformed or unsafe XML, or XML that is not a feed. Per-entry problems (no title,
            no text) are returned as ParsedEntry errors.
    """
    check_size(raw, name=name, limit=MAX_FEED_BYTES, what="an RSS/Atom feed")
    root = parse_untrusted(raw, name=name, allow_doctype=True)
    if local(root.tag).lower() not in ("rss", "feed", "rdf"):
        raise InputError(f"{name}: the root element is <{local(root.tag)}>, not an RSS <rss> or Atom <feed>")
    import feedparser  # deferred: only feeds need it

    parsed = feedparser.parse(raw, sanitize_html=True, resolve_relative_uris=False)
    feed = parsed.get("feed", {})
    source = (feed.get("link") or "").strip() or name
    entries: list[ParsedEntry] = []
    for index, entry in enumerate(parsed.get("entries", [])):
        location = f"{name}[{index}]"
        try:
            entries.append(ParsedEntry(location=location, item=_item(entry, source, location)))
        except StudioError as exc:
            entries.append(ParsedEntry(location=location, error=exc.message, source=source,
                                       source_id=_entry_id(entry) or location, raw=_raw(entry),
                                       title=html_to_text(entry.get("title", ""))))
    if not entries:
        raise InputError(f"{name}: the feed has no entries")
    return entries


def _entry_id(entry: Any) -> str:
    return str(entry.get("id") or entry.get("link") or "").strip()


def _raw(entry: Any) -> str:
    fields = ("id", "title", "link", "published", "summary")
    return "\n".join(f"{k}: {entry.get(k)}" for k in fields if entry.get(k))


def _item(entry: Any, source: str, location: str) -> SourceItem:
    title = html_to_text(entry.get("title", ""))
    if not title:
        raise InputError(f"{location}.title: the entry has no title")
    content = entry.get("content") or []
    html = content[0].get("value", "") if content else entry.get("summary", "")
    body = html_to_text(html)
    if not body:
        raise InputError(f"{location}: entry {title!r} has no text (no summary or content)")
    source_id = _entry_id(entry) or hashlib.sha256(title.encode("utf-8")).hexdigest()[:16]
    published = None
    # dict.get: feedparser's own get() maps a missing updated_parsed to published_parsed with a
    # DeprecationWarning (its issue 310) when a <pubDate> is present but unparseable.
    stamp = entry.get("published_parsed") or dict.get(entry, "updated_parsed")
    if stamp:  # feedparser gives UTC struct_time
        try:
            published = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC)
        except (ValueError, OverflowError, OSError):  # "year 0", year 99999: as if there were no date
            published = None
    tags = [str(t.get("term", "")).strip() for t in entry.get("tags", []) if t.get("term")]
    priority = Priority.THONG_THUONG
    category = ""
    for tag in tags:  # a portal may tag urgent notices with a priority word ("Khẩn cấp")
        try:
            priority = Priority.parse(tag)
        except InputError:
            category = category or tag
    attachments = tuple(str(e.get("href")) for e in entry.get("enclosures", []) if e.get("href"))
    link = str(entry.get("link") or "").strip()
    if link and link not in attachments:
        attachments = (link, *attachments)
    return SourceItem(source=source, source_id=source_id, title=title, body=body, priority=priority,
                      category=category, published=published, attachments=attachments)
