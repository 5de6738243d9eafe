"""Coverage-guided fuzzing (atheris, libFuzzer) of the parsers that read what arrives from outside.

Each harness in tests/reliability/fuzz/ runs in a child process with a seed corpus made from
tests/data and samples/, a run count, a time cap and an RSS limit. Any exception other than the
parser's own InputError/ManifestError/VerificationError, a failed property, a per-input timeout or
running past the RSS limit is a crash: the test fails and prints the reproducer (its bytes, and the
command that replays it). CI: 2 s (at most 3,000 runs) per harness, only studio's own code instrumented;
STUDIO_LONG=1: 60 s per harness, with the libraries each drives instrumented too (pypdf, python-docx,
zipfile, feedparser, defusedxml, json): STUDIO_FUZZ_DEEP=1 in the child.
"""

from __future__ import annotations

import base64
import os
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

atheris = pytest.importorskip("atheris", reason="atheris is not installed (pip install -e '.[test]')")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / "tests" / "data"
LONG = os.environ.get("STUDIO_LONG") == "1"
RUNS = 1_000_000_000 if LONG else 3000
MAX_TIME_S = 60 if LONG else 2
AS_LIMIT_BYTES = 3 << 30
"""Memory bound of a fuzz child (RLIMIT_AS): an input that needs more ends in a MemoryError, which the harness
reports as a crash with its reproducer. libFuzzer's own -rss_limit_mb cannot be used here: it reads the peak
RSS from getrusage, which Linux carries across fork+exec, so a child of a pytest process that once held 2 GB
(the demo test) starts "over the limit" before running one input."""


def _bound_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT_BYTES, AS_LIMIT_BYTES))


