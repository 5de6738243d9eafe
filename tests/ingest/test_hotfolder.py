"""The hot folder: ingest, then move to done/ or failed/ with a .error.txt; never delete anything."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from studio.ingest import hotfolder
from studio.models import ItemState
from studio.store import Store
from tests.ingest.conftest import CAP, DOCUMENTS, FEEDS, NOW


def _age(path: Path, seconds: float = 60.0) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_files_go_to_done_or_failed_and_nothing_is_lost(store: Store, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for src in (DOCUMENTS / "thong-bao-tiem-chung.docx", DOCUMENTS / "lich-cat-dien.pdf",
                FEEDS / "cong-thong-tin-quang-ngai.rss", CAP / "bao-so-9-canh-bao.xml", CAP / "dien-tap.xml"):
        shutil.copy(src, inbox / src.name)
    (inbox / "hong.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<>> endobj\n")  # corrupt
    (inbox / "lo.json").write_text(json.dumps([{"source": "ubnd-xa", "id": "7", "title": "Họp", "body": "Tối nay."},
                                                {"source": "ubnd-xa", "id": "8", "title": ""}]), encoding="utf-8")
    (inbox / "dang-chep.docx.part").write_bytes(b"partial")  # still being copied
    for p in inbox.iterdir():
        _age(p)
    (inbox / "moi-tha.txt").write_text("Thông báo\n\nVừa thả vào.\n", encoding="utf-8")  # not settled yet
    names_before = {p.name for p in inbox.iterdir()}

    results = hotfolder.process(inbox, store, settle_s=5.0, now=NOW)

    by_name = {r.source.name: r for r in results}
    assert set(by_name) == {"thong-bao-tiem-chung.docx", "lich-cat-dien.pdf", "cong-thong-tin-quang-ngai.rss",
                            "bao-so-9-canh-bao.xml", "dien-tap.xml", "hong.pdf", "lo.json"}
    assert {n for n, r in by_name.items() if r.ok} == {"thong-bao-tiem-chung.docx", "lich-cat-dien.pdf",
                                                       "bao-so-9-canh-bao.xml", "dien-tap.xml"}
    assert (inbox / "done" / "lich-cat-dien.pdf").is_file() and (inbox / "failed" / "hong.pdf").is_file()
    error_text = (inbox / "failed" / "hong.pdf.error.txt").read_text(encoding="utf-8")
    assert "hong.pdf" in error_text and "PDF" in error_text
    lo_error = (inbox / "failed" / "lo.json.error.txt").read_text(encoding="utf-8")
    assert "lo.json[1].title: required field is missing" in lo_error and "đã được nhận (1)" in lo_error
    # Nothing deleted: every file is somewhere, the unsettled and partial ones untouched.
    names_after = {p.name for p in _all_files(inbox) if not p.name.endswith(".error.txt")}
    assert names_after == names_before
    assert (inbox / "moi-tha.txt").is_file() and (inbox / "dang-chep.docx.part").is_file()
    # The good entries of the partly bad files are in the store; the bad ones are kept with their error.
    titles = {r.item.title for r in store.items(state=ItemState.NEW)}
    assert {"Họp", "Bão số 9 đang tiến gần bờ biển Quảng Ngãi",
            "Thông báo lịch tiếp công dân tháng 12 năm 2026"} <= titles
    assert len(store.items(state="lỗi")) == 3  # the feed entry without text, lo.json[1], hong.pdf


def test_a_name_already_in_done_is_kept(store: Store, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for text in ("Thông báo một\n\nNội dung một.\n", "Thông báo hai\n\nNội dung hai.\n"):
        path = inbox / "thong-bao.txt"
        path.write_text(text, encoding="utf-8")
        _age(path)
        (result,) = hotfolder.process(inbox, store, settle_s=1.0)
        assert result.ok
    done = sorted(p.name for p in (inbox / "done").iterdir())
    assert done == ["thong-bao (2).txt", "thong-bao.txt"]
    assert (inbox / "done" / "thong-bao.txt").read_text(encoding="utf-8").startswith("Thông báo một")
