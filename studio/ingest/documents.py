"""Documents staff receive by e-mail or Zalo: plain text, Markdown, Word (.docx) and PDF notices.

Owns: extracting the text of one document into one SourceItem: the title is the first heading (Word
Title/Heading style, Markdown '#') or else the first line, the body is the rest with its paragraphs.
An official urgency mark among the first lines ("Hoả tốc", "Thượng khẩn", "Khẩn", Decree 30/2020)
sets the priority. Encrypted, corrupt and empty documents are errors that say which. The source is
'tai-lieu'; the id is the file name plus a content hash, so a new notice under an old file name is a
new item and the same bytes twice are one.
"""

from __future__ import annotations

import io
import itertools
import re
import unicodedata
import warnings
import zipfile
import zlib
from pathlib import Path

from studio.errors import InputError
from studio.ingest import ParsedEntry, check_size, input_id, read_input
from studio.models import Priority, SourceItem, nfc

SOURCE = "tai-lieu"
SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".pdf")
MAX_TEXT_BYTES = 8 * 1024 * 1024
"""A .txt/.md notice is a few KB; a long plan a few hundred KB (8 MB of text is ~1,500 pages, days of
reading aloud). Reading is linear: ~0.2 s and ~20× its size in memory per MB for one long line."""
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE compound file: encrypted OOXML, or a legacy .doc
_URGENCY = ((re.compile(r"\b(hoa toc|thuong khan)\b"), Priority.KHAN_CAP),
            (re.compile(r"\bkhan\b"), Priority.UU_TIEN))


def parse_file(path: Path) -> list[ParsedEntry]:
    """Read one document file (see `parse_bytes`)."""
    return parse_bytes(read_input(path), name=str(path))


def parse_bytes(raw: bytes, *, name: str) -> list[ParsedEntry]:
    """Turn one document into one entry.

    Raises:
        InputError: unknown type, password-protected, corrupt, no text layer, or empty.
    """
    suffix = Path(name).suffix.lower()
    if suffix == ".docx":
        title, paragraphs, head = _docx(raw, name)
    elif suffix == ".pdf":
        title, paragraphs, head = _split_lines(_pdf(raw, name), markdown=False)
    elif suffix in (".txt", ".md", ".markdown"):
        check_size(raw, name=name, limit=MAX_TEXT_BYTES, what="a text document")
        title, paragraphs, head = _split_lines(_decode(raw, name), markdown=suffix != ".txt")
    else:
        raise InputError(f"{name}: {suffix or 'no suffix'} is not a document type studio reads; "
                         f"expected one of {', '.join(SUFFIXES)}")
    if not title:
        raise InputError(f"{name}: the document is empty (no text)")
    body = "\n\n".join(paragraphs)
    if not body.strip():
        shown = title if len(title) <= 120 else f"{title[:100]}… ({len(title)} characters)"
        raise InputError(f"{name}: the document has a title ({shown!r}) but no body")
    item = SourceItem(source=SOURCE, source_id=input_id(name, raw), title=title, body=body,
                      priority=_priority(head), attachments=(Path(name).name,))
    return [ParsedEntry(location=name, item=item)]


_H = re.compile("[hHĥĤȟȞḣḢḥḤḧḦḩḨḫḪẖ]")
"""Every letter that folds to 'h' (see `_fold`)."""
_MARK_LINE_CHARS = 80
"""A line longer than this (in NFC characters, before stripping) cannot be an urgency mark alone."""


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _priority(lines: list[str]) -> Priority:
    """An urgency mark standing alone on one of the first lines ('KHẨN', 'HỎA TỐC')."""
    best = Priority.THONG_THUONG
    for line in lines:
        if len(line) > _MARK_LINE_CHARS:  # folding a 50 MB line char by char took seconds
            continue
        folded = _fold(line).strip(" .:!-*")
        if len(folded) > 20:  # a mark is a line of its own, not a word inside a sentence
            continue
        for pattern, priority in _URGENCY:
            if pattern.search(folded) and priority.rank < best.rank:
                best = priority
    return best