def _text_seeds() -> list[bytes]:
    lines = []
    for path in sorted((DATA / "text_cases").glob("*.txt")):
        lines += [ln.split("\t")[0] for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [b"\x00\x01" + ln.encode("utf-8") for ln in lines[:200]]


def _docx_seeds() -> list[bytes]:
    sample = (DATA / "documents" / "thong-bao-tiem-chung.docx").read_bytes()
    with zipfile.ZipFile(DATA / "documents" / "thong-bao-tiem-chung.docx") as archive:
        names = archive.namelist()
        document = archive.read("word/document.xml")
    return [b"\x00" + sample, b"\x01" + bytes([names.index("word/document.xml")]) + document, b"\x02"]


def _pdf_seeds() -> list[bytes]:
    from tests.reliability import test_big_inputs as big

    small = [big._pdf([big._text_page(["THONG BAO lich tiem chung", big.ASCII_SENTENCE.strip()])] * 2),
             big._pdf([big._text_page(["THONG BAO"])], b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 "
                      b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length 3 >>\nstream\nabc\nendstream")]
    return [(DATA / "documents" / "lich-cat-dien.pdf").read_bytes(), *small]


def _files(*patterns: str) -> list[bytes]:
    return [p.read_bytes() for pattern in patterns for p in sorted(ROOT.glob(pattern))]


SEEDS = {
    "text": _text_seeds,
    "items": lambda: _files("samples/items/*.json"),
    "feeds": lambda: _files("tests/data/feeds/*"),
    "cap": lambda: _files("tests/data/cap/*.xml"),
    "docx": _docx_seeds,
    "pdf": _pdf_seeds,
    "manifest": lambda: [],  # the package's own manifest, added by the fixture
}


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from studio.config import open_workspace
    from tests.package.helpers import make_package

    ws = open_workspace(tmp_path_factory.mktemp("fuzz-ws"))
    return make_package(ws, profiles=("loa",)).path, ws.keys_dir


def _run(harness: str, tmp_path: Path, seeds: list[bytes], env: dict[str, str]) -> subprocess.CompletedProcess:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i:04d}").write_bytes(seed)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    cmd = [sys.executable, str(HERE / "fuzz" / f"fuzz_{harness}.py"), f"-runs={RUNS}",
           f"-max_total_time={MAX_TIME_S}", "-rss_limit_mb=0", "-timeout=20",
           "-max_len=65536", f"-artifact_prefix={artifacts}/", "-print_final_stats=1", str(corpus)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE / "fuzz", timeout=MAX_TIME_S * 4 + 120,
                          preexec_fn=_bound_memory,
                          env={**os.environ, "STUDIO_FUZZ_DEEP": "1" if LONG else "0", **env})
    crashes = sorted(artifacts.iterdir())
    if done.returncode != 0 or crashes:
        report = [f"fuzz_{harness} exited {done.returncode}", done.stderr[-6000:]]
        for crash in crashes:  # pytest keeps the tmp folders of its last 3 runs: the file stays to replay
            data = crash.read_bytes()
            keep = crash
            report += [f"reproducer {keep} ({len(data)} bytes): {data[:600]!r}",
                       f"base64: {base64.b64encode(data[:3000]).decode()}",
                       f"replay: {sys.executable} {HERE / 'fuzz' / f'fuzz_{harness}.py'} {keep}"]
        pytest.fail("\n".join(report), pytrace=False)
    return done


def _stats(done: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith(("stat::number_of_executed_units",
                                                                     "stat::peak_rss_mb", "Done "))]
    return "; ".join(lines)


@pytest.mark.parametrize("harness", ["text", "items", "feeds", "cap", "docx", "pdf", "manifest"])
def test_fuzz(harness: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = {}
    seeds = SEEDS[harness]()
    if harness == "manifest":
        folder, keys = request.getfixturevalue("package")
        work = tmp_path / "work"
        work.mkdir()
        env = {"STUDIO_FUZZ_PACKAGE": str(folder), "STUDIO_FUZZ_KEYS": str(keys), "STUDIO_FUZZ_WORK": str(work)}
        seeds = [(folder / "manifest.json").read_bytes(), b"{}", b"[]"]
    done = _run(harness, tmp_path, seeds, env)
    executed = [ln for ln in done.stderr.splitlines() if ln.startswith("stat::number_of_executed_units")]
    assert executed, done.stderr[-3000:]
    runs = int(executed[0].split(":")[-1])
    print(f"fuzz_{harness}: {_stats(done)}")
    assert runs >= len(seeds), f"only {runs} runs: the harness did not get going"


# ------------------------------------------------------------------ crashes found (regressions)

@pytest.mark.parametrize("encoding", ["UTF-7", "utf-32", "Shift_JIS", "gb18030"])
@pytest.mark.parametrize("suffix", [".xml", ".rss"])
def test_multibyte_xml_encoding_is_an_input_error(tmp_path: Path, encoding: str, suffix: str) -> None:
    """Found by fuzz_cap: `<?xml encoding="UTF-7"?>` made expat raise ValueError("multi-byte encodings
    are not supported"), which escaped parse_untrusted (CAP alerts and feeds) as a traceback."""
    from studio.errors import InputError
    from studio.ingest import parse_target

    path = tmp_path / f"canh-bao{suffix}"
    root = ('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>' if suffix == ".xml" else
            '<rss version="2.0"><channel><item><title>a</title><description>b</description></item></channel></rss>')
    path.write_bytes(f'<?xml version="1.0" encoding="{encoding}"?>\n{root}'.encode())
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert path.name in info.value.message and "encoding the XML reader cannot read" in info.value.message


def test_pdf_with_an_unknown_stream_filter_is_an_input_error(tmp_path: Path) -> None:
    """Found by fuzz_pdf: a content stream with a filter pypdf lacks made it raise NotImplementedError
    ("Unsupported filter /…"), which escaped the PDF reader (in extract_text before, now at the
    content-size check) as a traceback."""
    from studio.errors import InputError
    from studio.ingest import parse_target
    from tests.reliability import test_big_inputs as big

    page = big._text_page(["THONG BAO", "Hop dan luc 7 gio"])
    data = big._pdf([page]).replace(b"<< /Length %d >>" % len(page), b"<< /Length %d /Filter /JBIG3 >>" % len(page))
    path = tmp_path / "loc-la.pdf"
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert "loc-la.pdf: the PDF uses something studio cannot read" in info.value.message
    assert "JBIG3" in info.value.message


def test_bogus_marked_section_in_feed_html_is_read_as_text() -> None:
    """Found by fuzz_feeds: html.parser (Python 3.11) raises AssertionError("unknown status keyword")
    on `<![x[`, which escaped `html_to_text` and so the whole feed."""
    from studio.ingest.feeds import html_to_text

    assert html_to_text("<p>Họp dân<![x[ lúc 7 giờ ]]></p><p>Thôn 2</p>") == "Họp dân\n\nThôn 2"


def test_pdf_with_a_reference_inside_a_content_stream_is_an_input_error(tmp_path: Path) -> None:
    """Found by fuzz_pdf: `3 0 R` inside a page's drawing instructions trips pypdf's
    `assert pdf is not None, "mypy"`; the AssertionError escaped the PDF reader."""
    from studio.errors import InputError
    from studio.ingest import parse_target
    from tests.reliability import test_big_inputs as big

    path = tmp_path / "tham-chieu.pdf"
    path.write_bytes(big._pdf([b"BT /F1 10 Tf 40 800 Td (THONG BAO) Tj T* (Hop dan) Tj 3 0 R ET"]))
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert "tham-chieu.pdf: not a readable PDF" in info.value.message


def test_docx_whose_main_part_is_not_a_document_is_an_input_error(tmp_path: Path) -> None:
    """Found by fuzz_docx: a word/document.xml whose root is not <w:document> (here <w:body>) made
    python-docx's element lack `.body`: AttributeError escaped the .docx reader."""
    from studio.errors import InputError
    from studio.ingest import parse_target
    from tests.reliability import test_big_inputs as big

    path = tmp_path / "goc-sai.docx"
    path.write_bytes(big._docx(b'<?xml version="1.0" encoding="UTF-8"?><w:body xmlns:w="http://schemas.'
                               b'openxmlformats.org/wordprocessingml/2006/main"><w:p><w:r><w:t>Thong bao</w:t>'
                               b"</w:r></w:p></w:body>"))
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert "goc-sai.docx: the .docx is damaged: its main part is not a Word document" in info.value.message


def test_docx_style_without_a_value_is_an_input_error(tmp_path: Path) -> None:
    """Found by fuzz_docx: `<w:pStyle/>` without its required w:val made python-docx raise
    docx.oxml.exceptions.InvalidXmlError (not a PythonDocxError), which escaped the .docx reader."""
    from studio.errors import InputError
    from studio.ingest import parse_target
    from tests.reliability import test_big_inputs as big

    path = tmp_path / "kieu-rong.docx"
    body = "<w:p><w:pPr><w:pStyle/></w:pPr><w:r><w:t>Thông báo</w:t></w:r></w:p>" + big._para("Họp dân")
    path.write_bytes(big._docx(big._document_xml(body)))
    with pytest.raises(InputError) as info:
        parse_target(path)
    assert "kieu-rong.docx: the .docx is damaged" in info.value.message and "w:val" in info.value.message
