"""Hostile inputs to every ingest parser: each gives a clear InputError naming the file, or parses;
never another exception, a hang or a memory blow-up.

All hostile files are generated in tmp_path and are small on disk (the zip bomb is ~1 MB and declares
1 GiB). The sweep at the end mutates the committed samples (truncation at seeded random points, byte
flips, re-encodings, NFD) and counts what it tried.
"""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
import time
import unicodedata
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio.errors import InputError, StudioError
from studio.ingest import parse_bytes, parse_target

DATA = Path(__file__).resolve().parent.parent / "data"
DOCX = DATA / "documents" / "thong-bao-tiem-chung.docx"
SAMPLES = sorted([*DATA.glob("cap/*.xml"), *DATA.glob("feeds/*"), *DATA.glob("documents/*")])
RSS_ITEM = ('<rss version="2.0"><channel><link>https://xa.example.invalid</link><item><title>Họp dân</title>'
            "<description>Tối nay họp dân.</description>{extra}</item></channel></rss>")


def _refused(path: Path, pattern: str = "") -> InputError:
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert path.name in info.value.message
    if pattern:
        assert pattern in info.value.message, info.value.message
    return info.value


# ------------------------------------------------------------------ defects found (regressions)

@pytest.mark.parametrize("suffix", [".xml", ".rss", ".cap"])
def test_unknown_xml_encoding_is_an_input_error(tmp_path: Path, suffix: str) -> None:
    # Was: LookupError("unknown encoding: x-bogus") out of expat, a traceback in `studio ingest`.
    path = tmp_path / f"bogus{suffix}"
    path.write_bytes(b'<?xml version="1.0" encoding="x-bogus"?>' + RSS_ITEM.format(extra="").encode())
    _refused(path, "unknown encoding")


