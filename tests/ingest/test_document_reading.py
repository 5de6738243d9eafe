"""The .docx reader walks the XML itself (python-docx's object model was minutes on big documents):
it must read exactly what python-docx's own `paragraph.text`, `style.name` and `row.cells` give."""

from __future__ import annotations

import io
import random
from pathlib import Path

import docx
import pytest
from docx.enum.text import WD_BREAK

from studio.errors import InputError
from studio.ingest import documents, parse_target

WORDS = "Thông báo lịch tiêm chủng KHẨN Hỏa tốc thôn An Phú 7 giờ 30 trạm y tế".split()


def _reference_blocks(document: docx.document.Document) -> list[tuple[str, str]]:
    """What studio read through python-docx's object model before (studio/ingest/documents.py)."""
    blocks = [(p.style.name if p.style is not None else "", p.text) for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            blocks.append(("", ", ".join(dict.fromkeys(c for c in cells if c))))
    return blocks


def _random_document(rnd: random.Random) -> docx.document.Document:
    def words(n: int) -> str:
        return " ".join(rnd.choice(WORDS) for _ in range(n))

    doc = docx.Document()
    for _ in range(rnd.randint(1, 8)):
        kind = rnd.randrange(5)
        if kind == 0:
            doc.add_heading(words(4), level=rnd.randint(0, 3))
        elif kind == 1:
            doc.add_paragraph(rnd.choice(["KHẨN", "THÔNG BÁO", "Về việc " + words(3), ""]),
                              style=rnd.choice(["List Bullet", "Quote", "Title", "Normal", None]))
        elif kind == 2:  # line break, tab, page break, column break inside runs
            p = doc.add_paragraph(words(3))
            run = p.add_run(words(2))
            run.add_break()
            run.add_tab()
            p.add_run(words(2)).add_break(rnd.choice([WD_BREAK.PAGE, WD_BREAK.COLUMN, WD_BREAK.LINE]))
        else:
            rows, cols = rnd.randint(1, 4), rnd.randint(1, 4)
            table = doc.add_table(rows=rows, cols=cols)
            for row in table.rows:
                for cell in row.cells:
                    cell.text = rnd.choice(["", words(2), words(1)])
            if rows > 2 and rnd.random() < 0.6:
                table.cell(0, 0).merge(table.cell(2, 0))  # vertical merge: continued cells read as above
            if cols > 2 and rnd.random() < 0.6:
                table.cell(rows - 1, 0).merge(table.cell(rows - 1, 2))  # horizontal span
    return doc


def test_direct_reading_matches_python_docx() -> None:
    rnd = random.Random(5)
    for _ in range(20):
        buffer = io.BytesIO()
        _random_document(rnd).save(buffer)
        reloaded = docx.Document(io.BytesIO(buffer.getvalue()))
        assert documents._docx_blocks(reloaded) == _reference_blocks(reloaded)


def test_huge_title_is_not_copied_into_the_error(tmp_path: Path) -> None:
    # Was: "the document has a title (<the whole 5 MB line>) but no body": a 5 MB error message, stored.
    path = tmp_path / "mot-dong.txt"
    path.write_text("Thông báo họp dân " * 100_000, encoding="utf-8")
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert len(info.value.message) < 400 and "characters)" in info.value.message


def _table_docx(cell_properties: str) -> bytes:
    from tests.reliability import test_big_inputs as big

    cell = f"<w:tc>{cell_properties}<w:p><w:r><w:t>Thôn 1</w:t></w:r></w:p></w:tc>"
    body = big._para("Lịch tiêm chủng", "Title") + big._para("Nội dung") + f"<w:tbl><w:tr>{cell}</w:tr></w:tbl>"
    return big._docx(big._document_xml(body))


def test_hostile_grid_span_is_read_at_once(tmp_path: Path) -> None:
    # Was: python-docx's row.cells built a tuple of 10^9 cells for gridSpan="1000000000" (a 10 KB file
    # hung `studio ingest` for minutes). Run in a child with a deadline, so a regression fails, not hangs.
    from tests.reliability.test_big_inputs import measure

    path = tmp_path / "gop-o.docx"
    path.write_bytes(_table_docx('<w:tcPr><w:gridSpan w:val="1000000000"/></w:tcPr>'))
    report = measure("ingest", path, limit_bytes=2 << 30, timeout=30)
    assert report["items"] == 1 and float(report["wall_s"]) < 5, report


def test_malformed_grid_span_is_an_input_error(tmp_path: Path) -> None:
    # Was: ValueError("invalid literal for int()") out of python-docx's gridSpan accessor.
    path = tmp_path / "hong.docx"
    path.write_bytes(_table_docx('<w:tcPr><w:gridSpan w:val="abc"/></w:tcPr>'))
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert "hong.docx: the .docx is damaged" in info.value.message
