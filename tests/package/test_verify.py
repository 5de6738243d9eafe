"""The verifier: a good package passes; each kind of tampering fails with its own reason (issue 7)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace, open_workspace
from studio.models import Priority
from studio.package.assemble import trusted_comment
from studio.package.manifest import MANIFEST_NAME, SIGNATURE_NAME, Manifest
from studio.package.signing import PublicKey
from studio.package.verify import VerificationError, verify_package
from tests.package.helpers import NOW, key, make_package, pubkey

LATER = NOW + timedelta(minutes=10)


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Path]:
    """One package built once per module; each test gets its own copy (`built`)."""
    ws = open_workspace(tmp_path_factory.mktemp("origin"))
    return ws, make_package(ws, profiles=("loa", "web")).path


@pytest.fixture
def signer_ws(origin: tuple[Workspace, Path]) -> Workspace:
    """The workspace whose keys signed `built` (to re-sign edited manifests with a trusted key)."""
    return origin[0]


@pytest.fixture
def built(origin: tuple[Workspace, Path], tmp_path: Path) -> tuple[Path, list[PublicKey]]:
    ws, folder = origin
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    return copy, [PublicKey.load(pubkey(ws, "routine"))]


def _reason(folder: Path, keys: list[PublicKey], **kwargs: object) -> str:
    with pytest.raises(VerificationError) as info:
        verify_package(folder, keys, now=kwargs.pop("now", LATER), **kwargs)  # type: ignore[arg-type]
    return info.value.reason


def _resign(folder: Path, manifest: Manifest, workspace: Workspace, key_name: str = "routine") -> None:
    """Write `manifest` and sign it with a trusted key: only the verifier's other checks can object."""
    signing_key = key(workspace, key_name)
    data = manifest.to_json()
    (folder / MANIFEST_NAME).write_bytes(data)
    tc = trusted_comment(manifest, hashlib.sha256(data).hexdigest(), signing_key)
    (folder / SIGNATURE_NAME).write_bytes(signing_key.sign(data, trusted_comment=tc))


def test_good_package_verifies_and_files_are_world_readable(built: tuple[Path, list[PublicKey]]) -> None:
    folder, keys = built
    verified = verify_package(folder, keys, now=LATER)
    assert verified.manifest.package_id == folder.name
    assert {f.path for f in verified.manifest.files} == {
        "loa.mp3",
        "web.mp3",
        "bulletin.txt",
        "captions.vtt",
        "captions.srt",
        "bulletin.ninjs.json",
    }
    assert all(os.stat(p).st_mode & 0o777 == 0o644 for p in folder.iterdir())


@pytest.mark.parametrize(
    "name",
    [
        "loa.mp3",
        "web.mp3",
        "bulletin.txt",
        "captions.vtt",
        "captions.srt",
        "bulletin.ninjs.json",
        MANIFEST_NAME,
        SIGNATURE_NAME,
    ],
)
def test_flipping_one_byte_in_any_file_fails(built: tuple[Path, list[PublicKey]], name: str) -> None:
    folder, keys = built
    path = folder / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    expected = {MANIFEST_NAME: {"signature", "manifest"}, SIGNATURE_NAME: {"signature"}}.get(name, {"hash"})
    assert _reason(folder, keys) in expected


def test_editing_the_manifest_breaks_the_signature(built: tuple[Path, list[PublicKey]]) -> None:
    folder, keys = built
    manifest = Manifest.from_json((folder / MANIFEST_NAME).read_bytes())
    (folder / MANIFEST_NAME).write_bytes(replace(manifest, title="Tin giả").to_json())
    with pytest.raises(VerificationError, match="does not match the signed bytes") as info:
        verify_package(folder, keys, now=LATER)
    assert info.value.reason == "signature"


def test_replayed_sequence_fails_and_state_is_atomic(workspace: Workspace, tmp_path: Path) -> None:
    first = make_package(workspace).path
    second = make_package(workspace, now=NOW + timedelta(seconds=1)).path
    keys = [PublicKey.load(pubkey(workspace, "routine"))]
    state = tmp_path / "verifier" / "state.json"
    assert verify_package(first, keys, state_file=state, now=LATER).sequence_checked
    copy = tmp_path / "replayed"
    shutil.copytree(first, copy)
    with pytest.raises(VerificationError, match="sequence 1 of issuer studio-demo was already seen") as info:
        verify_package(copy, keys, state_file=state, now=LATER)
    assert info.value.reason == "replay"
    assert verify_package(second, keys, state_file=state, now=LATER).manifest.sequence == 2
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert set(saved["issuers"]["studio-demo"]["seen"]) == {"1", "2"}
    assert state.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in state.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_package_is_not_remembered(workspace: Workspace, tmp_path: Path) -> None:
    folder = make_package(workspace).path
    keys = [PublicKey.load(pubkey(workspace, "routine"))]
    state = tmp_path / "state.json"
    (folder / "loa.mp3").write_bytes(b"x" + (folder / "loa.mp3").read_bytes()[1:])
    assert _reason(folder, keys, state_file=state) == "hash"
    assert not state.exists()


