"""Keys and signatures: Ed25519 in minisign's file formats, so Debian's `minisign` can check our work.

Owns: key generation (`studio keys new`), the secret key file (minisign's own format: unencrypted, or
encrypted with scrypt exactly as minisign does it), the public key file, and signing / checking a
`.minisig` over exact bytes. Formats, byte for byte (minisign.h / minisign.c):

- public key:  "untrusted comment: …" line, then base64("Ed" ‖ key_id[8] ‖ ed25519_pk[32])
- secret key:  comment line, then base64("Ed" ‖ kdf["Sc" or 00 00] ‖ "B2" ‖ salt[32] ‖ opslimit[8 LE] ‖
  memlimit[8 LE] ‖ (key_id[8] ‖ seed[32] ‖ pk[32] ‖ chk[32]) XOR scrypt(passphrase, salt)), where chk
  is BLAKE2b-256("Ed" ‖ key_id ‖ seed ‖ pk)
- signature:   "untrusted comment: …", base64("ED" ‖ key_id ‖ Ed25519(BLAKE2b-512(data))),
  "trusted comment: …", base64(Ed25519(signature[64] ‖ trusted_comment_utf8))

studio adds one thing minisign has no field for: a key's *role* (routine or emergency), written as
`role=…` in the comment lines. Verifiers take the role from the public key file they pin, never from
the package. Must not import audio/tts/tui.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from studio.config import atomic_write_bytes
from studio.errors import ConfigError, PackageError

ROUTINE = "routine"
EMERGENCY = "emergency"
ROLES = (ROUTINE, EMERGENCY)

_KEY_ALG = b"Ed"
_SIG_ALG_PREHASHED = b"ED"
_SIG_ALG_LEGACY = b"Ed"
_KDF_SCRYPT = b"Sc"
_KDF_NONE = b"\0\0"
_CHK_ALG = b"B2"
_UNTRUSTED = "untrusted comment: "
_TRUSTED = "trusted comment: "
_KEYNUM_SK_LEN = 8 + 64 + 32
_SECKEY_LEN = 2 + 2 + 2 + 32 + 8 + 8 + _KEYNUM_SK_LEN
_TRUSTED_COMMENT_MAX = 8192 - len(_TRUSTED) - 1  # minisign's TRUSTEDCOMMENTMAXBYTES
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

# scrypt limits in libsodium's units, stored in the key file (minisign reads any choice). minisign's own
# default (N=2^20, 1 GiB) took 8.7 s per signature on the 2-core CI machine; N=2^18 (256 MiB) ~2 s.
KDF_OPSLIMIT = 1 << 23
KDF_MEMLIMIT = 1 << 28


class SignatureError(PackageError):
    """A signature or key file is malformed, or a signature does not verify."""

    default_title = "Chữ ký không hợp lệ"


def check_key_name(name: str) -> str:
    """Key names are file names: lower-case letters, digits, '.', '_' and '-', at most 64.

    Raises:
        ConfigError: the name is not allowed.
    """
    if not _NAME.match(name):
        raise ConfigError(f"key name {name!r}: use 1–64 of a-z 0-9 . _ - (starting with a letter or digit)")
    return name


def key_id_hex(key_id: bytes) -> str:
    """The key id as minisign prints it: the 8 bytes read as a little-endian u64, upper-case hex."""
    return f"{struct.unpack('<Q', key_id)[0]:016X}"


def _comment_role(comment: str) -> str | None:
    match = re.search(r"(?:^|\s)role=(\w+)", comment)
    return match.group(1) if match else None


def _comment_name(comment: str) -> str | None:
    match = re.search(r"(?:^|\s)name=([a-z0-9][a-z0-9._-]*)", comment)
    return match.group(1) if match else None


def _b64decode(text: str, *, what: str, length: int) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise SignatureError(f"{what}: not valid base64") from exc
    if len(raw) != length:
        raise SignatureError(f"{what}: {len(raw)} bytes after base64, expected {length}")
    return raw


@dataclass(frozen=True, slots=True)
class PublicKey:
    """An Ed25519 public key with its minisign key id, and studio's name and role for it."""

    key_id: bytes
    public: bytes
    name: str
    role: str

    @property
    def key_id_hex(self) -> str:
        return key_id_hex(self.key_id)

    def to_text(self) -> str:
        """The minisign public key file (two lines)."""
        blob = base64.b64encode(_KEY_ALG + self.key_id + self.public).decode("ascii")
        return (
            f"{_UNTRUSTED}minisign public key {self.key_id_hex} name={self.name} role={self.role}\n{blob}\n"
        )

    @classmethod
    def from_text(cls, text: str, *, source: str) -> PublicKey:
        """Parse a minisign public key file.

        A key without `role=` in its comment (a plain minisign key) is a routine key.

        Raises:
            SignatureError: not a minisign Ed25519 public key.
        """
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2 or not lines[0].startswith(_UNTRUSTED):
            raise SignatureError(
                f"{source}: not a minisign public key (expected an 'untrusted comment:' line "
                "and a base64 line)"
            )
        raw = _b64decode(lines[1], what=f"{source}: public key", length=2 + 8 + 32)
        if raw[:2] != _KEY_ALG:
            raise SignatureError(f"{source}: unsupported key algorithm {raw[:2]!r} (expected 'Ed')")
        comment = lines[0][len(_UNTRUSTED) :]
        role = _comment_role(comment) or ROUTINE
        if role not in ROLES:
            raise SignatureError(f"{source}: unknown key role {role!r}; expected routine or emergency")
        name = _comment_name(comment) or Path(source).stem
        return cls(key_id=raw[2:10], public=raw[10:], name=name, role=role)

    @classmethod
    def load(cls, path: Path) -> PublicKey:
        """Read a public key file.

        Raises:
            SignatureError: unreadable or malformed.
        """
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SignatureError(f"{path}: cannot read the public key: {exc}") from exc
        return cls.from_text(text, source=str(path))


