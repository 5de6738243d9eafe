"""Documents: Vietnamese notices as .docx, .pdf, .txt and .md; encrypted, corrupt and empty ones."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from pathlib import Path

import pytest

from studio.errors import InputError
from studio.ingest import ingest, parse_target
from studio.models import ItemState, Priority
from studio.store import Store
from tests.ingest.conftest import DOCUMENTS

DOCX = DOCUMENTS / "thong-bao-tiem-chung.docx"
PDF = DOCUMENTS / "lich-cat-dien.pdf"


def test_docx_notice_in_nfd_comes_out_nfc() -> None:
    xml = zipfile.ZipFile(DOCX).read("word/document.xml").decode("utf-8")
    assert unicodedata.normalize("NFD", "tiêm vắc xin") in xml  # saved as Word on macOS does
    _, (entry,) = parse_target(DOCX)
    item = entry.item
    assert item is not None
    assert item.title == "Thông báo tổ chức tiêm vắc xin sởi - rubella đợt 2 năm 2026"  # the heading
    assert unicodedata.is_normalized("NFC", item.title) and unicodedata.is_normalized("NFC", item.body)
    assert "Thời gian: từ 7 giờ 30 đến 11 giờ, các ngày 2 và 3 tháng 12 năm 2026." in item.body.split("\n\n")
    assert "Thôn Phú Thọ, Ngày 2/12" in item.body  # table rows are read too
    assert item.source == "tai-lieu" and item.source_id.startswith("thong-bao-tiem-chung.docx#")


def test_pdf_notice() -> None:
    _, (entry,) = parse_target(PDF)
    item = entry.item
    assert item is not None
    assert item.title == "Thông báo lịch tạm ngừng cung cấp điện ngày 5 tháng 12 năm 2026"
    assert "Khu vực: thôn An Hội Bắc, thôn An Hội Nam, xã Nghĩa Kỳ." in item.body
    assert "không tự ý trèo lên cột điện" in item.body  # a line wrapped in the PDF is one sentence again
    assert item.priority is Priority.THONG_THUONG


def test_text_and_markdown_notices() -> None:
    _, (txt,) = parse_target(DOCUMENTS / "thong-bao-nuoc-sach.txt")
    assert txt.item is not None and txt.item.title == "Thông báo tạm ngừng cấp nước sinh hoạt"
    assert txt.item.body.count("\n\n") == 1
    _, (md,) = parse_target(DOCUMENTS / "hop-dan-thon.md")
    assert md.item is not None and md.item.title == "Thông báo họp dân thôn An Phú"
    assert md.item.priority is Priority.UU_TIEN  # the "# KHẨN" mark
    assert "**" not in md.item.body and "Địa điểm: Nhà văn hoá thôn." in md.item.body


@pytest.mark.parametrize(("mark", "priority"), [("HỎA TỐC", Priority.KHAN_CAP), ("Thượng khẩn", Priority.KHAN_CAP),
                                                ("KHẨN", Priority.UU_TIEN)])
def test_urgency_marks(tmp_path: Path, mark: str, priority: Priority) -> None:
    path = tmp_path / "tb.txt"
    path.write_text(f"{mark}\nTHÔNG BÁO\nVề việc sơ tán dân\n\nBà con khẩn trương di chuyển.\n", encoding="utf-8")
    _, (entry,) = parse_target(path)
    assert entry.item is not None and entry.item.priority is priority
    assert entry.item.title == "Thông báo về việc sơ tán dân"


def _encrypted_docx(tmp_path: Path) -> Path:
    import msoffcrypto.format.ooxml as ooxml

    out = tmp_path / "mat-khau.docx"
    with DOCX.open("rb") as plain, out.open("wb") as encrypted:
        ooxml.OOXMLFile(plain).encrypt("123456", encrypted)
    return out


def _encrypted_pdf(tmp_path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(PDF).pages:
        writer.add_page(page)
    writer.encrypt(user_password="123456", owner_password="chu-so-huu", algorithm="AES-256")
    out = tmp_path / "mat-khau.pdf"
    with out.open("wb") as fh:
        writer.write(fh)
    return out


def test_password_protected_documents(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="mat-khau.docx: the document is password-protected"):
        parse_target(_encrypted_docx(tmp_path))
    with pytest.raises(InputError, match="mat-khau.pdf: the PDF is password-protected"):
        parse_target(_encrypted_pdf(tmp_path))


def test_pdf_with_only_an_owner_password_opens(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(PDF).pages:
        writer.add_page(page)
    writer.encrypt(user_password="", owner_password="chu-so-huu", algorithm="AES-128")
    path = tmp_path / "chi-chu.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    _, (entry,) = parse_target(path)
    assert entry.item is not None and "An Hội Bắc" in entry.item.body


def test_corrupt_documents(tmp_path: Path) -> None:
    docx = tmp_path / "hong.docx"
    docx.write_bytes(DOCX.read_bytes()[:5000])
    with pytest.raises(InputError, match="hong.docx: not a readable .docx"):
        parse_target(docx)
    pdf = tmp_path / "hong.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(InputError, match="hong.pdf: not a readable PDF|hong.pdf: the PDF has no text layer"):
        parse_target(pdf)
    part = tmp_path / "xml-hong.docx"
    buf = io.BytesIO()
    with zipfile.ZipFile(DOCX) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info, data[:200] if info.filename == "word/document.xml" else data)
    part.write_bytes(buf.getvalue())
    with pytest.raises(InputError, match="xml-hong.docx: .*(damaged|not a readable)"):
        parse_target(part)


def test_empty_documents(tmp_path: Path) -> None:
    import docx

    (tmp_path / "rong.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(InputError, match="rong.txt: the document is empty"):
        parse_target(tmp_path / "rong.txt")
    docx.Document().save(str(tmp_path / "rong.docx"))
    with pytest.raises(InputError, match="rong.docx: the document is empty"):
        parse_target(tmp_path / "rong.docx")
    (tmp_path / "chi-tieu-de.md").write_text("# Thông báo\n", encoding="utf-8")
    with pytest.raises(InputError, match="has a title .* but no body"):
        parse_target(tmp_path / "chi-tieu-de.md")
    (tmp_path / "cp1258.txt").write_bytes("Thông báo\n\nBà con".encode("cp1258"))
    with pytest.raises(InputError, match="cp1258.txt: not UTF-8"):
        parse_target(tmp_path / "cp1258.txt")


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(InputError, match="scan.pdf: the PDF has no text layer"):
        parse_target(path)


def test_bad_document_is_stored_with_its_error(store: Store, tmp_path: Path) -> None:
    pdf = _encrypted_pdf(tmp_path)
    (outcome,) = ingest(store, pdf)
    row = store.get_item(outcome.item_id)
    assert outcome.status == "error" and row.state == ItemState.ERROR and "password-protected" in row.error
    assert row.item.title == "mat-khau.pdf"


def test_same_file_name_new_content_is_a_new_item(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "thong-bao.txt"
    path.write_text("Thông báo họp\n\nHọp lúc 8 giờ.\n", encoding="utf-8")
    (first,) = ingest(store, path)
    (same,) = ingest(store, path)
    path.write_text("Thông báo họp\n\nHọp lúc 9 giờ (đổi giờ).\n", encoding="utf-8")
    (changed,) = ingest(store, path)
    assert (first.status, same.status, changed.status) == ("added", "duplicate", "added")
    assert same.item_id == first.item_id != changed.item_id
