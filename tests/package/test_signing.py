"""Keys and signatures in minisign's formats, cross-checked with Debian's minisign where installed."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from studio.cli import main
from studio.errors import ConfigError
from studio.package.signing import (
    PublicKey,
    Signature,
    SignatureError,
    _scrypt_params,
    check_key_name,
    generate_key,
    key_paths,
    load_key,
    load_secret_key,
)

FAST_KDF = {"opslimit": 1 << 19, "memlimit": 1 << 24}  # N=2^14: the format is the same, tests stay fast
DATA = '{"title": "Khẩn cấp: bão số 5"}\n'.encode()


def _minisign() -> str:
    exe = shutil.which("minisign")
    if exe is None:
        pytest.skip("Debian's minisign is not installed (apt-get install minisign; .ci/run installs it)")
    return exe


def test_sign_and_verify_roundtrip_and_tampering(tmp_path: Path) -> None:
    key = generate_key(tmp_path, "alice")
    sig = Signature.parse(key.sign(DATA, trusted_comment="id=1 sequence=1"), source="sig")
    pub = PublicKey.load(key_paths(tmp_path, "alice").public)
    sig.verify(DATA, pub, source="m")
    assert sig.trusted_comment == "id=1 sequence=1" and sig.key_id_hex == pub.key_id_hex
    with pytest.raises(SignatureError, match="does not match the signed bytes"):
        sig.verify(DATA + b" ", pub, source="m")
    forged = Signature(sig.algorithm, sig.key_id, sig.signature, "id=1 sequence=2", sig.global_signature)
    with pytest.raises(SignatureError, match="trusted comment was changed"):
        forged.verify(DATA, pub, source="m")
    other = generate_key(tmp_path, "bob").public_key
    with pytest.raises(SignatureError, match="not by bob"):
        sig.verify(DATA, other, source="m")


def test_signature_bytes_follow_the_minisign_layout(tmp_path: Path) -> None:
    key = generate_key(tmp_path, "alice")
    lines = key.sign(DATA, trusted_comment="hello").decode().split("\n")
    assert (
        lines[0].startswith("untrusted comment: ") and lines[2] == "trusted comment: hello" and lines[4] == ""
    )
    raw = base64.b64decode(lines[1])
    assert raw[:2] == b"ED" and raw[2:10] == key.key_id and len(raw) == 74
    pk = Ed25519PrivateKey.from_private_bytes(key.seed).public_key()
    pk.verify(raw[10:], hashlib.blake2b(DATA, digest_size=64).digest())  # prehashed: BLAKE2b-512
    pk.verify(base64.b64decode(lines[3]), raw[10:] + b"hello")  # global signature over sig ‖ comment


def test_legacy_unhashed_signature_is_refused(tmp_path: Path) -> None:
    key = generate_key(tmp_path, "alice")
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    sig = private.sign(DATA)
    text = (
        f"untrusted comment: x\n{base64.b64encode(b'Ed' + key.key_id + sig).decode()}\n"
        f"trusted comment: t\n{base64.b64encode(private.sign(sig + b't')).decode()}\n"
    )
    with pytest.raises(SignatureError, match="legacy"):
        Signature.parse(text.encode(), source="s")


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"untrusted comment: a\n",
        b"a\nb\nc\nd\n",
        b"untrusted comment: a\n!!!\ntrusted comment: b\nAAAA\n",
    ],
)
def test_malformed_signature_files(text: bytes) -> None:
    with pytest.raises(SignatureError):
        Signature.parse(text, source="s")


def test_secret_key_file_is_private_and_refused_when_readable(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    generate_key(keys, "alice", emergency=True)
    paths = key_paths(keys, "alice")
    assert paths.secret.stat().st_mode & 0o777 == 0o600
    assert keys.stat().st_mode & 0o777 == 0o700
    assert load_key(keys, "alice").role == "emergency"
    assert PublicKey.load(paths.public).role == "emergency"
    os.chmod(paths.secret, 0o644)
    with pytest.raises(SignatureError, match="lets others read"):
        load_key(keys, "alice")
    with pytest.raises(ConfigError, match="already exists"):
        generate_key(keys, "alice")
    with pytest.raises(ConfigError, match="no key named 'bob'; keys here: alice"):
        load_key(keys, "bob")


def test_passphrase_encryption(tmp_path: Path) -> None:
    key = generate_key(tmp_path, "enc", passphrase="mật khẩu", **FAST_KDF)
    path = key_paths(tmp_path, "enc").secret
    with pytest.raises(SignatureError, match="encrypted; a passphrase is needed"):
        load_secret_key(path)
    with pytest.raises(SignatureError, match="wrong passphrase"):
        load_secret_key(path, "sai")
    assert load_secret_key(path, "mật khẩu").seed == key.seed
    assert key.seed not in base64.b64decode(path.read_text().splitlines()[1])


@pytest.mark.parametrize(
    ("ops", "mem", "expected"),
    [
        (1 << 23, 1 << 28, (1 << 18, 8, 1)),  # studio's default
        (33554432, 1073741824, (1 << 20, 8, 1)),  # libsodium SENSITIVE, minisign's default
        (524288, 16777216, (1 << 14, 8, 1)),  # libsodium INTERACTIVE
    ],
)
def test_scrypt_parameters_match_libsodium(ops: int, mem: int, expected: tuple[int, int, int]) -> None:
    assert _scrypt_params(ops, mem) == expected


@pytest.mark.parametrize("name", ["", "A", "../x", "a/b", "x" * 65, ".hidden"])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(ConfigError, match="key name"):
        check_key_name(name)


def test_minisign_verifies_ours_and_we_verify_minisigns(tmp_path: Path) -> None:
    exe = _minisign()
    generate_key(tmp_path, "alice")
    paths = key_paths(tmp_path, "alice")
    msg = tmp_path / "m.json"
    msg.write_bytes(DATA)
    (tmp_path / "m.json.minisig").write_bytes(
        load_key(tmp_path, "alice").sign(DATA, trusted_comment="studio")
    )
    proc = subprocess.run(
        [exe, "-V", "-p", str(paths.public), "-m", str(msg)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and "Trusted comment: studio" in proc.stdout, proc.stderr
    # minisign signs with our (unencrypted) secret key file; our verifier accepts its signature
    proc = subprocess.run(
        [
            exe,
            "-S",
            "-W",
            "-s",
            str(paths.secret),
            "-m",
            str(msg),
            "-x",
            str(tmp_path / "b.sig"),
            "-t",
            "from minisign",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    sig = Signature.parse((tmp_path / "b.sig").read_bytes(), source="b.sig")
    sig.verify(DATA, PublicKey.load(paths.public), source="m")
    assert sig.trusted_comment == "from minisign"


def test_minisign_decrypts_our_encrypted_key_and_we_read_its_keys(tmp_path: Path) -> None:
    exe = _minisign()
    generate_key(tmp_path, "enc", passphrase="mật khẩu", **FAST_KDF)
    paths = key_paths(tmp_path, "enc")
    msg = tmp_path / "m.json"
    msg.write_bytes(DATA)
    proc = subprocess.run(
        [exe, "-S", "-s", str(paths.secret), "-m", str(msg)],
        input="mật khẩu\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    Signature.parse((tmp_path / "m.json.minisig").read_bytes(), source="s").verify(
        DATA, PublicKey.load(paths.public), source="m"
    )
    # a key pair made by minisign itself: a plain minisign public key is a routine key to us
    proc = subprocess.run(
        [exe, "-G", "-W", "-p", str(tmp_path / "mk.pub"), "-s", str(tmp_path / "mk.key")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = load_secret_key(tmp_path / "mk.key")
    assert PublicKey.load(tmp_path / "mk.pub") == theirs.public_key and theirs.role == "routine"


def test_keys_cli_new_export_list(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(main, ["keys", "new", "truc-ban", "--emergency"])
    assert result.exit_code == 0, result.output
    path, key_id, role = result.stdout.strip().split("\t")
    assert role == "emergency" and Path(path) == workspace.keys_dir / "truc-ban.pub"
    exported = runner.invoke(main, ["keys", "export", "truc-ban"])
    assert exported.exit_code == 0
    assert PublicKey.from_text(exported.stdout, source="stdout").key_id_hex == key_id
    monkeypatch.setenv("STUDIO_KEY_PASSPHRASE", "bí mật")
    enc = runner.invoke(main, ["keys", "new", "duyet", "--passphrase"])
    assert enc.exit_code == 0, enc.output
    assert (workspace.keys_dir / "duyet.key").read_text().startswith("untrusted comment: minisign encrypted")
    listed = runner.invoke(main, ["keys", "list"])
    assert [line.split("\t")[:2] for line in listed.stdout.splitlines()] == [
        ["duyet", "routine"],
        ["truc-ban", "emergency"],
    ]
    again = runner.invoke(main, ["keys", "new", "truc-ban"])
    assert again.exit_code == 2 and "already exists" in again.stderr
