"""What the desk is working on, kept across restarts and crashes.

The bulletin itself is a draft row in the store (saved on every change). The store has no column for
the voice and destination profiles chosen for a draft, so those live here, in `<home>/desk.json`,
written atomically. All writes happen in worker threads; `DraftSaver` keeps them in order.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
    """Saves drafts from one worker thread at a time, newest wins.

    Each change offers the whole draft; changes offered while a save is in flight (or waiting for the
    store's write lock) are coalesced, per bulletin, into the next save, so at most one thread ever waits
    on the lock. Was: one thread worker per keystroke, each holding one of the few threads Textual's
    workers share (the event loop's default executor: 6 on 2 cores): while another process held the
    write lock, every other worker of the app (loads, readings, estimates) waited behind them.
    """

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = Lock()
        """desk.json writes."""
        self._state = Lock()
        """_pending, _desk and _running."""
        self._seq = 0
        self._pending: dict[int, tuple[int, Bulletin]] = {}
        """Per bulletin id: the newest draft offered and not yet written, with its number."""
        self._desk: DeskState | None = None
        self._running = False
        self._inflight: dict[int, tuple[int, Bulletin]] = {}
        """What the running drain took and has not written yet."""

    def next_seq(self) -> int:
        """A number for the next save (call on the UI thread)."""
        self._seq += 1
        return self._seq

    def offer(self, seq: int, bulletin: Bulletin, bulletin_id: int, desk: DeskState) -> bool:
        """Queue the newest state of a draft (UI thread).

        Returns:
            True when the caller must start a worker thread running `drain`; False when the one running
            will write it.
        """
        with self._state:
            self._pending[bulletin_id] = (seq, bulletin)
            self._desk = desk
            if self._running:
                return False
            self._running = True
            return True

    def drain(self, on_saved: Callable[[int, int], None]) -> None:
        """Write what was offered, newest per bulletin, until nothing is left (worker thread).

        Args:
            on_saved: called with (bulletin id, seq) after each draft reached the store.

        Raises:
            StoreError: a draft could not be written; it stays offered, so the next change (or save)
                writes it with the rest.
        """
        while True:
            with self._state:
                pending, self._pending = self._pending, {}
                desk, self._desk = self._desk, None
                self._inflight = pending
                if not pending:
                    self._running = False
                    return
            try:
                with Store(self.workspace.db_path) as store:
                    for bulletin_id, (seq, bulletin) in list(pending.items()):
                        store.save_bulletin(bulletin, bulletin_id=bulletin_id, actor="tui")
                        del pending[bulletin_id]
                        on_saved(bulletin_id, seq)
                if desk is not None:
                    self.save_desk(desk)
            except BaseException:
                with self._state:
                    for bulletin_id, job in pending.items():  # newer offers win over what failed
                        self._pending.setdefault(bulletin_id, job)
                    self._desk = self._desk or desk
                    self._inflight = {}
                    self._running = False
                raise

    def resume(self) -> bool:
        """After a failed save: True when drafts are still waiting and no drain runs, so the caller must
        start one (UI thread, from a retry timer)."""
        with self._state:
            if self._running or not (self._pending or self._desk is not None):
                return False
            self._running = True
            return True

    @property
    def unsaved(self) -> int:
        """How many bulletins have changes not yet in the store (offered, or left by a failed save); at
        least 1 while only desk.json is left to write."""
        with self._state:
            return len(self._pending.keys() | self._inflight.keys()) or int(self._desk is not None)

    def save_desk(self, desk: DeskState) -> None:
        """Write desk.json alone (worker thread)."""
        with self._lock:
            atomic_write_text(desk_path(self.workspace), desk.to_json())
