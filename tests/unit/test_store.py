import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from studio.errors import StoreError
from studio.models import Bulletin, Priority, Segment, SourceItem
from studio.store import SCHEMA_VERSION, Store


def _item(n: int, *, priority: Priority = Priority.THONG_THUONG, body: str | None = None) -> SourceItem:
    return SourceItem(source="httn", source_id=str(n), title=f"Tin {n}", body=body or f"Nội dung tin số {n}.",
                      priority=priority, published=datetime(2026, 11, 28, 8, n % 60, tzinfo=UTC))


def test_wal_and_schema_version(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.schema_version == SCHEMA_VERSION
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this studio"):
        Store(tmp_path / "s.db")


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "s.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the workspace database"):
        Store(tmp_path / "s.db")


def test_items_dedup_and_order(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        a, created_a = store.add_item(_item(1))
        b, created_b = store.add_item(_item(2, priority=Priority.KHAN_CAP))
        again, created_again = store.add_item(_item(1))
        same_text, created_same = store.add_item(
            SourceItem(source="other", source_id="9", title="Tin 1", body="Nội dung tin số 1."))
        assert (created_a, created_b, created_again, created_same) == (True, True, False, False)
        assert again == a and same_text == a
        assert [s.id for s in store.items()] == [b, a]
        assert [s.id for s in store.items(priority=Priority.THONG_THUONG)] == [a]
        stored = store.get_item(a)
        assert stored.item == _item(1) and stored.state == "new"
        store.set_item_state(a, "used")
        assert [s.id for s in store.items(state="used")] == [a]
        actions = [e["action"] for e in store.audit_log()]
        assert actions.count("item.add") == 2 and "item.state" in actions


def test_bulletin_round_trip_and_packages(tmp_path: Path) -> None:
    bulletin = Bulletin(title="Bản tin", template="ban-tin", priority=Priority.UU_TIEN, item_ids=(1, 2),
                        segments=(Segment("speech", "Xin chào."), Segment("gap", duration_s=1.5)))
    with Store(tmp_path / "s.db") as store:
        bid = store.save_bulletin(bulletin)
        got = store.get_bulletin(bid)
        assert got.bulletin.segments == bulletin.segments and got.bulletin.item_ids == (1, 2)
        store.save_bulletin(bulletin, bulletin_id=bid, state="approved")
        assert store.get_bulletin(bid).state == "approved"
        with pytest.raises(StoreError, match="no bulletin with id 99"):
            store.save_bulletin(bulletin, bulletin_id=99)
        assert store.next_sequence("demo") == 1
        store.add_package("p1", issuer="demo", sequence=1, bulletin_id=bid, priority=Priority.UU_TIEN,
                          path=tmp_path / "p1")
        assert store.next_sequence("demo") == 2
        with pytest.raises(sqlite3.IntegrityError):
            store.add_package("p2", issuer="demo", sequence=1, bulletin_id=bid, priority=Priority.UU_TIEN,
                              path=tmp_path / "p2")
        assert [p.package_id for p in store.packages()] == ["p1"]


def test_failed_write_rolls_back(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.add_item(_item(1))
        with pytest.raises(sqlite3.IntegrityError):
            with store._write() as db:
                db.execute("INSERT INTO audit (at, actor, action, subject) VALUES ('t', 'a', 'x', 's')")
                db.execute("INSERT INTO items (id, source, source_id, title, body, priority, content_hash, "
                           "created_at) VALUES (1, 'a', 'b', 'c', 'd', 'e', 'f', 'g')")
        assert not [e for e in store.audit_log() if e["action"] == "x"]


def test_concurrent_writers_never_see_locked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            with Store(path) as store:
                for n in range(40):
                    store.add_item(_item(k * 100 + n % 60, body=f"w{k} n{n}"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(path) as store:
        assert len(store.items()) == 160


def test_processes_opening_a_new_database_at_once_migrate_once(tmp_path: Path) -> None:
    """Two processes creating the same workspace database race on the first migration; neither fails."""
    import subprocess
    import sys

    path = tmp_path / "race.db"
    code = ("import sys; from pathlib import Path; from studio.store import Store\n"
            "Store(Path(sys.argv[1])).close()\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True)
             for _ in range(6)]
    errors = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
