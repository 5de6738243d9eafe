"""`studio demo` end to end on embedded defaults, checked with an independent meter (ffmpeg)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.cli import main
from studio.store import Store
from tests.ffmpeg_meter import ebur128


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    home = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(main, ["demo", "--home", str(home)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return home, result.output


def _has_video() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def _package(home: Path) -> Path:
    (package,) = [p for p in (home / "outbox").iterdir() if not p.name.startswith(".")]
    return package


def test_summary_table(demo_home: tuple[Path, str]) -> None:
    home, output = demo_home
    assert "Tin đã nhận (items)" in output and "│ 3 " in output
    assert _package(home).name in output.replace("\n", "").replace("│", "").replace(" ", "")


def test_manifest_lists_every_file_with_size_and_sha256(demo_home: tuple[Path, str]) -> None:
    package = _package(demo_home[0])
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.name for p in package.iterdir()} - {"manifest.json", "manifest.json.minisig"}
    renditions = {"loa.mp3", "master.wav", "web.mp3"} | ({"bang-tin.mp4"} if _has_video() else set())
    assert (
        set(listed)
        == on_disk
        == renditions | {"bulletin.txt", "bulletin.ninjs.json", "captions.vtt", "captions.srt"}
    )
    for name, entry in listed.items():
        data = (package / name).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["priority"] == "khan-cap" and manifest["sequence"] == 1
    assert [s["id"] for s in manifest["source_items"]][0] == "PCTT-2026-117"
    script = (package / "bulletin.txt").read_text(encoding="utf-8")
    assert "Bộ TT&TT" in script and "bão số 5" in script


def test_loudspeaker_mp3_measures_minus_16_lufs_with_ffmpeg(demo_home: tuple[Path, str], ffmpeg: str) -> None:
    package = _package(demo_home[0])
    measured = ebur128(ffmpeg, package / "loa.mp3")
    assert measured["integrated_lufs"] == pytest.approx(-16.0, abs=1.0)
    assert measured["true_peak_dbtp"] <= -1.5 + 0.3  # ffmpeg's own true-peak estimate, 4× oversampling
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    loa = next(r for r in manifest["renditions"] if r["profile"] == "loa")
    assert loa["integrated_lufs"] == pytest.approx(measured["integrated_lufs"], abs=0.3)
    assert loa["true_peak_dbtp"] <= -1.5
    assert loa["duration_s"] > 60  # three real items read aloud, not a tone


def test_master_is_48k_wav_at_broadcast_level(demo_home: tuple[Path, str], ffmpeg: str) -> None:
    import soundfile as sf

    package = _package(demo_home[0])
    info = sf.info(str(package / "master.wav"))
    assert info.samplerate == 48000 and info.format == "WAV"
    assert ebur128(ffmpeg, package / "master.wav")["integrated_lufs"] == pytest.approx(-23.0, abs=0.5)


def test_store_records_items_bulletin_package(demo_home: tuple[Path, str]) -> None:
    home = demo_home[0]
    with Store(home / "studio.db") as store:
        assert len(store.items()) == 3
        assert len(store.bulletin_ids()) == 1
        (pkg,) = store.packages()
        assert pkg.package_id == _package(home).name
        assert {e["action"] for e in store.audit_log()} >= {
            "item.add",
            "bulletin.create",
            "package.build",
            "bulletin.approve",
        }


def test_unknown_voice_fails_before_any_work_and_loses_nothing(demo_home: tuple[Path, str]) -> None:
    """A second demo run with a voice that does not exist stops with exit 2 and the voice list; the
    items and the package of the first run are untouched and nothing new is stored."""
    home = demo_home[0]
    result = CliRunner().invoke(
        main, ["--home", str(home), "demo", "--voice", "fake"], catch_exceptions=False
    )
    assert result.exit_code == 2
    assert "voice 'fake' does not exist; available: " in result.output
    with Store(home / "studio.db") as store:
        assert len(store.items()) == 3 and len(store.packages()) == 1


def test_demo_package_verifies_with_the_emergency_demo_key(
    demo_home: tuple[Path, str], tmp_path: Path
) -> None:
    """The demo bulletin is khẩn cấp: signed with the auto-created emergency key, it passes the verifier
    (and Debian's minisign where installed); the routine demo key alone is not trusted for it."""
    import shutil
    import subprocess

    home = demo_home[0]
    package = _package(home)
    emergency = home / "keys" / "demo-khan-cap.pub"
    assert (home / "keys" / "demo-khan-cap.key").stat().st_mode & 0o777 == 0o600
    state = tmp_path / "state.json"
    runner = CliRunner(mix_stderr=False)
    ok = runner.invoke(
        main, ["package", "verify", str(package), "--trust", str(emergency), "--state", str(state)]
    )
    assert ok.exit_code == 0, ok.stderr
    replay = runner.invoke(
        main, ["package", "verify", str(package), "--trust", str(emergency), "--state", str(state)]
    )
    assert replay.exit_code == 1 and "replay:" in replay.stderr
    exe = shutil.which("minisign")
    if exe is not None:
        proc = subprocess.run(
            [exe, "-V", "-p", str(emergency), "-m", str(package / "manifest.json")],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0 and "priority=khan-cap" in proc.stdout, proc.stderr


def test_demo_ninjs_validates(demo_home: tuple[Path, str]) -> None:
    from tests.package.test_documents import _ninjs_validator

    doc = json.loads((_package(demo_home[0]) / "bulletin.ninjs.json").read_text(encoding="utf-8"))
    assert [e.message for e in _ninjs_validator().iter_errors(doc)] == []
    assert doc["urgency"] == 1 and [a["uri"] for a in doc["associations"]][0].endswith("PCTT-2026-117")
