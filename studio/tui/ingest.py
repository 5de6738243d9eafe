"""Ingest a file or folder from the desk with the core's `studio.ingest.ingest` (worker thread).

A folder takes every file in it; each input is parsed by its kind (JSON items, RSS/Atom, CAP 1.2,
txt/md/docx/pdf documents) and stored, errors included, by the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from studio.config import Workspace
from studio.store import Store

KINDS = "tin JSON (.json), RSS/Atom, cảnh báo CAP 1.2 (.xml/.cap), văn bản .txt .md .docx .pdf"


@dataclass
class IngestSummary:
    """Counts by outcome, and the messages of what was refused or skipped."""

    added: int = 0
    known: int = 0
    problems: list[str] = field(default_factory=list)
    urgent: list[str] = field(default_factory=list)
    """Titles of khẩn cấp items just added."""


def ingest_path(workspace: Workspace, path: Path) -> IngestSummary:
    """Ingest `path` (a file, or every file in a folder, hidden ones skipped)."""
    from studio.ingest import ingest

    targets = (
        sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if path.is_dir()
        else [path]
    )
    summary = IngestSummary()
    with Store(workspace.db_path) as store:
        for target in targets:
            for outcome in ingest(store, target, actor="tui"):
                if outcome.status == "added":
                    summary.added += 1
                    if outcome.priority == "khan-cap":
                        summary.urgent.append(outcome.title)
                elif outcome.status == "duplicate":
                    summary.known += 1
                else:
                    summary.problems.append(f"{outcome.location}: {outcome.status}: {outcome.message}")
    return summary