def _decode(raw: bytes, name: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: broken UTF-16 text (byte {exc.start}); save the file as UTF-8 text") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 (byte {exc.start}); save the file as UTF-8 text") from None


# Applied to the whole text at once (no pattern crosses a line: "\n" is excluded everywhere), and
# linear in its length: each span's inner class excludes its own opening delimiter, so a scan from one
# opener stops at the next opener and no character is scanned from two openers. The old patterns (lazy
# `.{1,300}?`, `[^\]]{1,300}`, per line) were bounded but still tried up to 300 characters from every
# marker: a 50 MB line of "*a [" took ~2 min. A link target with parentheses inside is left as it is
# (the old pattern cut it at the first ")").
_MD_BLOCK = re.compile(r"^[^\S\n]{0,3}(?:#{1,6}[^\S\n]+|>[^\S\n]?|[-*+][^\S\n]+)", re.MULTILINE)
_MD_INLINE = ((re.compile(r"!\[([^\[\]\n]{0,300})\]\([^()\n]{0,2000}\)"), r"\1"),
              (re.compile(r"\[([^\[\]\n]{1,300})\]\([^()\n]{0,2000}\)"), r"\1"),
              (re.compile(r"\*\*((?:[^*\n]|\*(?!\*)){1,300}?)\*\*"), r"\1"),
              (re.compile(r"__((?:[^_\n]|_(?!_)){1,300}?)__"), r"\1"),
              # emphasis: the inner part holds no marker except one inside a word (snake_case)
              (re.compile(r"(?<!\w)[*_]((?:[^*_\n]|(?<=\w)[*_](?=\w)){1,300}+)[*_](?!\w)"), r"\1"),
              (re.compile(r"`([^`\n]{0,300})`"), r"\1"))


def _clean_markdown(text: str) -> str:
    """Markdown markup off every line of `text`: heading/quote/list markers, links, images, emphasis, code."""
    text = _MD_BLOCK.sub("", text)
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return text


_DOC_TYPES = ("thong bao", "cong van", "ke hoach", "quyet dinh", "giay moi", "to trinh", "chi thi", "bao cao")


def _is_mark(line: str) -> bool:
    """A line holding only an urgency mark ('KHẨN', 'HỎA TỐC'): not a title."""
    if len(line) > _MARK_LINE_CHARS or not _H.search(line):  # every mark has an h: skip folding the rest
        return False
    folded = _fold(line).strip(" .:!-*")
    return folded in ("khan", "thuong khan", "hoa toc", "hoa toc hen gio")


def pick_title(lines: list[str]) -> tuple[str, int]:
    """The title and the index of the first body line: the first line that is not an urgency mark;
    a bare document-type word ('THÔNG BÁO') takes the next line as its subject."""
    texts: list[tuple[int, str]] = []  # the first two lines with text that are not marks (not all: linear)
    for i, line in enumerate(lines):
        text = " ".join(line.split())
        if text and not _is_mark(text):
            texts.append((i, text))
            if len(texts) == 2:
                break
    if not texts:
        return "", len(lines)
    i, title = texts[0]
    if len(title) <= _MARK_LINE_CHARS and _fold(title).strip(" .:") in _DOC_TYPES and len(texts) > 1:
        j, subject = texts[1]
        subject = re.sub(r"^(V|v)ề việc\s+", "về việc ", subject)
        word = title.strip(" .:").capitalize()
        return f"{word} {subject[:1].lower()}{subject[1:]}", j + 1
    return title.rstrip(":"), i + 1


def _head(lines: list[str]) -> list[str]:
    """The first lines with text: where an urgency mark stands."""
    return list(itertools.islice((ln for ln in lines if ln.strip()), 12))


def _split_lines(text: str, *, markdown: bool) -> tuple[str, list[str], list[str]]:
    """The title (see `pick_title`); the lines after it → paragraphs (blank lines separate them)."""
    text = nfc(text).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    if markdown:
        text = _clean_markdown(text)
    lines = text.split("\n")
    title, start = pick_title(lines)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "\n".join(lines[start:]))]
    return title, [p for p in paragraphs if p], _head(lines)