def test_corrupt_state_file_fails_closed(built: tuple[Path, list[PublicKey]], tmp_path: Path) -> None:
    folder, keys = built
    state = tmp_path / "state.json"
    state.write_text("{not json", encoding="utf-8")
    assert _reason(folder, keys, state_file=state) == "state"


def test_expired_and_future_packages_fail(built: tuple[Path, list[PublicKey]]) -> None:
    folder, keys = built
    assert _reason(folder, keys, now=NOW + timedelta(hours=24)) == "expired"
    assert _reason(folder, keys, now=NOW - timedelta(hours=1)) == "not-yet-valid"
    assert verify_package(folder, keys, now=NOW + timedelta(hours=23, minutes=59)).manifest.sequence == 1


def test_expired_source_item_caps_validity(workspace: Workspace) -> None:
    result = make_package(workspace, item_valid_until=NOW + timedelta(hours=2))
    assert result.manifest.valid_until == "2026-11-28T08:00:00Z"
    from studio.errors import PackageError

    with pytest.raises(PackageError, match="expired at 2026-11-28T05:00:00Z"):
        make_package(workspace, item_valid_until=NOW - timedelta(hours=1))


def test_khan_cap_signed_with_routine_key_fails(workspace: Workspace) -> None:
    """The producer refuses; and a package signed so anyway (a stolen routine key) fails verification."""
    from studio.errors import PackageError

    with pytest.raises(PackageError, match="must be signed with an emergency key"):
        make_package(workspace, priority=Priority.KHAN_CAP)
    assert not [p for p in workspace.outbox.iterdir() if not p.name.startswith(".")]
    good = make_package(workspace, priority=Priority.KHAN_CAP, key_name="truc-ban", emergency_key=True).path
    keys = [PublicKey.load(pubkey(workspace, "truc-ban")), PublicKey.load(pubkey(workspace, "routine"))]
    assert verify_package(good, keys, now=LATER).key.role == "emergency"
    manifest = Manifest.from_json((good / MANIFEST_NAME).read_bytes())
    routine = key(workspace, "routine")
    forged = replace(
        manifest,
        signer=replace(manifest.signer, key_id=routine.key_id_hex, key_name="routine", role="emergency"),
    )
    _resign(good, forged, workspace, "routine")
    with pytest.raises(
        VerificationError, match="khẩn cấp package .* is signed with routine key routine"
    ) as info:
        verify_package(good, keys, now=LATER)
    assert info.value.reason == "routine-key-for-emergency"


def test_unknown_key_fails(built: tuple[Path, list[PublicKey]], signer_ws: Workspace) -> None:
    folder, _ = built
    key(signer_ws, "other")
    assert _reason(folder, [PublicKey.load(pubkey(signer_ws, "other"))]) == "unknown-key"


@pytest.mark.parametrize("bad", ["../outside.txt", "/etc/passwd", "sub/../../x", ".hidden", "a\\b"])
def test_path_traversal_and_absolute_paths_are_refused(
    built: tuple[Path, list[PublicKey]], signer_ws: Workspace, bad: str
) -> None:
    folder, keys = built
    manifest = Manifest.from_json((folder / MANIFEST_NAME).read_bytes())
    files = tuple(replace(f, path=bad) if f.path == "bulletin.txt" else f for f in manifest.files)
    _resign(folder, replace(manifest, files=files), signer_ws)
    with pytest.raises(VerificationError) as info:
        verify_package(folder, keys, now=LATER)
    assert info.value.reason == "manifest"
    assert repr(bad)[1:-1] in info.value.message


def test_symlinked_file_is_refused(built: tuple[Path, list[PublicKey]], tmp_path: Path) -> None:
    folder, keys = built
    outside = tmp_path / "elsewhere.mp3"
    shutil.copyfile(folder / "loa.mp3", outside)  # same bytes: only the link itself is wrong
    (folder / "loa.mp3").unlink()
    (folder / "loa.mp3").symlink_to(outside)
    assert _reason(folder, keys) == "symlink"


