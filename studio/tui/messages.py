"""App-wide messages, as small dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from studio.store import StoredItem, StoredPackage


@dataclass
class WorkspaceLoaded(Message):
    """The workspace's items and packages were read (in a worker thread)."""

    items: list[StoredItem]
    packages: list[StoredPackage]
