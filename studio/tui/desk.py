"""What the desk is working on, kept across restarts and crashes.

The bulletin itself is a draft row in the store (saved on every change). The store has no column for
the voice and destination profiles chosen for a draft, so those live here, in `<home>/desk.json`,
written atomically. All writes happen in worker threads; `DraftSaver` keeps them in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

from studio.config import Workspace, atomic_write_text
from studio.models import Bulletin
from studio.store import Store

DESK_FILE = "desk.json"
DEFAULT_PROFILES = ("loa", "phat-song")


@dataclass
class DeskState:
    """The current draft and, per bulletin id, the chosen voice and destination profiles."""

    bulletin_id: int | None = None
    voices: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)

    def voice_for(self, bulletin_id: int | None, default: str) -> str:
        return self.voices.get(str(bulletin_id), default)

    def profiles_for(self, bulletin_id: int | None) -> list[str]:
        return list(self.profiles.get(str(bulletin_id), DEFAULT_PROFILES))

    def copy(self) -> DeskState:
        """A snapshot to hand to a worker thread."""
        return DeskState(self.bulletin_id, dict(self.voices), {k: list(v) for k, v in self.profiles.items()})

    def to_json(self) -> str:
        return (
            json.dumps(
                {"bulletin_id": self.bulletin_id, "voices": self.voices, "profiles": self.profiles},
                ensure_ascii=False,
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )


def desk_path(workspace: Workspace) -> Path:
    return workspace.home / DESK_FILE


def load_desk(workspace: Workspace) -> DeskState:
    """Read desk.json; a missing or unreadable file gives an empty state (the drafts are in the store)."""
    path = desk_path(workspace)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return DeskState()
    if not isinstance(data, dict):
        return DeskState()
    bid = data.get("bulletin_id")
    voices = data.get("voices") if isinstance(data.get("voices"), dict) else {}
    profiles = data.get("profiles") if isinstance(data.get("profiles"), dict) else {}
    return DeskState(
        bulletin_id=bid if isinstance(bid, int) else None,
        voices={str(k): str(v) for k, v in voices.items()},
        profiles={str(k): [str(p) for p in v] for k, v in profiles.items() if isinstance(v, list)},
    )


class DraftSaver:
    """Saves drafts from worker threads, newest wins: a save older than one already written is dropped."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = Lock()
        self._seq = 0
        self._written = 0

    def next_seq(self) -> int:
        """A number for the next save (call on the UI thread)."""
        self._seq += 1
        return self._seq

    def save(self, seq: int, bulletin: Bulletin, bulletin_id: int, desk: DeskState) -> bool:
        """Write the draft and desk.json (worker thread); False when a newer save already went out."""
        with self._lock:
            if seq <= self._written:
                return False
            with Store(self.workspace.db_path) as store:
                store.save_bulletin(bulletin, bulletin_id=bulletin_id, actor="tui")
            atomic_write_text(desk_path(self.workspace), desk.to_json())
            self._written = seq
            return True

    def save_desk(self, desk: DeskState) -> None:
        """Write desk.json alone (worker thread)."""
        with self._lock:
            atomic_write_text(desk_path(self.workspace), desk.to_json())
