"""Fixtures for batch conversion and the job queue: a workspace with the fake voice, a signing key and
a cheap destination profile; notices in several formats; a real redis-server on a loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.config import Workspace

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = REPO / "tests" / "data" / "documents"
FAKE_VOICE = 'id = "fake"\nname = "Giọng thử"\nengine = "fake"\n'
# Real path, cheap destination: 16 kHz mono WAV, no filter, no compressor; still normalized and re-measured.
FAST_PROFILE = """[nhanh]
name = "Thử nhanh"
container = "wav"
sample_rate = 16000
channels = 1
bit_depth = 16
target_lufs = -16.0
true_peak_dbtp = -1.5
"""


@pytest.fixture
def jobs_workspace(workspace: Workspace) -> Workspace:
    """The test workspace with the fake voice, the 'nhanh' profile and the issuer's signing key."""
    from studio.package.signing import generate_key

    (workspace.voices_dir / "fake.toml").write_text(FAKE_VOICE, encoding="utf-8")
    (workspace.home / "profiles").mkdir(exist_ok=True)
    (workspace.home / "profiles" / "nhanh.toml").write_text(FAST_PROFILE, encoding="utf-8")
    generate_key(workspace.keys_dir, workspace.settings.issuer)
    return workspace


def write_txt(path: Path, n: int, *, words: int = 6) -> Path:
    body = " ".join(["Bà con chú ý"] * max(1, words // 3))
    path.write_text(
        f"Thông báo số {n}\n\nHọp tổ dân phố số {n} lúc {n % 12 + 7} giờ. {body}.\n", encoding="utf-8"
    )
    return path


def write_docx(path: Path, n: int) -> Path:
    import docx

    document = docx.Document()
    document.add_heading(f"Thông báo tiêm chủng đợt {n}", level=1)
    document.add_paragraph(f"Trạm y tế xã tiêm chủng cho trẻ em thôn {n} vào sáng thứ Hai.")
    document.save(str(path))
    return path


def write_pdf(path: Path, n: int) -> Path:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)  # a core font: ASCII text, no font file needed
    for line in (f"Lich cat dien so {n}", "", f"Ngung cap dien thon {n} tu 7 gio den 9 gio sang."):
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


@pytest.fixture
def mixed_notices(tmp_path: Path) -> list[Path]:
    """20 notices: 8 txt, 6 docx, 5 pdf (one the real Vietnamese PDF of tests/data), one corrupt docx."""
    folder = tmp_path / "notices"
    folder.mkdir()
    paths = [write_txt(folder / f"tb-{n:02d}.txt", n) for n in range(8)]
    paths += [write_docx(folder / f"tc-{n:02d}.docx", n) for n in range(6)]
    paths += [write_pdf(folder / f"cd-{n:02d}.pdf", n) for n in range(4)]
    paths.append(Path(shutil.copy(DOCUMENTS / "lich-cat-dien.pdf", folder / "lich-cat-dien.pdf")))
    corrupt = folder / "hong.docx"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip archive")
    paths.append(corrupt)
    return paths


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real redis-server on a free loopback port, for this test only.

    Without redis-server the test is skipped, except under CI (CI=true), where that is a failure:
    .ci/run installs Debian's redis-server, so its absence there means the scale-out path went untested.
    """
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "redis-server is not installed, and CI must run the Redis queue tests "
                "(.ci/run installs it with apt-get install redis-server)"
            )
        pytest.skip("redis-server is not installed (apt-get install redis-server); CI runs these tests")
    port = _free_port()
    data = tmp_path / "redis"
    data.mkdir()
    proc = subprocess.Popen(
        [
            exe,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(data),
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                proc.kill()
                pytest.fail(f"redis-server did not start on port {port}: {err[-500:]}")
            time.sleep(0.05)
    client.close()
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()


def start_worker(home: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    """`studio worker` in its own process (its own process group, so a test can kill it alone)."""
    fh = log.open("ab")
    cmd = [
        sys.executable,
        "-c",
        "import sys; from studio.cli import main; sys.exit(main(prog_name='studio'))",
        "--home",
        str(home),
        "worker",
        *args,
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=fh,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "STUDIO_HOME": str(home)},
    )
    fh.close()
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
