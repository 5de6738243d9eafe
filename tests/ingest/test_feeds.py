"""RSS/Atom feeds: the provincial portal sample, from a file and over HTTP; malformed and unsafe feeds."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest

from studio.errors import InputError
from studio.ingest import ingest, parse_target
from studio.models import ItemState, Priority
from studio.store import Store
from tests.ingest.conftest import FEEDS

PORTAL = FEEDS / "cong-thong-tin-quang-ngai.rss"


def test_portal_feed_items() -> None:
    kind, entries = parse_target(PORTAL)
    assert kind == "feed" and len(entries) == 4
    items = [e.item for e in entries if e.item is not None]
    assert [i.source_id for i in items] == ["qng-tb-2026-1187", "qng-tb-2026-1190", "qng-tb-2026-1175"]
    assert all(i.source == "https://www.quangngai.gov.vn/thong-bao" for i in items)
    first, urgent, course = items
    assert first.body == ("Chủ tịch Ủy ban nhân dân tỉnh tiếp công dân định kỳ vào ngày 15/12/2026 tại Trụ sở "
                          "Tiếp công dân tỉnh, số 52 đường Hùng Vương.\n\nCông dân có nhu cầu đăng ký trước qua số "
                          "điện thoại 0255.3822.111.")
    assert first.published is not None and first.published.isoformat() == "2026-11-27T08:30:00+00:00"
    assert first.category == "Hành chính"
    assert urgent.priority is Priority.UU_TIEN and urgent.category == "Nông nghiệp"  # the "Ưu tiên" tag
    assert '"xanh nhà hơn già đồng"' in urgent.body and "\n\nCác hợp tác xã" in urgent.body
    assert "https://www.quangngai.gov.vn/files/2026/11/cv-1190.pdf" in urgent.attachments
    assert "alert(1)" not in course.body and "may công nghiệp" in course.body
    assert entries[3].item is None and "has no text" in entries[3].error and entries[3].title == "Văn bản đính kèm"


def test_feed_batch_keeps_good_entries_and_stores_the_bad_one(store: Store) -> None:
    outcomes = ingest(store, PORTAL)
    assert [o.status for o in outcomes] == ["added", "added", "added", "error"]
    bad = store.get_item(outcomes[3].item_id)
    assert bad.state == ItemState.ERROR and bad.item.title == "Văn bản đính kèm" and "qng-tb-2026-1160" in bad.raw
    again = ingest(store, PORTAL)
    assert [o.status for o in again[:3]] == ["duplicate"] * 3  # (source, id) de-duplication
    assert len(store.items()) == 4


@pytest.fixture
def portal_server(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "rss").write_bytes(PORTAL.read_bytes())
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_feed_from_url(store: Store, portal_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    outcomes = ingest(store, f"{portal_server}/rss")
    assert [o.status for o in outcomes].count("added") == 3
    (missing,) = ingest(store, f"{portal_server}/khong-co")
    assert missing.status == "error" and "HTTP 404" in missing.message


def test_malformed_feed(tmp_path: Path) -> None:
    path = tmp_path / "hong.rss"
    path.write_text(PORTAL.read_text(encoding="utf-8").replace("</channel>", ""), encoding="utf-8")
    with pytest.raises(InputError, match=r"hong.rss: malformed XML at line \d+ column \d+: mismatched tag"):
        parse_target(path)


def test_feed_entity_bomb_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bom.rss"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
                    '<rss version="2.0"><channel><title>&b;</title></channel></rss>', encoding="utf-8")
    with pytest.raises(InputError, match="refused: the XML declares the entity 'a'"):
        parse_target(path)


def test_rss091_public_doctype_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "old.rss"
    path.write_text('<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
                    '"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
                    "<title>Xã</title><link>https://xa.example.invalid</link><item><title>Họp dân</title>"
                    "<description>Tối nay họp dân.</description></item></channel></rss>", encoding="utf-8")
    _, (entry,) = parse_target(path)
    assert entry.item is not None and entry.item.title == "Họp dân"


def test_atom_feed(tmp_path: Path) -> None:
    path = tmp_path / "tin.atom"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                    "<title>Sở Y tế</title><link href=\"https://syt.example.invalid/\"/><id>urn:syt</id>"
                    "<updated>2026-11-27T10:00:00+07:00</updated><entry><id>urn:syt:1</id><title>Phòng sốt xuất "
                    "huyết</title><updated>2026-11-27T10:00:00+07:00</updated><content type=\"html\">&lt;p&gt;Diệt "
                    "lăng quăng, bọ gậy.&lt;/p&gt;</content></entry></feed>", encoding="utf-8")
    kind, (entry,) = parse_target(path)
    assert kind == "feed" and entry.item is not None
    assert entry.item.body == "Diệt lăng quăng, bọ gậy." and entry.item.source == "https://syt.example.invalid/"
