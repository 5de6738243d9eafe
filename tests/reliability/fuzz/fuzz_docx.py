"""The .docx reader, zip structure included: the text or an InputError naming the file, nothing else.

The first byte picks how the input becomes a .docx: 0 the bytes as they are; 1 the committed sample
with one member (picked by the second byte) replaced by the rest of the input; 2 a zip built from the
input (member count, names among the parts Word uses or fuzzed, contents, stored or deflated).
"""

from __future__ import annotations

import io
import warnings
import zipfile

import _harness
import atheris

with atheris.instrument_imports(include=_harness.instrumented("docx", "zipfile")):
    from studio.errors import InputError
    from studio.ingest import documents

SAMPLE = _harness.ROOT / "tests" / "data" / "documents" / "thong-bao-tiem-chung.docx"
with zipfile.ZipFile(SAMPLE) as _src:
    MEMBERS = [(info.filename, _src.read(info.filename)) for info in _src.infolist()]
NAMES = [name for name, _ in MEMBERS] + ["word/media/image1.png", "../evil.xml", "word/document.xml"]


def _zip(members: list[tuple[str, bytes, int]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as archive:
        warnings.simplefilter("ignore")  # "Duplicate name": a zip with two members of one name is fine to test
        for name, data, method in members:
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def make_docx(data: bytes) -> bytes:
    if not data:
        return b""
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        return rest
    if mode == 1 and rest:
        index = rest[0] % len(MEMBERS)
        return _zip([(name, rest[1:] if i == index else body, zipfile.ZIP_DEFLATED)
                     for i, (name, body) in enumerate(MEMBERS)])
    fdp = atheris.FuzzedDataProvider(rest)
    members = []
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        name = NAMES[fdp.ConsumeIntInRange(0, len(NAMES) - 1)] if fdp.ConsumeBool() else \
            fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(1, 40)) or "x"
        base = dict(MEMBERS).get(name, b"")
        body = base if fdp.ConsumeBool() and base else fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4096))
        members.append((name, body, zipfile.ZIP_DEFLATED if fdp.ConsumeBool() else zipfile.ZIP_STORED))
    return _zip(members)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    try:
        raw = make_docx(data)
    except (ValueError, UnicodeEncodeError):  # a name zipfile cannot store: not an input to test
        return
    try:
        (entry,) = documents.parse_bytes(raw, name="fuzz.docx")
    except InputError as exc:
        assert "fuzz.docx" in exc.message, exc.message
        return
    assert entry.item is not None and entry.item.title and entry.item.body


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