@pytest.mark.parametrize("body, pattern", [
    (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    (b'{"source": "a", "id": ' + b"9" * 5000 + b', "title": "t", "body": "b"}', "invalid JSON"),
], ids=["deep-array", "deep-object", "5000-digit-int"])
def test_json_nesting_and_huge_numbers_are_input_errors(tmp_path: Path, body: bytes, pattern: str) -> None:
    # Was: RecursionError / ValueError (int digit limit) escaping items.parse_bytes.
    path = tmp_path / "items.json"
    path.write_bytes(body)
    _refused(path, pattern)


def test_feed_date_out_of_range_is_dropped_not_raised(tmp_path: Path) -> None:
    # Was: ValueError("year 0 is out of range") from datetime.fromtimestamp for the whole feed.
    path = tmp_path / "nam-0.rss"
    path.write_text(RSS_ITEM.format(extra="<pubDate>0001-01-01T00:00:00+14:00</pubDate>"), encoding="utf-8")
    _, (entry,) = parse_target(path)
    assert entry.item is not None and entry.item.published is None


def test_unparseable_feed_date_gives_no_date_and_no_warning(tmp_path: Path) -> None:
    # Was: feedparser's DeprecationWarning (an error under filterwarnings=error) from entry.get(
    # "updated_parsed") when a <pubDate> is present but unparseable. Found by the property test below.
    path = tmp_path / "ngay-hong.rss"
    path.write_text(RSS_ITEM.format(extra="<pubDate>không rõ</pubDate>"), encoding="utf-8")
    _, (entry,) = parse_target(path)
    assert entry.item is not None and entry.item.published is None


def test_broken_utf16_text_is_an_input_error(tmp_path: Path) -> None:
    # Was: UnicodeDecodeError from documents._decode (odd byte count after a UTF-16 BOM).
    path = tmp_path / "u16.txt"
    path.write_bytes(b"\xff\xfe" + "Thông báo\n\nHọp".encode("utf-16-le") + b"x")
    _refused(path, "broken UTF-16")


@pytest.mark.parametrize("line", ["[" * 50_000 + "x" + "](" * 50_000, "*a " * 30_000, "![" * 50_000],
                         ids=["brackets", "emphasis", "images"])
def test_markdown_inline_cleanup_is_linear(tmp_path: Path, line: str) -> None:
    # Was: 20–35 s for one 100 KB line (unbounded lazy spans in the inline-markdown regexes).
    path = tmp_path / "dai.md"
    path.write_text("# Lịch họp dân\n\n" + line + "\n", encoding="utf-8")
    t0 = time.perf_counter()
    _, (entry,) = parse_target(path)
    assert time.perf_counter() - t0 < 3.0
    assert entry.item is not None and entry.item.title == "Lịch họp dân"


def _raw_deflate_repeat(chunk: bytes, times: int) -> bytes:
    """`chunk` * `times` as a raw deflate stream, built without compressing it all: each chunk is a
    full-flushed (self-contained) run of blocks, so the compressed run can be repeated."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    return block * times + b"\x03\x00"  # an empty final block


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of already-deflated members (name, data, crc, declared size), written by hand."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, size in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 33, crc, len(data), size, len(encoded), 0))
        out.write(encoded + data)
        central.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 33, crc, len(data), size,
                                  len(encoded), 0, 0, 0, 0, 0, offset))
        central.write(encoded)
    start = out.tell()
    out.write(central.getvalue())
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central.getvalue()),
                          start, 0))
    return out.getvalue()


def _bomb_docx(declared: int | None = None) -> bytes:
    """The sample .docx with word/document.xml replaced by 1 GiB of spaces (~1 MB compressed)."""
    chunk, times = b" " * (1 << 20), 1024
    crc = 0
    for _ in range(times):
        crc = zlib.crc32(chunk, crc)
    members = []
    with zipfile.ZipFile(DOCX) as src:
        for info in src.infolist():
            if info.filename == "word/document.xml":
                members.append((info.filename, _raw_deflate_repeat(chunk, times), crc,
                                declared if declared is not None else len(chunk) * times))
            else:
                data = src.read(info.filename)
                comp = zlib.compressobj(9, zlib.DEFLATED, -15)
                members.append((info.filename, comp.compress(data) + comp.flush(), zlib.crc32(data), len(data)))
    return _zip(members)


def test_the_bomb_is_real() -> None:
    # The generator is honest: a zip reader inflates document.xml to exactly 1 GiB with a good CRC.
    data = _bomb_docx()
    assert len(data) < 2_000_000
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("word/document.xml")
        assert info.file_size == 1 << 30
        with archive.open(info) as member:
            assert member.read(1 << 20) == b" " * (1 << 20)


_LIMITED_PARSE = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))\n"
    "from studio.errors import InputError\n"
    "from studio.ingest import parse_target\n"
    "try:\n"
    "    parse_target(sys.argv[1])\n"
    "except InputError as exc:\n"
    "    print(exc.message)\n"
    "    sys.exit(0)\n"
    "sys.exit(5)\n"
)


def _parse_with_768_mb(path: Path) -> str:
    """Parse in a child limited to 768 MB of address space: a regression fails with MemoryError there
    instead of swapping the machine. Returns the InputError message."""
    done = subprocess.run([sys.executable, "-c", _LIMITED_PARSE, str(path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_zip_bomb_docx_is_refused_by_size_within_bounded_memory(tmp_path: Path) -> None:
    # Was: python-docx inflated the whole 1 GiB part, then tried to build an lxml tree of it.
    path = tmp_path / "bom.docx"
    path.write_bytes(_bomb_docx())
    assert "bom.docx: refused: the .docx unpacks to" in _parse_with_768_mb(path)


def test_zip_bomb_with_a_lying_size_is_refused_within_bounded_memory(tmp_path: Path) -> None:
    # The header says 5,000 bytes, the stream inflates to 1 GiB. Was: zipfile's read() (as python-docx
    # calls it) inflated the whole 1 GiB before truncating to 5,000 and failing the CRC (~3 s, 1 GiB
    # of RAM). Now members are inflated in 64 KB chunks first, so it stops after ~5 KB.
    path = tmp_path / "noi-doi.docx"
    path.write_bytes(_bomb_docx(declared=5000))
    t0 = time.perf_counter()
    assert "noi-doi.docx: not a readable .docx" in _parse_with_768_mb(path)
    assert time.perf_counter() - t0 < 2.5  # the whole child, imports included; the old path took ~3 s more


def test_damaged_deflate_stream_in_a_docx_is_an_input_error(tmp_path: Path) -> None:
    # Was: zlib.error ("invalid distance too far back") escaping documents._docx.
    raw = bytearray(DOCX.read_bytes())
    with zipfile.ZipFile(DOCX) as src:
        info = src.getinfo("word/document.xml")
    data_start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(8):  # scramble the middle of the compressed stream
        raw[data_start + info.compress_size // 2 + k] ^= 0xA5
    path = tmp_path / "hong-nen.docx"
    path.write_bytes(bytes(raw))
    _refused(path, "not a readable .docx")


# ------------------------------------------------------------------ held already (guards)

def _docx_with_document(document: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(DOCX) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, document if info.filename == "word/document.xml" else src.read(info))
    return buf.getvalue()


def test_entities_inside_a_docx_are_not_expanded(tmp_path: Path) -> None:
    with zipfile.ZipFile(DOCX) as src:
        body = src.read("word/document.xml").split(b"?>", 1)[1]
    laughs = "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefg", "bcdefgh", strict=True))
    doctype = f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa">{laughs}' \
              '<!ENTITY x SYSTEM "file:///etc/passwd">]>'.encode()
    hostile = body.replace(b"<w:body>", b"<w:body><w:p><w:r><w:t>&h;&x;</w:t></w:r></w:p>", 1)
    path = tmp_path / "thuc-the.docx"
    path.write_bytes(_docx_with_document(doctype + hostile))
    try:
        _, entries = parse_target(path)
    except InputError as exc:
        assert path.name in exc.message
        return
    text = " ".join(e.item.title + e.item.body for e in entries if e.item)
    assert "aaaaaaaaaa" not in text and "root:" not in text


@pytest.mark.parametrize("suffix", [".json", ".xml", ".cap", ".rss", ".docx", ".pdf", ".txt", ".md"])
@pytest.mark.parametrize("content", [b"", b" \n\t", b"\xef\xbb\xbf", b"\x00" * 64],
                         ids=["empty", "blank", "bom", "nul"])
def test_empty_and_blank_files(tmp_path: Path, suffix: str, content: bytes) -> None:
    path = tmp_path / f"rong{suffix}"
    path.write_bytes(content)
    _refused(path)


def test_nfd_inputs_come_out_nfc(tmp_path: Path) -> None:
    for sample in SAMPLES:
        if sample.suffix not in (".rss", ".txt", ".md") and "lu-song-tra-khuc.xml" != sample.name:
            continue
        path = tmp_path / f"nfd-{sample.name}"
        path.write_bytes(unicodedata.normalize("NFD", sample.read_text(encoding="utf-8")).encode())
        _, entries = parse_target(path)
        for entry in entries:
            if entry.item is not None:
                assert unicodedata.is_normalized("NFC", entry.item.title + entry.item.body), sample.name


# ------------------------------------------------------------------ the mutation sweep

def _mutations(rnd: random.Random) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    for sample in SAMPLES:
        raw = sample.read_bytes()
        for k, cut in enumerate(sorted(rnd.sample(range(1, len(raw)), min(12, len(raw) - 1)))):
            out.append((f"cut{k}-{sample.name}", raw[:cut]))
        for k in range(4):
            flipped = bytearray(raw)
            for _ in range(8):
                flipped[rnd.randrange(len(flipped))] = rnd.randrange(256)
            out.append((f"flip{k}-{sample.name}", bytes(flipped)))
        if sample.suffix in (".xml", ".rss", ".txt", ".md"):
            text = raw.decode("utf-8")
            for codec in ("utf-16", "utf-16-le", "utf-32", "cp1258", "latin-1"):
                out.append((f"{codec}-{sample.name}", text.encode(codec, "replace")))
            for decl in ("ISO-8859-1", "x-bogus", "UTF-16"):
                out.append((f"decl-{decl}-{sample.name}",
                            text.replace('encoding="UTF-8"', f'encoding="{decl}"')
                            .replace('encoding="utf-8"', f'encoding="{decl}"').encode()))
    return out


def test_mutated_samples_parse_or_fail_cleanly(tmp_path: Path) -> None:
    rnd = random.Random(20261128)
    cases = _mutations(rnd)
    assert len(cases) > 250  # figures in docs/reliability.md
    problems = []
    for name, data in cases:
        path = tmp_path / name
        path.write_bytes(data)
        t0 = time.perf_counter()
        try:
            parse_target(path)
        except InputError as exc:
            if name not in exc.message:
                problems.append((name, "message does not name the file", exc.message[:100]))
        except StudioError as exc:
            problems.append((name, type(exc).__name__, exc.message[:100]))
        except Exception as exc:  # noqa: BLE001 - the point is to catch anything else
            problems.append((name, type(exc).__name__, str(exc)[:100]))
        if time.perf_counter() - t0 > 5:
            problems.append((name, "slow", time.perf_counter() - t0))
    assert not problems, problems


# ------------------------------------------------------------------ properties (hypothesis)

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["source", "id", "title", "body", "priority", "category", "areas", "published",
                         "valid_until", "attachments", "items", "x"]) | st.text(max_size=5), inner, max_size=6),
    max_leaves=20)
_PROPS = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPS
@given(_JSON)
def test_any_json_value_gives_items_or_input_errors(value: object) -> None:
    try:
        entries = parse_bytes("items", json.dumps(value).encode(), name="x.json")
    except InputError as exc:
        assert "x.json" in exc.message
    else:
        assert all((e.item is None) != (not e.error) for e in entries)


@_PROPS
@given(st.sampled_from(["items", "feed", "cap", "document"]), st.binary(max_size=300),
       st.sampled_from(["a.txt", "a.md", "a.docx", "a.pdf", "a.json", "a.xml"]))
def test_any_bytes_give_entries_or_an_input_error(kind: str, raw: bytes, name: str) -> None:
    try:
        parse_bytes(kind, raw, name=name)
    except InputError as exc:
        assert name in exc.message


@_PROPS
@given(st.text(max_size=200))
def test_any_feed_summary_and_date_text(body: str) -> None:
    raw = ('<rss version="2.0"><channel><item><title>t</title><description><![CDATA['
           + body.replace("]]>", "") + "]]></description><pubDate>" + body[:30].replace("<", "").replace("&", "")
           + "</pubDate></item></channel></rss>").encode("utf-8", "surrogatepass")
    try:
        parse_bytes("feed", raw, name="a.rss")
    except InputError as exc:
        assert "a.rss" in exc.message
