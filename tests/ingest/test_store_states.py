"""Item states in the store: slugs in the database, Vietnamese labels shown; errors kept and fixable."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from studio.errors import InputError
from studio.models import ItemState, SourceItem
from studio.store import MIGRATIONS, SCHEMA_VERSION, Store


@pytest.mark.parametrize(("text", "state"), [("mới", ItemState.NEW), ("đã dùng", ItemState.USED),
                                             ("Da dung", ItemState.USED), ("lưu trữ", ItemState.ARCHIVED),
                                             ("archived", ItemState.ARCHIVED), ("LỖI", ItemState.ERROR)])
def test_state_parse(text: str, state: ItemState) -> None:
    assert ItemState.parse(text) is state


def test_unknown_state_lists_the_states() -> None:
    with pytest.raises(InputError, match=r"unknown item state 'xong'; expected one of new \(mới\), used \(đã dùng\)"):
        ItemState.parse("xong")


def test_migration_from_version_1_keeps_items(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    db.execute("INSERT INTO items (source, source_id, title, body, priority, content_hash, created_at) "
               "VALUES ('s', '1', 'Tin', 'Nội dung', 'thong-thuong', 'h', '2026-11-27T00:00:00+00:00')")
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        (row,) = store.items()
        assert row.state == "new" and row.state_label == "mới" and row.note == "" and row.raw == ""


def test_failed_item_is_kept_then_replaced_when_fixed(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        item_id, created = store.add_failed_item("ubnd-xa", "42", "title: required field is missing",
                                                 raw='{"id": "42"}')
        assert created
        again, created = store.add_failed_item("ubnd-xa", "42", "still wrong", raw='{"id": "42", "x": 1}')
        assert again == item_id and not created and store.get_item(item_id).error == "still wrong"
        fixed_id, created = store.add_item(SourceItem(source="ubnd-xa", source_id="42", title="Họp", body="Tối nay."))
        assert fixed_id == item_id and created
        row = store.get_item(item_id)
        assert row.state == "new" and row.error == "" and row.item.title == "Họp"
        actions = [a["action"] for a in store.audit_log()]
        assert actions.count("item.error") == 2 and "item.fixed" in actions


def test_state_changes_are_audited(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        item_id, _ = store.add_item(SourceItem(source="s", source_id="1", title="T", body="B"))
        store.set_item_state(item_id, "lưu trữ", note="hết hạn")
        row = store.get_item(item_id)
        assert (row.state, row.state_label, row.note) == ("archived", "lưu trữ", "hết hạn")
        assert store.audit_log(1)[0]["detail"] == {"state": "archived", "note": "hết hạn"}
        with pytest.raises(InputError):
            store.set_item_state(item_id, "bogus")
