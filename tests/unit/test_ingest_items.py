import json
from pathlib import Path

import pytest

from studio.config import shipped_dir
from studio.errors import InputError
from studio.ingest.items import parse_bytes, parse_file
from studio.models import Priority


def test_shipped_samples_parse() -> None:
    entries = [e for p in sorted((shipped_dir("samples") / "items").glob("*.json")) for e in parse_file(p)]
    assert len(entries) == 3 and all(e.item is not None for e in entries)
    assert {e.item.priority for e in entries if e.item} == {Priority.KHAN_CAP, Priority.THONG_THUONG}


def test_list_with_bad_entry_keeps_the_rest() -> None:
    raw = json.dumps([
        {"source": "a", "id": "1", "title": "Tin", "body": "Nội dung"},
        {"source": "a", "id": "2", "title": "Tin", "body": "Nội dung", "prority": "khan-cap"},
        {"source": "a", "id": "3", "title": "", "body": "x"},
        {"source": "a", "id": "4", "title": "T", "body": "x", "published": "2026-11-28T08:00:00"},
        {"source": "a", "id": "5", "title": "T", "body": "y", "priority": "Ưu tiên"},
    ]).encode()
    entries = parse_bytes(raw, name="batch.json")
    assert entries[0].item is not None and entries[4].item is not None
    assert entries[4].item.priority is Priority.UU_TIEN
    assert "batch.json[1]: unknown field(s) prority" in entries[1].error
    assert "batch.json[2].title: required field is missing or empty" in entries[2].error
    assert "batch.json[3].published" in entries[3].error and "UTC offset" in entries[3].error


@pytest.mark.parametrize(("raw", "message"), [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{\"a\": ", "invalid JSON at line 1"),
    (b"42", "expected an item object"),
])
def test_whole_file_errors(raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_bytes(raw, name="x.json")


def test_default_source_from_file_name(tmp_path: Path) -> None:
    path = tmp_path / "ubnd-xa.json"
    path.write_text(json.dumps({"id": 7, "title": "T", "body": "B"}), encoding="utf-8")
    (entry,) = parse_file(path)
    assert entry.item is not None and entry.item.source == "ubnd-xa" and entry.item.source_id == "7"