@dataclass(frozen=True, slots=True)
class SecretKey:
    """An Ed25519 signing key (its 32-byte seed) with key id, name and role."""

    key_id: bytes
    seed: bytes
    name: str
    role: str

    def __repr__(self) -> str:  # never print the seed
        return f"SecretKey(name={self.name!r}, role={self.role!r}, key_id={key_id_hex(self.key_id)})"

    @property
    def public_key(self) -> PublicKey:
        pk = (
            Ed25519PrivateKey.from_private_bytes(self.seed)
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
        return PublicKey(key_id=self.key_id, public=pk, name=self.name, role=self.role)

    def sign(self, data: bytes, *, trusted_comment: str, untrusted_comment: str | None = None) -> bytes:
        """A minisign prehashed ("ED") signature file over `data`.

        Raises:
            SignatureError: the trusted comment has a line break or is too long for minisign.
        """
        if "\n" in trusted_comment or "\r" in trusted_comment or trusted_comment != trusted_comment.strip():
            raise SignatureError("trusted comment: must be one line without leading/trailing spaces")
        tc = trusted_comment.encode("utf-8")
        if len(tc) > _TRUSTED_COMMENT_MAX:
            raise SignatureError(
                f"trusted comment: {len(tc)} bytes, minisign reads at most {_TRUSTED_COMMENT_MAX}"
            )
        private = Ed25519PrivateKey.from_private_bytes(self.seed)
        signature = private.sign(hashlib.blake2b(data, digest_size=64).digest())
        global_signature = private.sign(signature + tc)
        untrusted = untrusted_comment or f"signature from studio key {self.name} ({self.key_id_hex})"
        return (
            f"{_UNTRUSTED}{untrusted}\n"
            f"{base64.b64encode(_SIG_ALG_PREHASHED + self.key_id + signature).decode('ascii')}\n"
            f"{_TRUSTED}{trusted_comment}\n"
            f"{base64.b64encode(global_signature).decode('ascii')}\n"
        ).encode("utf-8")

    @property
    def key_id_hex(self) -> str:
        return key_id_hex(self.key_id)


@dataclass(frozen=True, slots=True)
class Signature:
    """A parsed `.minisig` file."""

    algorithm: bytes
    key_id: bytes
    signature: bytes
    trusted_comment: str
    global_signature: bytes

    @property
    def key_id_hex(self) -> str:
        return key_id_hex(self.key_id)

    @classmethod
    def parse(cls, data: bytes, *, source: str) -> Signature:
        """Parse a minisign signature file (4 lines).

        Raises:
            SignatureError: malformed, or the legacy (non-prehashed) algorithm.
        """
        try:
            lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError as exc:
            raise SignatureError(f"{source}: not UTF-8") from exc
        lines = [line.rstrip("\r") for line in lines]
        if lines and lines[-1] == "":
            lines.pop()
        if len(lines) != 4:
            raise SignatureError(
                f"{source}: expected 4 lines (comment, signature, trusted comment, global "
                f"signature), found {len(lines)}"
            )
        if not lines[0].startswith(_UNTRUSTED):
            raise SignatureError(f"{source}: line 1 must start with {_UNTRUSTED!r}")
        if not lines[2].startswith(_TRUSTED):
            raise SignatureError(f"{source}: line 3 must start with {_TRUSTED!r}")
        raw = _b64decode(lines[1], what=f"{source}: signature", length=2 + 8 + 64)
        if raw[:2] == _SIG_ALG_LEGACY:
            raise SignatureError(f"{source}: legacy (non-prehashed 'Ed') signature; studio accepts only 'ED'")
        if raw[:2] != _SIG_ALG_PREHASHED:
            raise SignatureError(f"{source}: unsupported signature algorithm {raw[:2]!r}")
        global_sig = _b64decode(lines[3], what=f"{source}: global signature", length=64)
        return cls(
            algorithm=raw[:2],
            key_id=raw[2:10],
            signature=raw[10:],
            trusted_comment=lines[2][len(_TRUSTED) :],
            global_signature=global_sig,
        )

    def verify(self, data: bytes, key: PublicKey, *, source: str) -> None:
        """Check this signature over `data` and the trusted comment against `key`.

        Raises:
            SignatureError: wrong key id, bad signature over the data, or bad trusted-comment signature.
        """
        if self.key_id != key.key_id:
            raise SignatureError(
                f"{source}: signed by key id {self.key_id_hex}, not by {key.name} ({key.key_id_hex})"
            )
        public = Ed25519PublicKey.from_public_bytes(key.public)
        try:
            public.verify(self.signature, hashlib.blake2b(data, digest_size=64).digest())
        except InvalidSignature as exc:
            raise SignatureError(
                f"{source}: the signature does not match the signed bytes (changed after "
                "signing, or signed by another key)"
            ) from exc
        try:
            public.verify(self.global_signature, self.signature + self.trusted_comment.encode("utf-8"))
        except InvalidSignature as exc:
            raise SignatureError(f"{source}: the trusted comment was changed after signing") from exc


# -- secret key files ---------------------------------------------------------------------------------


def load_public_keys(keys_dir: Path, *, skip_bad: bool = False) -> list[PublicKey]:
    """The public keys (`*.pub`) in `keys_dir`, by file name; none when the folder is missing.

    Args:
        skip_bad: leave out a key file that cannot be read (where it cannot vouch for anything anyway,
            as in the recovery after a kill); otherwise its SignatureError is raised.
    """
    keys = []
    for path in sorted(keys_dir.glob("*.pub")) if keys_dir.is_dir() else []:
        try:
            keys.append(PublicKey.load(path))
        except SignatureError:
            if not skip_bad:
                raise
    return keys


def _scrypt_params(opslimit: int, memlimit: int) -> tuple[int, int, int]:
    """libsodium's pickparams() for crypto_pwhash_scryptsalsa208sha256: (N, r, p)."""
    opslimit = max(opslimit, 32768)
    r = 8
    if opslimit < memlimit // 32:
        p = 1
        max_n = opslimit // (r * 4)
        n_log2 = 1
        while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
            n_log2 += 1
    else:
        max_n = memlimit // (r * 128)
        n_log2 = 1
        while n_log2 < 63 and (1 << n_log2) <= max_n // 2:
            n_log2 += 1
        max_rp = min((opslimit // 4) // (1 << n_log2), 0x3FFFFFFF)
        p = max_rp // r
    return 1 << n_log2, r, max(p, 1)


def _scrypt(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    n, r, p = _scrypt_params(opslimit, memlimit)
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(
        passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEYNUM_SK_LEN
    )


def _checksum(key_id: bytes, seed: bytes, public: bytes) -> bytes:
    return hashlib.blake2b(_KEY_ALG + key_id + seed + public, digest_size=32).digest()


def secret_key_text(
    key: SecretKey, passphrase: str | None, *, opslimit: int = KDF_OPSLIMIT, memlimit: int = KDF_MEMLIMIT
) -> str:
    """The minisign secret key file for `key`, encrypted when `passphrase` is given."""
    public = key.public_key.public
    keynum_sk = key.key_id + key.seed + public + _checksum(key.key_id, key.seed, public)
    salt = secrets.token_bytes(32)
    if passphrase:
        stream = _scrypt(passphrase, salt, opslimit, memlimit)
        keynum_sk = bytes(a ^ b for a, b in zip(keynum_sk, stream, strict=True))
        kdf, ops, mem = _KDF_SCRYPT, opslimit, memlimit
    else:
        kdf, ops, mem, salt = _KDF_NONE, 0, 0, bytes(32)
    blob = _KEY_ALG + kdf + _CHK_ALG + salt + struct.pack("<QQ", ops, mem) + keynum_sk
    state = "encrypted" if passphrase else "unencrypted"
    return (
        f"{_UNTRUSTED}minisign {state} secret key name={key.name} role={key.role}\n"
        f"{base64.b64encode(blob).decode('ascii')}\n"
    )


def load_secret_key(path: Path, passphrase: str | None = None) -> SecretKey:
    """Read (and decrypt) a minisign secret key file.

    Raises:
        SignatureError: unreadable, malformed, needs a passphrase, or the passphrase is wrong.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignatureError(f"{path}: cannot read the secret key: {exc}") from exc
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].startswith(_UNTRUSTED):
        raise SignatureError(f"{path}: not a minisign secret key")
    raw = _b64decode(lines[1], what=f"{path}: secret key", length=_SECKEY_LEN)
    alg, kdf, chk_alg, salt = raw[0:2], raw[2:4], raw[4:6], raw[6:38]
    ops, mem = struct.unpack("<QQ", raw[38:54])
    keynum_sk = raw[54:]
    if alg != _KEY_ALG or chk_alg != _CHK_ALG:
        raise SignatureError(f"{path}: unsupported key algorithm {alg!r} / checksum {chk_alg!r}")
    if kdf == _KDF_SCRYPT:
        if not passphrase:
            raise SignatureError(f"{path}: the key is encrypted; a passphrase is needed")
        stream = _scrypt(passphrase, salt, ops, mem)
        keynum_sk = bytes(a ^ b for a, b in zip(keynum_sk, stream, strict=True))
    elif kdf != _KDF_NONE:
        raise SignatureError(f"{path}: unsupported key derivation {kdf!r}")
    key_id, seed, public, chk = keynum_sk[:8], keynum_sk[8:40], keynum_sk[40:72], keynum_sk[72:]
    # minisign computes the checksum only when it encrypts: its unencrypted (-W) keys carry 32 zero bytes.
    unchecked = kdf == _KDF_NONE and chk == bytes(32)
    if not unchecked and not secrets.compare_digest(chk, _checksum(key_id, seed, public)):
        raise SignatureError(
            f"{path}: wrong passphrase for this key (checksum mismatch)"
            if kdf == _KDF_SCRYPT
            else f"{path}: the key file is corrupt (checksum mismatch)"
        )
    comment = lines[0][len(_UNTRUSTED) :]
    role = _comment_role(comment) or ROUTINE
    if role not in ROLES:
        raise SignatureError(f"{path}: unknown key role {role!r}")
    key = SecretKey(key_id=key_id, seed=seed, name=_comment_name(comment) or path.stem, role=role)
    if key.public_key.public != public:
        raise SignatureError(f"{path}: the public half does not match the seed")
    return key


def secret_key_is_encrypted(path: Path) -> bool:
    """True when the key file at `path` needs a passphrase (without decrypting it)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(lines) < 2:
        raise SignatureError(f"{path}: not a minisign secret key")
    raw = _b64decode(lines[1], what=f"{path}: secret key", length=_SECKEY_LEN)
    return raw[2:4] == _KDF_SCRYPT


@dataclass(frozen=True, slots=True)
class KeyPaths:
    name: str
    secret: Path
    public: Path


def key_paths(keys_dir: Path, name: str) -> KeyPaths:
    """Where key `name` lives in a workspace's keys folder."""
    check_key_name(name)
    return KeyPaths(name=name, secret=keys_dir / f"{name}.key", public=keys_dir / f"{name}.pub")


def generate_key(
    keys_dir: Path,
    name: str,
    *,
    emergency: bool = False,
    passphrase: str | None = None,
    opslimit: int = KDF_OPSLIMIT,
    memlimit: int = KDF_MEMLIMIT,
) -> SecretKey:
    """Create key pair `name` in `keys_dir`: NAME.key (mode 0600) and NAME.pub.

    Args:
        keys_dir: the workspace's keys folder (made 0700).
        name: key name (see `check_key_name`).
        emergency: an emergency key, the only kind that may sign khẩn cấp packages.
        passphrase: encrypt the secret key with scrypt (minisign's format) when given.
        opslimit, memlimit: libsodium scrypt limits stored in the file (default N=2^18, r=8, p=1).

    Returns:
        The new key.

    Raises:
        ConfigError: bad name, or a key with that name exists.
    """
    paths = key_paths(keys_dir, name)
    if paths.secret.exists() or paths.public.exists():
        raise ConfigError(f"{paths.secret}: a key named {name!r} already exists; choose another name")
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    key = SecretKey(
        key_id=secrets.token_bytes(8),
        seed=secrets.token_bytes(32),
        name=name,
        role=EMERGENCY if emergency else ROUTINE,
    )
    text = secret_key_text(key, passphrase, opslimit=opslimit, memlimit=memlimit)
    atomic_write_bytes(paths.secret, text.encode("ascii"), mode=0o600)
    try:
        atomic_write_bytes(paths.public, key.public_key.to_text().encode("utf-8"), mode=0o644)
    except BaseException:  # (a full disk) a secret key alone would block `keys new NAME` for ever
        paths.secret.unlink(missing_ok=True)
        raise
    return key


def load_key(keys_dir: Path, name: str, passphrase: str | None = None) -> SecretKey:
    """Load secret key `name` from a workspace's keys folder, refusing a file others can read.

    Raises:
        ConfigError: no such key (the message lists the keys there).
        SignatureError: group/other can read the file, or it cannot be decrypted.
    """
    paths = key_paths(keys_dir, name)
    if not paths.secret.is_file():
        known = sorted(p.stem for p in keys_dir.glob("*.key")) if keys_dir.is_dir() else []
        raise ConfigError(f"{paths.secret}: no key named {name!r}; keys here: {', '.join(known) or 'none'}")
    mode = paths.secret.stat().st_mode & 0o777
    if mode & 0o077:
        raise SignatureError(f"{paths.secret}: mode {mode:o} lets others read the secret key; chmod 600 it")
    return load_secret_key(paths.secret, passphrase)
