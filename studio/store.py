"""The workspace database: items, bulletins, renders, packages and the audit log, in SQLite (WAL).

Owns: the schema, its migrations (PRAGMA user_version), and every SQL statement. Each write is one
transaction begun with BEGIN IMMEDIATE, so concurrent writers (the TUI, workers) queue on the busy
timeout instead of failing half-way. Must not import any stage module.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio.errors import StoreError, storage_error
from studio.models import Bulletin, ItemState, Priority, Segment, SourceItem, content_hash, nfc

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
    # Jobs and conversions (issue 8; SQL lives in studio.jobs.records, the queue's own table).
    """
    CREATE TABLE IF NOT EXISTS jobs (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        spec TEXT NOT NULL DEFAULT '',
        params TEXT NOT NULL DEFAULT '{}',
        content_key TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'queued',
        progress REAL NOT NULL DEFAULT 0,
        message TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL DEFAULT '{}',
        error TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        lease TEXT NOT NULL DEFAULT '',
        worker TEXT NOT NULL DEFAULT '',
        heartbeat_at REAL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
    );
    CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
    CREATE INDEX IF NOT EXISTS jobs_key ON jobs(content_key);
    CREATE TABLE IF NOT EXISTS conversions (
        content_key TEXT NOT NULL,
        out_dir TEXT NOT NULL,
        input TEXT NOT NULL,
        output TEXT NOT NULL,
        result TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        PRIMARY KEY (content_key, out_dir)
    );
    """,
    # 2: item states as slugs (new, used, archived, error; labels in models.ItemState), the raw text of
    # items that failed, a note (why archived/replaced), bulletin music bed and revisions (every saved
    # change of a draft), and render history details.
    """
    UPDATE items SET state = 'new' WHERE state NOT IN ('new', 'used', 'archived', 'error');
    ALTER TABLE items ADD COLUMN raw TEXT NOT NULL DEFAULT '';
    ALTER TABLE items ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE items ADD COLUMN updated_at TEXT NOT NULL DEFAULT '';
    ALTER TABLE bulletins ADD COLUMN music_bed TEXT NOT NULL DEFAULT '';
    CREATE TABLE bulletin_revisions (
        id INTEGER PRIMARY KEY,
        bulletin_id INTEGER NOT NULL REFERENCES bulletins(id),
        saved_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        snapshot TEXT NOT NULL
    );
    CREATE INDEX bulletin_revisions_bulletin ON bulletin_revisions(bulletin_id, id);
    ALTER TABLE renders ADD COLUMN voice_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE renders ADD COLUMN run_id TEXT NOT NULL DEFAULT '';
    ALTER TABLE renders ADD COLUMN captions TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE renders ADD COLUMN synthesized INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE renders ADD COLUMN cached INTEGER NOT NULL DEFAULT 0
    """,
    # Packages and dispatch (issue 7): one row per delivery attempt of a package to a target.
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        package_id TEXT NOT NULL,
        target TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        http_status INTEGER,
        error TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX deliveries_package ON deliveries(package_id, target);
    """,
    # Recovery after a kill (issue 10): what an approval was for (so re-running an interrupted approval
    # finishes it instead of signing a second package), and why a package row ended as it did.
    """
    ALTER TABLE packages ADD COLUMN approval_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE packages ADD COLUMN note TEXT NOT NULL DEFAULT '';
    CREATE INDEX packages_state ON packages(state);
    CREATE INDEX packages_bulletin ON packages(bulletin_id)
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
    note: str = ""
    """Why the item is archived or was replaced (a CAP Update/Cancel, staff)."""
    raw: str = ""
    """For items in state 'error': the input as received (nothing is lost)."""

    @property
    def state_label(self) -> str:
        """The state in Vietnamese (mới, đã dùng, lưu trữ, lỗi)."""
        try:
            return ItemState(self.state).label
        except ValueError:
            return self.state


@dataclass(frozen=True, slots=True)
class StoredBulletin:
    id: int
    bulletin: Bulletin
    state: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class StoredRender:
    """One rendition written for a bulletin: the render history."""

    id: int
    bulletin_id: int
    profile: str
    path: str
    duration_s: float
    integrated_lufs: float
    true_peak_dbtp: float
    created_at: str
    voice_id: str = ""
    run_id: str = ""
    """Renditions made by one render share it."""
    captions: tuple[str, ...] = ()
    synthesized: int = 0
    """Sentences the engines had to speak for this render (the rest came from the speech cache)."""
    cached: int = 0


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
    approval_key: str = ""
    """studio.package.assemble.approval_key of the approval that built it ('' for convert/jobs)."""
    note: str = ""
    """Why the package is in its state when that is not obvious (set by the recovery after a kill)."""


@contextmanager
def write_transaction(db: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction on `db` (autocommit mode), begun with BEGIN IMMEDIATE.

    IMMEDIATE takes the write lock up front, so concurrent writers wait on the busy timeout instead of
    failing half-way; any exception rolls back.

    Raises:
        StoreError: the lock cannot be had within the busy timeout, or the commit fails.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise (storage_error(exc, path) or _busy_error(exc, path)
               or StoreError(f"{path}: cannot start a write: {exc}")) from exc
    try:
        yield db
    except BaseException as exc:
        _rollback(db)
        mapped = storage_error(exc, path) if isinstance(exc, sqlite3.Error) else None
        if mapped is not None:  # "database or disk is full" inside the transaction: nothing of it was kept
            raise mapped from exc
        raise
    else:
        try:
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(db)
            raise (storage_error(exc, path) or StoreError(f"{path}: cannot commit: {exc}")) from exc


def _busy_error(exc: sqlite3.Error, path: Path) -> StoreError | None:
    """SQLITE_BUSY after the whole busy timeout (another process kept the write lock that long: stopped
    inside a transaction, a tool holding the file) as a StoreError in Vietnamese, instead of SQLite's
    bare "database is locked"; None for any other error."""
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return None
    return StoreError(
        f"{path}: một chương trình khác giữ quyền ghi kho dữ liệu quá {BUSY_TIMEOUT_S:g} giây nên chưa ghi "
        "được; dữ liệu đã lưu không mất, hãy thử lại (another process held the write lock past the timeout)",
        title="Kho dữ liệu đang bận")


def _rollback(db: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: on SQLITE_FULL or an I/O error SQLite may already have
    rolled back, and a second ROLLBACK would raise and hide the real error."""
    if db.in_transaction:
        try:
            db.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _enable_wal(db: sqlite3.Connection) -> None:
    """PRAGMA journal_mode=WAL, retried while another connection holds the lock, up to the busy timeout.

    Switching a new (empty, not yet WAL) database upgrades the pragma's read lock to a write lock, and
    SQLite returns "database is locked" at once then, without calling the busy handler, when another
    opener is switching or migrating the same new file (the TUI and two workers started on a fresh
    workspace). Was: `Store()` failed with "cannot open the workspace database: database is locked".
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _connect(path: Path, *, immutable: bool = False) -> sqlite3.Connection:
    target = f"{path.resolve().as_uri()}?immutable=1" if immutable else str(path)
    db = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=immutable)
    try:
        db.row_factory = sqlite3.Row
        if not immutable:
            _enable_wal(db)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        db.close()
        raise
    return db


def _connect_on_unwritable_disk(path: Path, exc: sqlite3.OperationalError) -> sqlite3.Connection:
    """Open `path` for reading when a read-only or full disk stops SQLite creating or growing the WAL
    index (-shm): as immutable, which is exact only when no WAL is pending (every commit is in the main
    file, as after the last connection closed). Writes through it fail as SQLITE_READONLY, which
    storage_error reports as a read-only or full disk. Otherwise re-raises `exc`."""
    wal = path.with_name(path.name + "-wal")
    if storage_error(exc, path) is None or not path.is_file() or (wal.exists() and wal.stat().st_size > 0):
        raise exc
    return _connect(path, immutable=True)


class Store:
    """The workspace database. Open one per thread; use as a context manager.

    Raises:
        StoreError: the file cannot be opened, is not a studio database, or is newer than this code.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            try:
                self._db = _connect(path)
            except sqlite3.OperationalError as exc:  # read-only or full disk: reading may still work
                self._db = _connect_on_unwritable_disk(path, exc)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise (storage_error(exc, path) or _busy_error(exc, path)
                   or StoreError(f"{path}: cannot open the workspace database: {exc}")) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self.path)

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this studio ({SCHEMA_VERSION}); "
                "upgrade studio")
        while version < SCHEMA_VERSION:
            with self._write() as db:
                # Re-read inside the write lock: another process may have migrated meanwhile.
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    break
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")
                version += 1

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
            failed = db.execute("SELECT id FROM items WHERE source = ? AND source_id = ? AND state = 'error'",
                                (item.source, item.source_id)).fetchone()
            if failed is not None:  # it failed before and arrives fixed: the same row, now usable
                self._write_item_text(db, int(failed["id"]), item)
                db.execute("UPDATE items SET state = 'new', error = '', raw = '' WHERE id = ?",
                           (failed["id"],))
                self._audit(db, actor, "item.fixed", f"item:{failed['id']}",
                            {"source": item.source, "id": item.source_id})
                return int(failed["id"]), True
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

    def add_failed_item(self, source: str, source_id: str, error: str, *, raw: str = "", title: str = "",
                        actor: str = "ingest") -> tuple[int, bool]:
        """Keep an entry that could not be used, in state 'error' with its error and raw input.

        The row's title is the entry's own title when it had one, else its location; its body is the
        error. Ingesting the same (source, source_id) again replaces the row (fixed or failing anew).

        Returns:
            (id, created).
        """
        title = (title or f"{source} {source_id}").strip()
        item = SourceItem(source=source, source_id=source_id, title=title, body=error or "lỗi")
        with self._write() as db:
            row = db.execute("SELECT id, state FROM items WHERE source = ? AND source_id = ?",
                             (item.source, item.source_id)).fetchone()
            if row is not None and row["state"] != ItemState.ERROR:
                return int(row["id"]), False  # a good copy is already here: the bad one adds nothing
            digest = content_hash("error", item.source, item.source_id)  # never collides with real text
            if row is not None:
                db.execute("UPDATE items SET title = ?, body = ?, error = ?, raw = ?, content_hash = ?, "
                           "updated_at = ? WHERE id = ?",
                           (item.title, item.body, error, raw, digest, _now(), row["id"]))
                item_id, created = int(row["id"]), False
            else:
                cur = db.execute(
                    """INSERT INTO items (source, source_id, title, body, priority, content_hash, state,
                       error, raw, created_at) VALUES (?, ?, ?, ?, ?, ?, 'error', ?, ?, ?)""",
                    (item.source, item.source_id, item.title, item.body, Priority.THONG_THUONG.value, digest,
                     error, raw, _now()))
                item_id, created = int(cur.lastrowid or 0), True
            self._audit(db, actor, "item.error", f"item:{item_id}",
                        {"source": item.source, "id": item.source_id, "error": error})
            return item_id, created

    def find_item(self, source: str, source_id: str) -> StoredItem | None:
        """The item stored under (source, source_id), or None."""
        row = self._db.execute("SELECT * FROM items WHERE source = ? AND source_id = ?",
                               (nfc(source).strip(), nfc(source_id).strip())).fetchone()
        return None if row is None else self._item(row)

    def update_item(self, item_id: int, *, title: str | None = None, body: str | None = None,
                    actor: str = "studio") -> StoredItem:
        """Edit an item's text (staff corrections); its content hash follows.

        Raises:
            StoreError: no such item. InputError: the new title or body is empty.
        """
        current = self.get_item(item_id)
        item = replace(current.item, title=current.item.title if title is None else title,
                       body=current.item.body if body is None else body)
        with self._write() as db:
            self._write_item_text(db, item_id, item)
            self._audit(db, actor, "item.edit", f"item:{item_id}", {"title": item.title})
        return self.get_item(item_id)

    @staticmethod
    def _write_item_text(db: sqlite3.Connection, item_id: int, item: SourceItem) -> None:
        db.execute(
            """UPDATE items SET title = ?, body = ?, priority = ?, category = ?, areas = ?, published = ?,
               valid_until = ?, attachments = ?, content_hash = ?, updated_at = ? WHERE id = ?""",
            (item.title, item.body, item.priority.value, item.category,
             json.dumps(list(item.areas), ensure_ascii=False), _iso(item.published), _iso(item.valid_until),
             json.dumps(list(item.attachments), ensure_ascii=False), item.content_hash, _now(), item_id))

    def get_item(self, item_id: int) -> StoredItem:
        row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no item with id {item_id}")
        return self._item(row)

    def items(self, *, state: str | ItemState | None = None,
              priority: Priority | None = None) -> list[StoredItem]:
        """Items, most urgent first, then newest first. `state` is a slug or a Vietnamese label."""
        sql, args = "SELECT * FROM items WHERE 1=1", []
        if state is not None:
            sql += " AND state = ?"
            args.append(ItemState.parse(state).value)
        if priority is not None:
            sql += " AND priority = ?"
            args.append(priority.value)
        rows = self._db.execute(sql + " ORDER BY id DESC", args).fetchall()
        stored = [self._item(r) for r in rows]
        return sorted(stored, key=lambda s: s.item.priority.rank)

    def set_item_state(self, item_id: int, state: str | ItemState, *, note: str | None = None,
                       actor: str = "studio") -> None:
        """Move an item to `state` (slug or Vietnamese label), with an optional note saying why.

        Raises:
            InputError: unknown state. StoreError: no such item.
        """
        slug = ItemState.parse(state).value
        with self._write() as db:
            if note is None:
                cur = db.execute("UPDATE items SET state = ?, updated_at = ? WHERE id = ?",
                                 (slug, _now(), item_id))
            else:
                cur = db.execute("UPDATE items SET state = ?, note = ?, updated_at = ? WHERE id = ?",
                                 (slug, note, _now(), item_id))
            if cur.rowcount == 0:
                raise StoreError(f"{self.path}: no item with id {item_id}")
            self._audit(db, actor, "item.state", f"item:{item_id}",
                        {"state": slug, **({"note": note} if note else {})})

    @staticmethod
    def _item(row: sqlite3.Row) -> StoredItem:
        item = SourceItem(
            source=row["source"], source_id=row["source_id"], title=row["title"], body=row["body"],
            priority=Priority(row["priority"]), category=row["category"], areas=tuple(json.loads(row["areas"])),
            published=_dt(row["published"]), valid_until=_dt(row["valid_until"]),
            attachments=tuple(json.loads(row["attachments"])),
        )
        return StoredItem(id=row["id"], item=item, state=row["state"], error=row["error"],
                          created_at=row["created_at"], note=row["note"], raw=row["raw"])

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
                       updated_at, music_bed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (bulletin.title, bulletin.template, bulletin.priority.value, segments,
                     json.dumps(list(bulletin.item_ids)), state, now, now, bulletin.music_bed))
                bulletin_id = int(cur.lastrowid or 0)
                self._audit(db, actor, "bulletin.create", f"bulletin:{bulletin_id}", {"title": bulletin.title})
            else:
                cur = db.execute(
                    """UPDATE bulletins SET title=?, template=?, priority=?, segments=?, item_ids=?, state=?,
                       updated_at=?, music_bed=? WHERE id=?""",
                    (bulletin.title, bulletin.template, bulletin.priority.value, segments,
                     json.dumps(list(bulletin.item_ids)), state, now, bulletin.music_bed, bulletin_id))
                if cur.rowcount == 0:
                    raise StoreError(f"{self.path}: no bulletin with id {bulletin_id}")
                self._audit(db, actor, "bulletin.update", f"bulletin:{bulletin_id}", {"state": state})
            # Every saved change is kept: a draft can be compared with, or restored to, any earlier one.
            snapshot = json.dumps({"title": bulletin.title, "template": bulletin.template, "state": state,
                                   "priority": bulletin.priority.value, "item_ids": list(bulletin.item_ids),
                                   "music_bed": bulletin.music_bed, "segments": json.loads(segments)},
                                  ensure_ascii=False)
            db.execute("INSERT INTO bulletin_revisions (bulletin_id, saved_at, actor, snapshot) "
                       "VALUES (?, ?, ?, ?)", (bulletin_id, now, actor, snapshot))
            return bulletin_id

    def bulletin_revisions(self, bulletin_id: int) -> list[dict[str, Any]]:
        """Every saved state of bulletin `bulletin_id`, oldest first: {id, saved_at, actor, snapshot}."""
        rows = self._db.execute("SELECT * FROM bulletin_revisions WHERE bulletin_id = ? ORDER BY id",
                                (bulletin_id,)).fetchall()
        return [{"id": r["id"], "saved_at": r["saved_at"], "actor": r["actor"],
                 "snapshot": json.loads(r["snapshot"])} for r in rows]

    def get_bulletin(self, bulletin_id: int) -> StoredBulletin:
        row = self._db.execute("SELECT * FROM bulletins WHERE id = ?", (bulletin_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no bulletin with id {bulletin_id}")
        segments = tuple(Segment(**s) for s in json.loads(row["segments"]))
        bulletin = Bulletin(title=row["title"], template=row["template"], segments=segments,
                            item_ids=tuple(json.loads(row["item_ids"])), priority=Priority(row["priority"]),
                            created=_dt(row["created_at"]), music_bed=row["music_bed"])
        return StoredBulletin(id=row["id"], bulletin=bulletin, state=row["state"], updated_at=row["updated_at"])

    def bulletin_ids(self) -> list[int]:
        return [int(r[0]) for r in self._db.execute("SELECT id FROM bulletins ORDER BY id DESC")]

    # -- renders and packages ------------------------------------------------------------------------

    def add_render(self, bulletin_id: int, profile: str, path: Path, *, duration_s: float,
                   integrated_lufs: float, true_peak_dbtp: float, voice_id: str = "", run_id: str = "",
                   captions: Sequence[Path] = (), synthesized: int = 0, cached: int = 0,
                   actor: str = "studio") -> int:
        """Record one written rendition in the render history (and the audit log)."""
        return self.add_renders(bulletin_id, [(profile, path, duration_s, integrated_lufs, true_peak_dbtp)],
                                voice_id=voice_id, run_id=run_id, captions=captions, synthesized=synthesized,
                                cached=cached, actor=actor)[0]

    def add_renders(self, bulletin_id: int, renditions: Sequence[tuple[str, Path, float, float, float]], *,
                    voice_id: str = "", run_id: str = "", captions: Sequence[Path] = (), synthesized: int = 0,
                    cached: int = 0, actor: str = "studio") -> list[int]:
        """Record every rendition of one render run — (profile, path, duration_s, integrated_lufs,
        true_peak_dbtp) each — in one transaction: a kill never leaves a run recorded in part."""
        ids: list[int] = []
        with self._write() as db:
            for profile, path, duration_s, integrated_lufs, true_peak_dbtp in renditions:
                cur = db.execute(
                    """INSERT INTO renders (bulletin_id, profile, path, duration_s, integrated_lufs,
                       true_peak_dbtp, created_at, voice_id, run_id, captions, synthesized, cached)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (bulletin_id, profile, str(path), duration_s, integrated_lufs, true_peak_dbtp, _now(),
                     voice_id, run_id, json.dumps([str(c) for c in captions], ensure_ascii=False), synthesized,
                     cached))
                ids.append(int(cur.lastrowid or 0))
                self._audit(db, actor, "render.rendition", f"bulletin:{bulletin_id}",
                            {"render": ids[-1], "profile": profile, "path": str(path),
                             "integrated_lufs": round(integrated_lufs, 2),
                             "true_peak_dbtp": round(true_peak_dbtp, 2)})
        return ids

    def renders(self, bulletin_id: int | None = None) -> list[StoredRender]:
        """Render history, newest first (of one bulletin, or all)."""
        sql, args = "SELECT * FROM renders", []
        if bulletin_id is not None:
            sql, args = sql + " WHERE bulletin_id = ?", [bulletin_id]
        rows = self._db.execute(sql + " ORDER BY id DESC", args).fetchall()
        return [StoredRender(id=r["id"], bulletin_id=r["bulletin_id"], profile=r["profile"], path=r["path"],
                             duration_s=r["duration_s"], integrated_lufs=r["integrated_lufs"],
                             true_peak_dbtp=r["true_peak_dbtp"], created_at=r["created_at"],
                             voice_id=r["voice_id"], run_id=r["run_id"], captions=tuple(json.loads(r["captions"])),
                             synthesized=r["synthesized"], cached=r["cached"]) for r in rows]

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

    def packages(self, *, state: str | None = None, bulletin_id: int | None = None,
                 package_id: str | None = None) -> list[StoredPackage]:
        """Package rows, newest first (only those in `state` / of `bulletin_id` / with `package_id` when
        given)."""
        sql, args = "SELECT * FROM packages WHERE 1=1", []
        if state is not None:
            sql, args = sql + " AND state = ?", [*args, state]
        if bulletin_id is not None:
            sql, args = sql + " AND bulletin_id = ?", [*args, bulletin_id]
        if package_id is not None:
            sql, args = sql + " AND package_id = ?", [*args, package_id]
        rows = self._db.execute(sql + " ORDER BY id DESC", args).fetchall()
        return [StoredPackage(id=r["id"], package_id=r["package_id"], issuer=r["issuer"], sequence=r["sequence"],
                              bulletin_id=r["bulletin_id"], priority=Priority(r["priority"]), path=r["path"],
                              state=r["state"], created_at=r["created_at"], approval_key=r["approval_key"],
                              note=r["note"]) for r in rows]

    def reserve_package(self, package_id: str, *, issuer: str, bulletin_id: int | None, priority: Priority,
                        path: Path, actor: str = "studio", approval_key: str = "") -> int:
        """Insert a package row in state 'building' and return its per-issuer sequence number.

        The number is taken in the same write transaction, so concurrent builds never share one, and
        a failed build never gives its number back (a verifier must never see a number twice).
        """
        with self._write() as db:
            row = db.execute("SELECT MAX(sequence) FROM packages WHERE issuer = ?", (issuer,)).fetchone()
            sequence = int(row[0] or 0) + 1
            db.execute(
                """INSERT INTO packages (package_id, issuer, sequence, bulletin_id, priority, path, state,
                   created_at, approval_key) VALUES (?, ?, ?, ?, ?, ?, 'building', ?, ?)""",
                (package_id, issuer, sequence, bulletin_id, priority.value, str(path), _now(), approval_key))
            self._audit(db, actor, "package.reserve", f"package:{package_id}", {"sequence": sequence})
            return sequence

    def set_package_state(self, package_id: str, state: str, *, actor: str = "studio",
                          action: str | None = None, detail: dict[str, Any] | None = None,
                          note: str | None = None, only_from: str | None = None) -> bool:
        """Move a package to `state`, auditing `action` (default 'package.<state>') with `detail`.

        `note` replaces the row's note; with `only_from` the row moves only if it is in that state
        (returns False, and audits nothing, when it was not).
        """
        with self._write() as db:
            sql, args = "UPDATE packages SET state = ?", [state]
            if note is not None:
                sql, args = sql + ", note = ?", [*args, note]
            sql, args = sql + " WHERE package_id = ?", [*args, package_id]
            if only_from is not None:
                if db.execute("SELECT 1 FROM packages WHERE package_id = ?", (package_id,)).fetchone() is None:
                    raise StoreError(f"{self.path}: no package with id {package_id!r}")
                sql, args = sql + " AND state = ?", [*args, only_from]
            cur = db.execute(sql, args)
            if cur.rowcount == 0 and only_from is not None:
                return False
            if cur.rowcount == 0:
                raise StoreError(f"{self.path}: no package with id {package_id!r}")
            self._audit(db, actor, action or f"package.{state}", f"package:{package_id}",
                        {"state": state, **({"note": note} if note else {}), **(detail or {})})
            return True

    def find_package(self, package_id: str) -> StoredPackage | None:
        """The row of `package_id`, or None (a package built elsewhere has none)."""
        rows = self.packages(package_id=package_id)
        return rows[0] if rows else None

    def get_package(self, package_id: str) -> StoredPackage:
        row = self.find_package(package_id)
        if row is not None:
            return row
        raise StoreError(f"{self.path}: no package with id {package_id!r}")

    # -- deliveries ----------------------------------------------------------------------------------

    def record_delivery(self, package_id: str, target: str, *, attempt: int, status: str,
                        http_status: int | None = None, error: str = "", duration_ms: int = 0) -> None:
        """Log one delivery attempt ('delivered', 'retry', 'failed')."""
        with self._write() as db:
            db.execute(
                """INSERT INTO deliveries (package_id, target, attempt, status, http_status, error, at,
                   duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                (package_id, target, attempt, status, http_status, error, _now(), duration_ms))
            if status in ("delivered", "failed"):
                self._audit(db, "dispatch", f"package.{status}", f"package:{package_id}",
                            {"target": target, "attempts": attempt, "http_status": http_status,
                             "error": error})

    def deliveries(self, package_id: str | None = None) -> list[dict[str, Any]]:
        """Delivery attempts, oldest first."""
        sql, args = "SELECT * FROM deliveries", []
        if package_id is not None:
            sql += " WHERE package_id = ?"
            args.append(package_id)
        return [dict(r) for r in self._db.execute(sql + " ORDER BY id", args).fetchall()]

    def delivered(self, package_id: str, target: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM deliveries WHERE package_id = ? AND target = ? AND status = 'delivered'",
            (package_id, target)).fetchone()
        return row is not None

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


__all__: Sequence[str] = ("Store", "StoredItem", "StoredBulletin", "StoredPackage", "StoredRender",
                          "open_store", "SCHEMA_VERSION")