MAX_DOCX_UNZIPPED = 256 * 1024 * 1024
"""What a .docx may unpack to in all (python-docx holds every part in memory): far above any notice
with photos, far below a zip bomb (a 1 MB file whose document.xml inflates to gigabytes)."""
MAX_DOCX_XML_PART = 16 * 1024 * 1024
"""One XML part (document.xml) unpacked: a notice's is 20–100 KB, a 200-page report's a few MB. lxml
builds a tree ~8× its size; 50 MB of paragraphs read in 8 s and 400 MB."""


def _check_unzipped_size(raw: bytes, name: str) -> None:
    """Refuse a .docx whose parts would unpack past the limits, before python-docx inflates them.

    The declared sizes are checked first; then every member is inflated in small chunks (zipfile
    stops at the declared size and fails on the CRC), so a member lying about its size is refused as
    corrupt here. python-docx reads whole members at once: a lying 1 GiB member would be inflated
    in full in memory before zipfile truncated it.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            infos = archive.infolist()
            _check_declared(infos, name)
            for info in infos:
                with archive.open(info) as member:
                    while member.read(1 << 16):
                        pass
    except (zipfile.BadZipFile, ValueError, OSError, zlib.error, EOFError, NotImplementedError) as exc:
        raise InputError(f"{name}: not a readable .docx (corrupt or not a Word file): {exc}") from None


def _check_declared(infos: list[zipfile.ZipInfo], name: str) -> None:
    total = sum(info.file_size for info in infos)
    largest = max((i for i in infos if i.filename.endswith((".xml", ".rels"))), key=lambda i: i.file_size,
                  default=None)
    if total > MAX_DOCX_UNZIPPED:
        raise InputError(f"{name}: refused: the .docx unpacks to {total} bytes, over the {MAX_DOCX_UNZIPPED} "
                         "byte limit (a zip bomb, or not a notice)")
    if largest is not None and largest.file_size > MAX_DOCX_XML_PART:
        raise InputError(f"{name}: refused: its part {largest.filename} unpacks to {largest.file_size} bytes, "
                         f"over the {MAX_DOCX_XML_PART} byte limit for one XML part (a zip bomb?)")


def _docx(raw: bytes, name: str) -> tuple[str, list[str], list[str]]:
    if raw.startswith(_CFB_MAGIC):
        raise InputError(f"{name}: the document is password-protected (encrypted) or an old Word 97-2003 "
                         "file saved as .docx; remove the password or save it again as .docx")
    import docx  # deferred: python-docx loads lxml
    from docx.opc.exceptions import PackageNotFoundError
    from lxml.etree import XMLSyntaxError

    _check_unzipped_size(raw, name)
    try:
        document = docx.Document(io.BytesIO(raw))
    # zlib.error: a damaged deflate stream; NotImplementedError: a compression method zipfile lacks.
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, zlib.error, EOFError,
            NotImplementedError) as exc:
        raise InputError(f"{name}: not a readable .docx (corrupt or not a Word file): {exc}") from None
    except XMLSyntaxError as exc:  # a damaged part inside the zip
        if "Text node too long" in str(exc):  # libxml2's 10 MB limit for one text node
            raise InputError(f"{name}: refused: one run of text in the .docx is over 10,000,000 characters "
                             "(libxml2's limit for one text node); not a notice") from None
        raise InputError(f"{name}: the .docx is damaged: {exc}") from None
    from docx.exceptions import PythonDocxError
    from docx.oxml.exceptions import XmlchemyError

    try:
        blocks = _docx_blocks(document)
    # An attribute that is not what the schema says (gridSpan="x"), or a required one missing (found by
    # fuzz_docx: <w:pStyle/> without w:val raised docx.oxml's InvalidXmlError, not a PythonDocxError).
    except (ValueError, PythonDocxError, XmlchemyError) as exc:
        raise InputError(f"{name}: the .docx is damaged: {_short(exc)}") from None
    except AttributeError:  # found by fuzz_docx: the main part's root is not <w:document> (no body)
        raise InputError(f"{name}: the .docx is damaged: its main part is not a Word document "
                         f"(root <{_short(document.element.tag)}>)") from None
    paragraphs: list[str] = []
    texts = [nfc(text) for _, text in blocks]
    headed = [i for i, (style, text) in enumerate(blocks)
              if text.strip() and style.lower().startswith(("title", "heading")) and not _is_mark(text)]
    if headed:
        title, used = " ".join(texts[headed[0]].split()), {headed[0]}
    else:
        title, start = pick_title(texts)
        used = set(range(start))
    if not title:
        return "", [], []
    for i, text in enumerate(texts):
        if i not in used and text.strip() and not _is_mark(text):
            paragraphs.append(" ".join(text.split()))
    return title, paragraphs, _head(texts)


def _docx_blocks(document: object) -> list[tuple[str, str]]:
    """(style name, text) of every body paragraph, then one block per table row ("cell, cell").

    Reads the XML tree directly, with python-docx's own text rules (`CT_P.text`, `row.cells`): its
    object model looked each paragraph's style up by scanning every style (~150) and each paragraph's
    text by a new XPath, so 5 MB of paragraphs took 20 s and of table rows 11 s. A cell continuing a
    vertical merge reads as the cell above, as python-docx's `row.cells` gives it.
    """
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn

    w_p, w_tbl, w_tr, w_tc = qn("w:p"), qn("w:tbl"), qn("w:tr"), qn("w:tc")
    w_tc_pr, w_grid_span, w_v_merge, w_val = qn("w:tcPr"), qn("w:gridSpan"), qn("w:vMerge"), qn("w:val")
    run_tags = {qn("w:r"), qn("w:hyperlink")}
    styles = document.styles  # type: ignore[attr-defined]
    names = {style.style_id: style.name or "" for style in styles if style.type == WD_STYLE_TYPE.PARAGRAPH}
    default = styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name or "") if default is not None else ""  # no pStyle, or an unknown one
    body = document.element.body  # type: ignore[attr-defined]
    blocks: list[tuple[str, str]] = []
    for p in body.iterchildren(w_p):
        style_id = p.style  # pPr/pStyle/@w:val, or None
        blocks.append((names.get(style_id, default_name), _paragraph_text(p, run_tags)))
    for table in body.iterchildren(w_tbl):  # notices put schedules in tables: read them row by row
        above: dict[int, str] = {}  # grid column → the text of the cell there in the row before
        for row in table.iterchildren(w_tr):
            cells, column = [], 0
            for tc in row.iterchildren(w_tc):
                tc_pr = tc.find(w_tc_pr)  # python-docx's tc.grid_span and tc.vMerge, without its accessors
                grid_span = tc_pr.find(w_grid_span) if tc_pr is not None else None
                v_merge = tc_pr.find(w_v_merge) if tc_pr is not None else None
                # Word tables have at most 63 columns; a hostile gridSpan of 10^9 made row.cells build a
                # tuple of 10^9 cells. Repeats of one cell are merged below, so the text is the same.
                span = 1 if grid_span is None else min(max(int(grid_span.get(w_val, "")), 1), _MAX_GRID_SPAN)
                if v_merge is not None and v_merge.get(w_val, "continue") == "continue":
                    text = above.get(column, "")
                else:
                    text = " ".join("\n".join(_paragraph_text(p, run_tags) for p in tc.iterchildren(w_p)).split())
                for offset in range(span):
                    above[column + offset] = text
                cells.extend([text] * span)
                column += span
            blocks.append(("", ", ".join(dict.fromkeys(c for c in cells if c))))
    return blocks


_MAX_GRID_SPAN = 64
_W_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_RUN_TEXT = {f"{_W_NS}cr": "\n", f"{_W_NS}noBreakHyphen": "-", f"{_W_NS}ptab": "\t", f"{_W_NS}tab": "\t"}


def _paragraph_text(p: object, run_tags: set[str]) -> str:
    """python-docx's `CT_P.text` (runs and hyperlinked runs; t, tab, ptab, cr, line br, noBreakHyphen)
    without an XPath per paragraph and per run."""
    parts: list[str] = []
    for child in p.iterchildren():  # type: ignore[attr-defined]
        if child.tag not in run_tags:
            continue
        runs = [child] if child.tag == f"{_W_NS}r" else child.iterchildren(f"{_W_NS}r")
        for run in runs:
            for e in run.iterchildren():
                if e.tag == f"{_W_NS}t":
                    parts.append(e.text or "")
                elif e.tag == f"{_W_NS}br":
                    if e.get(f"{_W_NS}type", "textWrapping") == "textWrapping":
                        parts.append("\n")
                else:
                    parts.append(_RUN_TEXT.get(e.tag, ""))
    return "".join(parts)


MAX_PDF_PAGES = 300
"""A notice is 1–10 pages, a plan with its annexes a few dozen; pypdf reads ~100 text pages a second."""
MAX_PDF_PAGE_CONTENT = 1 << 20
"""Drawing instructions of one page, decoded: a page of text is 5–50 KB. pypdf's text extraction takes
~2.5 s per MB and grows faster than linearly within one page (5 MB on one page: a minute)."""
MAX_PDF_CONTENT = 8 << 20
"""All pages' drawing instructions together (~20 s of extraction at most)."""


