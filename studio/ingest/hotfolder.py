"""The hot folder: files dropped into a folder are ingested, then moved to `done/` or `failed/`.

Owns: scanning one folder (not its sub-folders), skipping files still being written (changed within
`settle_s`), hidden files and editor lock files (~$x.docx), ingesting each file through
studio.ingest.ingest, and moving it: to `done/` when every entry was stored (or deliberately skipped),
to `failed/` with `<name>.error.txt` saying why otherwise. Nothing is ever deleted: a name already
taken in done/ or failed/ gets a numbered suffix. Good entries of a partly bad file are stored all
the same; only the file goes to failed/ so staff see the problem.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from threading import Event
from typing import TYPE_CHECKING

from studio.config import atomic_write_text, fsync_dir
from studio.errors import InputError
from studio.ingest import IngestOutcome, ingest

if TYPE_CHECKING:
    from studio.store import Store

DONE = "done"
FAILED = "failed"
DEFAULT_SETTLE_S = 2.0
"""A file modified this recently may still be being copied in: left for the next scan."""


@dataclass(frozen=True, slots=True)
class HotFolderResult:
    """One file taken from the hot folder."""

    source: Path
    moved_to: Path
    ok: bool
    outcomes: tuple[IngestOutcome, ...]
    error_file: Path | None = None


def _waiting(path: Path) -> bool:
    name = path.name
    return (name.startswith((".", "~$")) or name.endswith((".tmp", ".part", ".crdownload", ".error.txt"))
            or not path.is_file())


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem (2).suffix`… when taken: never overwrite."""
    candidate = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while candidate.exists() or candidate.with_name(candidate.name + ".error.txt").exists():
        candidate = folder / f"{stem} ({n}){suffix}"
        n += 1
    return candidate


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder, path.name)
    os.replace(path, target)  # same file system: a rename, atomic; a crash leaves it in one place
    fsync_dir(folder)
    return target


def process(folder: Path, store: Store, *, settle_s: float = DEFAULT_SETTLE_S, now: datetime | None = None,
            actor: str = "hotfolder") -> list[HotFolderResult]:
    """Ingest every settled file in `folder` once and move each to done/ or failed/.

    Raises:
        InputError: `folder` is not a folder.
        ConfigError: a setup problem (CAP schema missing): files stay where they are.
    """
    if not folder.is_dir():
        raise InputError(f"{folder}: the hot folder does not exist or is not a folder")
    results: list[HotFolderResult] = []
    cutoff = time.time() - settle_s
    for path in sorted(folder.iterdir()):
        if _waiting(path):
            continue
        try:
            if path.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue  # taken by another worker
        outcomes = ingest(store, path, actor=actor, now=now)
        errors = [o for o in outcomes if o.status == "error"]
        if not errors:
            results.append(HotFolderResult(path, _move(path, folder / DONE), True, tuple(outcomes)))
            continue
        moved = _move(path, folder / FAILED)
        error_file = moved.with_name(moved.name + ".error.txt")
        atomic_write_text(error_file, _error_report(path, outcomes))
        store.audit(actor, "hotfolder.failed", str(moved), {"errors": [o.message for o in errors]})
        results.append(HotFolderResult(path, moved, False, tuple(outcomes), error_file))
    return results


def _error_report(path: Path, outcomes: list[IngestOutcome]) -> str:
    stored = [o for o in outcomes if o.status in ("added", "duplicate", "cancelled")]
    lines = [f"Tệp: {path.name}", f"Thời điểm: {datetime.now().astimezone().isoformat(timespec='seconds')}",
             "", "Lỗi (errors):"]
    lines += [f"- {o.location}: {o.message}" for o in outcomes if o.status == "error"]
    if stored:
        lines += ["", f"Các tin khác trong tệp đã được nhận ({len(stored)}): "
                  + ", ".join(str(o.item_id) for o in stored)]
    lines += ["", "Sửa tệp rồi thả lại vào thư mục nhận tin (fix the file and drop it in again)."]
    return "\n".join(lines) + "\n"


def watch(folder: Path, store: Store, *, interval_s: float = 5.0, stop: Event | None = None,
          settle_s: float = DEFAULT_SETTLE_S,
          on_result: Callable[[HotFolderResult], None] | None = None) -> None:
    """Scan `folder` every `interval_s` until `stop` is set."""
    stop = stop or Event()
    while not stop.is_set():
        for result in process(folder, store, settle_s=settle_s):
            if on_result is not None:
                on_result(result)
        stop.wait(interval_s)
