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
import re
import unicodedata
import warnings
import zipfile
import zlib
from pathlib import Path

from studio.errors import InputError
from studio.ingest import ParsedEntry, input_id, read_input
from studio.models import Priority, SourceItem, nfc

SOURCE = "tai-lieu"
SUFFIXES = (".txt", ".md", ".markdown", ".docx", ".pdf")
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
        title, paragraphs, head = _split_lines(_decode(raw, name), markdown=suffix != ".txt")
    else:
        raise InputError(f"{name}: {suffix or 'no suffix'} is not a document type studio reads; "
                         f"expected one of {', '.join(SUFFIXES)}")
    if not title:
        raise InputError(f"{name}: the document is empty (no text)")
    body = "\n\n".join(paragraphs)
    if not body.strip():
        raise InputError(f"{name}: the document has a title ({title!r}) but no body")
    item = SourceItem(source=SOURCE, source_id=input_id(name, raw), title=title, body=body,
                      priority=_priority(head), attachments=(Path(name).name,))
    return [ParsedEntry(location=name, item=item)]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _priority(lines: list[str]) -> Priority:
    """An urgency mark standing alone on one of the first lines ('KHẨN', 'HỎA TỐC')."""
    best = Priority.THONG_THUONG
    for line in lines:
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


# Spans are bounded ({1,300}): unbounded, a long line of "[" or "*a " made these quadratic (minutes per line).
_MD_INLINE = ((re.compile(r"!\[([^\]]{0,300})\]\([^)]{0,2000}\)"), r"\1"),
              (re.compile(r"\[([^\]]{1,300})\]\([^)]{0,2000}\)"), r"\1"),
              (re.compile(r"(\*\*|__)(.{1,300}?)\1"), r"\2"), (re.compile(r"(?<!\w)[*_](.{1,300}?)[*_](?!\w)"), r"\1"),
              (re.compile(r"`([^`]{0,300})`"), r"\1"))


def _clean_markdown(line: str) -> str:
    line = re.sub(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+)", "", line)
    for pattern, repl in _MD_INLINE:
        line = pattern.sub(repl, line)
    return line


_DOC_TYPES = ("thong bao", "cong van", "ke hoach", "quyet dinh", "giay moi", "to trinh", "chi thi", "bao cao")


def _is_mark(line: str) -> bool:
    """A line holding only an urgency mark ('KHẨN', 'HỎA TỐC'): not a title."""
    folded = _fold(line).strip(" .:!-*")
    return folded in ("khan", "thuong khan", "hoa toc", "hoa toc hen gio")


def pick_title(lines: list[str]) -> tuple[str, int]:
    """The title and the index of the first body line: the first line that is not an urgency mark;
    a bare document-type word ('THÔNG BÁO') takes the next line as its subject."""
    texts = [(i, " ".join(ln.split())) for i, ln in enumerate(lines) if ln.strip()]
    texts = [(i, t) for i, t in texts if not _is_mark(t)]
    if not texts:
        return "", len(lines)
    i, title = texts[0]
    if _fold(title).strip(" .:") in _DOC_TYPES and len(texts) > 1:
        j, subject = texts[1]
        subject = re.sub(r"^(V|v)ề việc\s+", "về việc ", subject)
        word = title.strip(" .:").capitalize()
        return f"{word} {subject[:1].lower()}{subject[1:]}", j + 1
    return title.rstrip(":"), i + 1


def _head(lines: list[str]) -> list[str]:
    """The first lines with text: where an urgency mark stands."""
    return [ln for ln in lines if ln.strip()][:12]


def _split_lines(text: str, *, markdown: bool) -> tuple[str, list[str], list[str]]:
    """The title (see `pick_title`); the lines after it → paragraphs (blank lines separate them)."""
    text = nfc(text).replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    lines = text.split("\n")
    if markdown:
        lines = [_clean_markdown(ln) for ln in lines]
    title, start = pick_title(lines)
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", "\n".join(lines[start:]))]
    return title, [p for p in paragraphs if p], _head(lines)


MAX_DOCX_UNZIPPED = 256 * 1024 * 1024
"""What a .docx may unpack to in all (python-docx holds every part in memory): far above any notice
with photos, far below a zip bomb (a 1 MB file whose document.xml inflates to gigabytes)."""
MAX_DOCX_XML_PART = 64 * 1024 * 1024
"""One XML part (document.xml) unpacked: lxml builds a tree several times this size."""


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
        raise InputError(f"{name}: the .docx is damaged: {exc}") from None
    paragraphs: list[str] = []
    blocks = [(p.style.name if p.style is not None else "", p.text) for p in document.paragraphs]
    for table in document.tables:  # notices put schedules in tables: read them row by row
        for row in table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            blocks.append(("", ", ".join(dict.fromkeys(c for c in cells if c))))
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


def _pdf(raw: bytes, name: str) -> str:
    from pypdf import PdfReader  # deferred
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    # pypdf reports recoverable damage as warnings; they are not ours to raise (filterwarnings=error).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and not reader.decrypt(""):
                raise InputError(f"{name}: the PDF is password-protected; ask the sender for an unprotected copy")
            pages = [page.extract_text() or "" for page in reader.pages]
        except InputError:
            raise
        except FileNotDecryptedError:
            raise InputError(f"{name}: the PDF is password-protected; ask the sender for an "
                             "unprotected copy") from None
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise InputError(f"{name}: not a readable PDF (corrupt or truncated): {exc}") from None
    text = "\n\n".join(pages)
    if not text.strip():
        raise InputError(f"{name}: the PDF has no text layer (a scan?); it needs OCR or a text copy")
    return text
