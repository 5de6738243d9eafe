"""The bang-tin MP4 (title slide + burned Vietnamese captions) and `studio bulletin approve` end to end."""

from __future__ import annotations

import hashlib
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace
from studio.models import Bulletin, Priority, Segment, SourceItem
from studio.package.signing import PublicKey
from studio.package.verify import verify_package
from studio.store import Store
from tests.ffmpeg_meter import ebur128
from tests.package.helpers import make_package, pubkey


def _gray_frame(ffmpeg: str, path: Path, at_s: float) -> np.ndarray:
    proc = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-ss",
            f"{at_s}",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    return np.frombuffer(proc.stdout, dtype=np.uint8).reshape(720, 1280)


def test_bang_tin_mp4_has_h264_aac_broadcast_loudness_and_burned_captions(
    workspace: Workspace, ffmpeg: str
) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="the bang-tin MP4 needs the 'video' extra")
    from studio.package.video import find_font

    try:
        find_font()
    except Exception as exc:  # noqa: BLE001 - the reason is shown
        pytest.skip(str(exc))
    result = make_package(
        workspace, profiles=("bang-tin",), priority=Priority.KHAN_CAP, key_name="kc", emergency_key=True
    )
    mp4 = result.path / "bang-tin.mp4"
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(mp4)], capture_output=True, text=True).stderr
    assert re.search(r"Video: h264 .*1280x720", probe) and re.search(r"Audio: aac .*48000 Hz, stereo", probe)
    measured = ebur128(ffmpeg, mp4)
    assert measured["integrated_lufs"] == pytest.approx(-23.0, abs=0.6)
    (rendition,) = result.manifest.renditions
    assert rendition.video == {
        "width": 1280,
        "height": 720,
        "frame_rate": 5,
        "video_codec": "h264",
        "audio_codec": "aac",
    }
    assert rendition.integrated_lufs == pytest.approx(measured["integrated_lufs"], abs=0.3)
    assert rendition.true_peak_dbtp <= -1.0
    before = _gray_frame(ffmpeg, mp4, 0.0)  # cue 1 starts at 0.1 s
    with_caption = _gray_frame(ffmpeg, mp4, 0.8)  # inside cue 1
    second = _gray_frame(ffmpeg, mp4, 2.2)  # inside cue 2
    band = slice(560, 700)  # bottom band: only the captions are drawn there
    assert (before[band] > 200).sum() < 50
    assert (with_caption[band] > 200).sum() > 2000  # white caption glyphs
    assert np.abs(with_caption[band].astype(int) - second[band]).sum() > 100_000  # another sentence
    assert np.array_equal(with_caption[:500] > 128, second[:500] > 128)  # the slide itself stays
    assert (with_caption[0:110] > 60).mean() > 0.9  # the red khẩn cấp banner (gray ≈ 87; background ≈ 24)


def _stored_bulletin(workspace: Workspace, priority: Priority) -> int:
    (workspace.voices_dir / "fake.toml").write_text(
        'id = "fake"\nname = "Fake"\nengine = "fake"\n', encoding="utf-8"
    )
    item = SourceItem(
        source="httn-tinh",
        source_id=f"A-{priority.value}",
        title="Thông báo lịch tiêm chủng",
        body="Trạm y tế xã tổ chức tiêm chủng vào sáng thứ Bảy.",
        priority=priority,
        areas=("00070",),
    )
    with Store(workspace.db_path) as store:
        item_id, _ = store.add_item(item)
        bulletin = Bulletin(
            title=item.title,
            template="test",
            priority=priority,
            item_ids=(item_id,),
            segments=(
                Segment("speech", "Thông báo. " + item.body, item_id=item_id),
                Segment("gap", duration_s=0.5),
                Segment("speech", "Xin cảm ơn."),
            ),
        )
        return store.save_bulletin(bulletin)


def test_approve_builds_signs_and_audits(workspace: Workspace) -> None:
    bulletin_id = _stored_bulletin(workspace, Priority.UU_TIEN)
    runner = CliRunner(mix_stderr=False)
    assert runner.invoke(main, ["keys", "new", "lanh-dao"]).exit_code == 0
    result = runner.invoke(
        main,
        [
            "bulletin",
            "approve",
            str(bulletin_id),
            "--key",
            "lanh-dao",
            "--voice",
            "fake",
            "--profile",
            "loa",
            "--profile",
            "phat-song",
            "--valid-hours",
            "6",
        ],
    )
    assert result.exit_code == 0, result.output
    path, seq, priority, digest = result.stdout.strip().split("\t")
    package = Path(path)
    assert (seq, priority) == ("studio-demo#1", "uu-tien")
    assert digest == "sha256:" + hashlib.sha256((package / "manifest.json").read_bytes()).hexdigest()
    verified = verify_package(package, [PublicKey.load(pubkey(workspace, "lanh-dao"))])
    m = verified.manifest
    assert [a.name for a in m.areas] == ["Phường Hoàn Kiếm"] and m.voices[0].voice == "fake"
    assert {r.profile for r in m.renditions} == {"loa", "phat-song"}
    hours = (m.valid_until_at - m.created_at).total_seconds() / 3600
    assert hours == pytest.approx(6.0) and m.created_at <= datetime.now(UTC)
    with Store(workspace.db_path) as store:
        approve = next(e for e in store.audit_log() if e["action"] == "bulletin.approve")
        (stored,) = store.packages()
    assert approve["subject"] == f"bulletin:{bulletin_id}" and "lanh-dao" in approve["actor"]
    assert approve["detail"]["manifest_sha256"] == digest.removeprefix("sha256:")
    assert stored.state == "approved" and stored.sequence == 1


def test_approve_khan_cap_with_a_routine_key_is_refused_before_any_work(workspace: Workspace) -> None:
    bulletin_id = _stored_bulletin(workspace, Priority.KHAN_CAP)
    runner = CliRunner(mix_stderr=False)
    runner.invoke(main, ["keys", "new", "bien-tap"])
    result = runner.invoke(
        main, ["bulletin", "approve", str(bulletin_id), "--key", "bien-tap", "--voice", "fake"]
    )
    assert result.exit_code == 2
    assert "must be signed with an emergency key" in " ".join(result.stderr.split())
    assert [p for p in workspace.outbox.iterdir()] == []
    with Store(workspace.db_path) as store:
        assert store.packages() == []


def test_approve_with_an_encrypted_key(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from studio.package.signing import generate_key

    bulletin_id = _stored_bulletin(workspace, Priority.THONG_THUONG)
    generate_key(workspace.keys_dir, "enc", passphrase="đúng", opslimit=1 << 19, memlimit=1 << 24)
    runner = CliRunner(mix_stderr=False)
    wrong = runner.invoke(
        main,
        ["bulletin", "approve", str(bulletin_id), "--key", "enc", "--voice", "fake", "--profile", "loa"],
        input="sai\n",
    )
    assert wrong.exit_code == 2 and "wrong passphrase" in " ".join(wrong.stderr.split())
    monkeypatch.setenv("STUDIO_KEY_PASSPHRASE", "đúng")
    ok = runner.invoke(
        main, ["bulletin", "approve", str(bulletin_id), "--key", "enc", "--voice", "fake", "--profile", "loa"]
    )
    assert ok.exit_code == 0, ok.output