def _pdf(raw: bytes, name: str) -> str:
    from pypdf import PdfReader  # deferred
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PyPdfError

    # pypdf reports recoverable damage as warnings; they are not ours to raise (filterwarnings=error).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                raise InputError(f"{name}: the PDF is password-protected; ask the sender for an unprotected copy")
            pages = _pdf_pages(reader, name)
        except InputError:
            raise
        except FileNotDecryptedError:
            raise InputError(f"{name}: the PDF is password-protected; ask the sender for an "
                             "unprotected copy") from None
        except LimitReachedError as exc:  # a stream inflating past pypdf's own limit (75 MB)
            raise InputError(f"{name}: refused: a part of the PDF unpacks past pypdf's limit (a decompression "
                             f"bomb?): {_short(exc)}") from None
        except NotImplementedError as exc:  # a stream filter pypdf lacks ("Unsupported filter /JBIG2…")
            raise InputError(f"{name}: the PDF uses something studio cannot read ({_short(exc)}); print it to a new "
                             "PDF or send the text") from None
        # PyPdfError: pypdf's base class (LimitReachedError, PdfReadError and others are not all PdfReadError).
        # AssertionError: found by fuzz_pdf, pypdf asserts on some broken object graphs ("mypy").
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError) as exc:
            raise InputError(f"{name}: not a readable PDF (corrupt or truncated): {_short(exc)}") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise InputError(f"{name}: the PDF has no text layer (a scan?); it needs OCR or a text copy")
    return text


def _short(exc: BaseException) -> str:
    """A library's message, cut: a fuzzed file can put kilobytes of itself into one."""
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"


def _pdf_pages(reader: object, name: str) -> list[str]:
    """The text of every page, refusing at once (before extracting anything) past the limits above."""
    pages = reader.pages  # type: ignore[attr-defined]
    if len(pages) > MAX_PDF_PAGES:
        raise InputError(f"{name}: refused: {len(pages)} pages, over the {MAX_PDF_PAGES}-page limit for one "
                         "notice; send the notice itself as its own file")
    total = 0
    for number, page in enumerate(pages, start=1):
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        if size > MAX_PDF_PAGE_CONTENT:
            raise InputError(f"{name}: refused: page {number} holds {size} bytes of drawing instructions, over "
                             f"the {MAX_PDF_PAGE_CONTENT} byte limit for one page (a map or drawing, not text)")
        total += size
        if total > MAX_PDF_CONTENT:
            raise InputError(f"{name}: refused: its pages hold more than {MAX_PDF_CONTENT} bytes of drawing "
                             f"instructions (the limit for one notice), {total} by page {number}")
    return [page.extract_text() or "" for page in pages]
