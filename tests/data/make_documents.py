"""Regenerate the Vietnamese notices in tests/data/documents/ (committed; run this only to change them).

    .venv/bin/python tests/data/make_documents.py

The .docx is written with python-docx; the .pdf with fpdf2 and the DejaVu Sans font (the Debian
`fonts-dejavu-core` package), embedded as a subset so the text layer carries every Vietnamese mark.
The Word file's text is stored in NFD, as Word on macOS saves it, so ingest must normalize to NFC.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

HERE = Path(__file__).resolve().parent / "documents"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

DOCX_TITLE = "Thông báo tổ chức tiêm vắc xin sởi - rubella đợt 2 năm 2026"
DOCX_BODY = [
    "Thực hiện Kế hoạch số 112/KH-UBND của Ủy ban nhân dân huyện về tiêm chủng bổ sung, Trạm Y tế xã "
    "Nghĩa Hà thông báo tổ chức tiêm vắc xin sởi - rubella cho trẻ từ 1 đến 5 tuổi.",
    "Thời gian: từ 7 giờ 30 đến 11 giờ, các ngày 2 và 3 tháng 12 năm 2026.",
    "Địa điểm: Hội trường Nhà văn hoá thôn Phú Thọ và Trạm Y tế xã.",
    "Đề nghị phụ huynh mang theo sổ tiêm chủng của trẻ. Mọi thắc mắc xin liên hệ số điện thoại 0255.3911.022.",
]
PDF_LINES = [
    "THÔNG BÁO",
    "Lịch tạm ngừng cung cấp điện ngày 5 tháng 12 năm 2026",
    "",
    "Điện lực Tư Nghĩa thông báo tạm ngừng cung cấp điện để bảo dưỡng, sửa chữa lưới điện.",
    "Thời gian: từ 6 giờ 30 đến 16 giờ 30, thứ Bảy, ngày 5 tháng 12 năm 2026.",
    "Khu vực: thôn An Hội Bắc, thôn An Hội Nam, xã Nghĩa Kỳ.",
    "",
    "Điện lực rất mong quý khách hàng thông cảm. Trong thời gian ngừng điện, đề nghị bà con không",
    "tự ý trèo lên cột điện, tránh xa các đường dây.",
]


def make_docx(path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("ỦY BAN NHÂN DÂN XÃ NGHĨA HÀ")
    document.add_heading(unicodedata.normalize("NFD", DOCX_TITLE), level=1)
    for paragraph in DOCX_BODY:
        document.add_paragraph(unicodedata.normalize("NFD", paragraph))
    table = document.add_table(rows=2, cols=2)
    for r, (place, day) in enumerate((("Thôn Phú Thọ", "Ngày 2/12"), ("Trạm Y tế xã", "Ngày 3/12"))):
        table.cell(r, 0).text = place
        table.cell(r, 1).text = day
    document.core_properties.author = "Trạm Y tế xã Nghĩa Hà"
    document.save(str(path))


def make_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(__import__("datetime").datetime(2026, 11, 27))  # reproducible bytes
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=12)
    for line in PDF_LINES:
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def main() -> None:
    HERE.mkdir(exist_ok=True)
    make_docx(HERE / "thong-bao-tiem-chung.docx")
    make_pdf(HERE / "lich-cat-dien.pdf")
    print(*(f"{p.name}\t{p.stat().st_size} bytes" for p in sorted(HERE.iterdir())), sep="\n")


if __name__ == "__main__":
    main()
