"""Cách đọc: how a text will be read, from the text front-end's `explain`, changed tokens highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

_NO_SPACE_BEFORE = frozenset(",.;:!?…)]}»”")


def reading_text(tokens: Sequence[Any]) -> Text:
    """The spoken form, token by token; where the reading differs from the writing it is highlighted
    and the written form follows, dimmed ("hai mươi tám ‹28›")."""
    out = Text()
    for token in tokens:
        if token.kind == "punct":
            out.append(token.text)
            continue
        if out and not (token.text and token.text[0] in _NO_SPACE_BEFORE):
            out.append(" ")
        if token.changed:
            out.append(token.reading or "(im lặng)", style="reverse")
            out.append(f" ‹{token.text}›", style="dim")
        else:
            out.append(token.reading or token.text)
    return out


class ReadingPanel(VerticalScroll):
    """A heading with the count of changed readings, and the reading itself."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Label("Cách đọc", classes="panel-title", id="reading-title")
        yield Static("", id="reading-body")

    def show(self, tokens: Sequence[Any]) -> None:
        changed = sum(1 for t in tokens if t.changed)
        title = "Cách đọc" + (f" — {changed} chỗ đọc khác chữ viết" if changed else "")
        self.query_one("#reading-title", Label).update(title)
        self.query_one("#reading-body", Static).update(reading_text(tokens))

    def show_note(self, note: str) -> None:
        self.query_one("#reading-title", Label).update("Cách đọc")
        self.query_one("#reading-body", Static).update(note)