def test_symlinked_manifest_and_extra_symlink_are_refused(
    built: tuple[Path, list[PublicKey]], tmp_path: Path
) -> None:
    folder, keys = built
    (folder / "extra").symlink_to("/etc/passwd")
    assert _reason(folder, keys) == "symlink"
    (folder / "extra").unlink()
    real = tmp_path / "manifest.json"
    shutil.move(folder / MANIFEST_NAME, real)
    (folder / MANIFEST_NAME).symlink_to(real)
    assert _reason(folder, keys) == "symlink"


def test_oversized_files_are_refused(built: tuple[Path, list[PublicKey]]) -> None:
    folder, keys = built
    size = (folder / "loa.mp3").stat().st_size
    assert _reason(folder, keys, max_file_bytes=size - 1) == "oversized"
    assert _reason(folder, keys, max_total_bytes=size) == "oversized"


def test_file_grown_after_signing_is_refused(built: tuple[Path, list[PublicKey]]) -> None:
    folder, keys = built
    with (folder / "web.mp3").open("ab") as fh:
        fh.write(b"\0" * 10)
    assert _reason(folder, keys) == "size"


def test_unlisted_and_missing_files_are_refused(built: tuple[Path, list[PublicKey]]) -> None:
    folder, keys = built
    (folder / "payload.sh").write_text("echo hi\n", encoding="utf-8")
    assert _reason(folder, keys) == "unlisted-file"
    (folder / "payload.sh").unlink()
    (folder / "captions.srt").unlink()
    assert _reason(folder, keys) == "missing-file"


def test_trusted_comment_must_match_the_manifest(
    built: tuple[Path, list[PublicKey]], signer_ws: Workspace
) -> None:
    folder, keys = built
    data = (folder / MANIFEST_NAME).read_bytes()
    manifest = Manifest.from_json(data)
    signing_key = key(signer_ws, "routine")
    tc = trusted_comment(replace(manifest, sequence=99), hashlib.sha256(data).hexdigest(), signing_key)
    (folder / SIGNATURE_NAME).write_bytes(signing_key.sign(data, trusted_comment=tc))
    with pytest.raises(VerificationError, match="sequence='99'") as info:
        verify_package(folder, keys, now=LATER)
    assert info.value.reason == "trusted-comment"


def test_cli_exit_codes_and_reason_on_stderr(workspace: Workspace, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    folder = make_package(workspace, now=datetime.now(UTC)).path  # the CLI checks against the real clock
    pub = str(pubkey(workspace, "routine"))
    state = str(tmp_path / "state.json")
    runner = CliRunner(mix_stderr=False)
    ok = runner.invoke(main, ["package", "verify", str(folder), "--trust", pub, "--state", state, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["sequence"] == 1
    again = runner.invoke(main, ["package", "verify", str(folder), "--trust", pub, "--state", state])
    assert again.exit_code == 1
    assert "replay: sequence 1 of issuer studio-demo was already seen" in " ".join(again.stderr.split())
    assert again.stdout == ""
    no_state = runner.invoke(main, ["package", "verify", str(folder), "--trust", pub])
    assert no_state.exit_code == 0 and "chưa kiểm tra số thứ tự" in " ".join(no_state.stderr.split())


def test_cli_refuses_a_malformed_trust_key(built: tuple[Path, list[PublicKey]], tmp_path: Path) -> None:
    folder, _ = built
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key\n", encoding="utf-8")
    result = CliRunner(mix_stderr=False).invoke(main, ["package", "verify", str(folder), "--trust", str(bad)])
    assert result.exit_code == 2 and "not a minisign public key" in " ".join(result.stderr.split())


def test_minisign_tool_verifies_the_package_signature(
    built: tuple[Path, list[PublicKey]], signer_ws: Workspace
) -> None:
    exe = shutil.which("minisign")
    if exe is None:
        pytest.skip("Debian's minisign is not installed (apt-get install minisign; .ci/run installs it)")
    folder, _ = built
    proc = subprocess.run(
        [exe, "-V", "-p", str(pubkey(signer_ws, "routine")), "-m", str(folder / MANIFEST_NAME)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"id={folder.name}" in proc.stdout and "sequence=1" in proc.stdout
    (folder / MANIFEST_NAME).write_bytes(
        (folder / MANIFEST_NAME).read_bytes().replace(b'"sequence": 1', b'"sequence": 7')
    )
    proc = subprocess.run(
        [exe, "-V", "-p", str(pubkey(signer_ws, "routine")), "-m", str(folder / MANIFEST_NAME)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
