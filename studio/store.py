"""The workspace database: items, bulletins, renders, packages and the audit log, in SQLite (WAL).

Owns: the schema, its migrations (PRAGMA user_version), and every SQL statement. Each write is one
transaction begun with BEGIN IMMEDIATE, so concurrent writers (the TUI, workers) queue on the busy
timeout instead of failing half-way. Must not import any stage module.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio.errors import StoreError
from studio.models import Bulletin, Priority, Segment, SourceItem

BUSY_TIMEOUT_S = 30.0

# Each entry migrates from version i to i + 1. Never edit a released step: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        source_id TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        priority TEXT NOT NULL,
        category TEXT NOT NULL DEFAULT '',
        areas TEXT NOT NULL DEFAULT '[]',
        published TEXT,
        valid_until TEXT,
        attachments TEXT NOT NULL DEFAULT '[]',
        content_hash TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'new',
        error TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        UNIQUE (source, source_id)
    );
    CREATE INDEX items_hash ON items(content_hash);
    CREATE INDEX items_state ON items(state, priority);
    CREATE TABLE bulletins (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        template TEXT NOT NULL,
        priority TEXT NOT NULL,
        segments TEXT NOT NULL,
        item_ids TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'draft',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE renders (
        id INTEGER PRIMARY KEY,
        bulletin_id INTEGER NOT NULL REFERENCES bulletins(id),
        profile TEXT NOT NULL,
        path TEXT NOT NULL,
        duration_s REAL NOT NULL,
        integrated_lufs REAL NOT NULL,
        true_peak_dbtp REAL NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE packages (
        id INTEGER PRIMARY KEY,
        package_id TEXT NOT NULL UNIQUE,
        issuer TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        bulletin_id INTEGER REFERENCES bulletins(id),
        priority TEXT NOT NULL,
        path TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'built',
        created_at TEXT NOT NULL,
        UNIQUE (issuer, sequence)
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class StoredItem:
    """A SourceItem with its store id and state."""

    id: int
    item: SourceItem
    state: str
    error: str
    created_at: str


@dataclass(frozen=True, slots=True)
class StoredBulletin:
    id: int
    bulletin: Bulletin
    state: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class StoredPackage:
    id: int
    package_id: str
    issuer: str
    sequence: int
    bulletin_id: int | None
    priority: Priority
    path: str
    state: str
    created_at: str


class Store:
    """The workspace database. Open one per thread; use as a context manager.

    Raises:
        StoreError: the file cannot be opened, is not a studio database, or is newer than this code.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the workspace database: {exc}") from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"{self.path}: cannot start a write: {exc}") from exc
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            try:
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                self._db.execute("ROLLBACK")
                raise StoreError(f"{self.path}: cannot commit: {exc}") from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this studio ({SCHEMA_VERSION}); upgrade studio"
            )
        for target in range(version, SCHEMA_VERSION):
            with self._write() as db:
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- items ---------------------------------------------------------------------------------------

    def add_item(self, item: SourceItem, *, actor: str = "ingest") -> tuple[int, bool]:
        """Store `item` unless it is already here by (source, source_id) or by content hash.

        Returns:
            (id, created): the stored row's id, and False when an existing row was found instead.
        """
        with self._write() as db:
            row = db.execute(
                "SELECT id FROM items WHERE (source = ? AND source_id = ?) OR content_hash = ?",
                (item.source, item.source_id, item.content_hash),
            ).fetchone()
            if row is not None:
                return int(row["id"]), False
            cur = db.execute(
                """INSERT INTO items (source, source_id, title, body, priority, category, areas, published,
                   valid_until, attachments, content_hash, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    item.source, item.source_id, item.title, item.body, item.priority.value, item.category,
                    json.dumps(list(item.areas), ensure_ascii=False), _iso(item.published),
                    _iso(item.valid_until), json.dumps(list(item.attachments), ensure_ascii=False),
                    item.content_hash, _now(),
                ),
            )
            item_id = int(cur.lastrowid or 0)
            self._audit(db, actor, "item.add", f"item:{item_id}", {"source": item.source, "id": item.source_id})
            return item_id, True

    def get_item(self, item_id: int) -> StoredItem:
        row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no item with id {item_id}")
        return self._item(row)

    def items(self, *, state: str | None = None, priority: Priority | None = None) -> list[StoredItem]:
        """Items, most urgent first, then newest first."""
        sql, args = "SELECT * FROM items WHERE 1=1", []
        if state is not None:
            sql += " AND state = ?"
            args.append(state)
        if priority is not None:
            sql += " AND priority = ?"
            args.append(priority.value)
        rows = self._db.execute(sql + " ORDER BY id DESC", args).fetchall()
        stored = [self._item(r) for r in rows]
        return sorted(stored, key=lambda s: s.item.priority.rank)

    def set_item_state(self, item_id: int, state: str, *, actor: str = "studio") -> None:
        with self._write() as db:
            db.execute("UPDATE items SET state = ? WHERE id = ?", (state, item_id))
            self._audit(db, actor, "item.state", f"item:{item_id}", {"state": state})

    @staticmethod
    def _item(row: sqlite3.Row) -> StoredItem:
        item = SourceItem(
            source=row["source"], source_id=row["source_id"], title=row["title"], body=row["body"],
            priority=Priority(row["priority"]), category=row["category"], areas=tuple(json.loads(row["areas"])),
            published=_dt(row["published"]), valid_until=_dt(row["valid_until"]),
            attachments=tuple(json.loads(row["attachments"])),
        )
        return StoredItem(id=row["id"], item=item, state=row["state"], error=row["error"],
                          created_at=row["created_at"])

    # -- bulletins -----------------------------------------------------------------------------------

    def save_bulletin(self, bulletin: Bulletin, *, bulletin_id: int | None = None, state: str = "draft",
                      actor: str = "studio") -> int:
        """Insert a bulletin, or replace bulletin `bulletin_id`; returns its id."""
        segments = json.dumps(
            [{"kind": s.kind, "text": s.text, "duration_s": s.duration_s, "item_id": s.item_id}
             for s in bulletin.segments], ensure_ascii=False)
        now = _now()
        with self._write() as db:
            if bulletin_id is None:
                cur = db.execute(
                    """INSERT INTO bulletins (title, template, priority, segments, item_ids, state, created_at,
                       updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    (bulletin.title, bulletin.template, bulletin.priority.value, segments,
                     json.dumps(list(bulletin.item_ids)), state, now, now))
                bulletin_id = int(cur.lastrowid or 0)
                self._audit(db, actor, "bulletin.create", f"bulletin:{bulletin_id}", {"title": bulletin.title})
            else:
                cur = db.execute(
                    """UPDATE bulletins SET title=?, template=?, priority=?, segments=?, item_ids=?, state=?,
                       updated_at=? WHERE id=?""",
                    (bulletin.title, bulletin.template, bulletin.priority.value, segments,
                     json.dumps(list(bulletin.item_ids)), state, now, bulletin_id))
                if cur.rowcount == 0:
                    raise StoreError(f"{self.path}: no bulletin with id {bulletin_id}")
                self._audit(db, actor, "bulletin.update", f"bulletin:{bulletin_id}", {"state": state})
            return bulletin_id

    def get_bulletin(self, bulletin_id: int) -> StoredBulletin:
        row = self._db.execute("SELECT * FROM bulletins WHERE id = ?", (bulletin_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no bulletin with id {bulletin_id}")
        segments = tuple(Segment(**s) for s in json.loads(row["segments"]))
        bulletin = Bulletin(title=row["title"], template=row["template"], segments=segments,
                            item_ids=tuple(json.loads(row["item_ids"])), priority=Priority(row["priority"]),
                            created=_dt(row["created_at"]))
        return StoredBulletin(id=row["id"], bulletin=bulletin, state=row["state"], updated_at=row["updated_at"])

    def bulletin_ids(self) -> list[int]:
        return [int(r[0]) for r in self._db.execute("SELECT id FROM bulletins ORDER BY id DESC")]

    # -- renders and packages ------------------------------------------------------------------------

    def add_render(self, bulletin_id: int, profile: str, path: Path, *, duration_s: float,
                   integrated_lufs: float, true_peak_dbtp: float) -> int:
        with self._write() as db:
            cur = db.execute(
                """INSERT INTO renders (bulletin_id, profile, path, duration_s, integrated_lufs, true_peak_dbtp,
                   created_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (bulletin_id, profile, str(path), duration_s, integrated_lufs, true_peak_dbtp, _now()))
            return int(cur.lastrowid or 0)

    def next_sequence(self, issuer: str) -> int:
        """The next per-issuer package sequence number (1 for the first package)."""
        row = self._db.execute("SELECT MAX(sequence) FROM packages WHERE issuer = ?", (issuer,)).fetchone()
        return int(row[0] or 0) + 1

    def add_package(self, package_id: str, *, issuer: str, sequence: int, bulletin_id: int | None,
                    priority: Priority, path: Path, actor: str = "studio") -> int:
        with self._write() as db:
            cur = db.execute(
                """INSERT INTO packages (package_id, issuer, sequence, bulletin_id, priority, path, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                (package_id, issuer, sequence, bulletin_id, priority.value, str(path), _now()))
            row_id = int(cur.lastrowid or 0)
            self._audit(db, actor, "package.build", f"package:{package_id}", {"sequence": sequence})
            return row_id

    def packages(self) -> list[StoredPackage]:
        rows = self._db.execute("SELECT * FROM packages ORDER BY id DESC").fetchall()
        return [StoredPackage(id=r["id"], package_id=r["package_id"], issuer=r["issuer"], sequence=r["sequence"],
                              bulletin_id=r["bulletin_id"], priority=Priority(r["priority"]), path=r["path"],
                              state=r["state"], created_at=r["created_at"]) for r in rows]

    # -- audit ---------------------------------------------------------------------------------------

    def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        with self._write() as db:
            self._audit(db, actor, action, subject, detail or {})

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [{**dict(r), "detail": json.loads(r["detail"])} for r in rows]

    @staticmethod
    def _audit(db: sqlite3.Connection, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
        db.execute("INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                   (_now(), actor, action, subject, json.dumps(detail, ensure_ascii=False)))


def open_store(path: Path) -> Store:
    """Open the workspace database at `path`, creating and migrating it as needed."""
    return Store(path)


__all__: Sequence[str] = ("Store", "StoredItem", "StoredBulletin", "StoredPackage", "open_store", "SCHEMA_VERSION")
