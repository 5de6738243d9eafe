"""The package verifier: the reference for the dispatch side (`studio package verify`).

Owns: deciding whether a package folder may be broadcast. It fails closed: the first check that does
not pass raises VerificationError with a `reason` slug and a message naming the file or field. In
order: the folder and its two control files are plain files of sane size; the signature verifies
against a pinned key (key id → key; nothing in the package chooses the key); only then is the manifest
parsed (strictly); the trusted comment matches the manifest; khẩn cấp needs a pinned *emergency* key;
created/valid-until against the clock; every file: safe relative path, no symlink anywhere, regular
file, within the size limit, exact size and sha256; no unlisted file; finally the per-issuer sequence
number is checked against, and added to, the state file (under an exclusive lock, written atomically)
— so a package is remembered only once everything else passed.
Must not import audio/tts/tui.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from studio.config import atomic_write_bytes
from studio.errors import ExitCode, PackageError
from studio.package.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    Manifest,
    ManifestError,
    check_relative_path,
)
from studio.package.signing import EMERGENCY, PublicKey, Signature, SignatureError

MAX_FILE_BYTES = 2 << 30
"""Default per-file limit, 2 GiB: ~2 h of 48 kHz 24-bit stereo BWF; raise it for longer programmes."""
MAX_TOTAL_BYTES = 8 << 30
MAX_FILES = 256
MAX_SIGNATURE_BYTES = 16 << 10
CLOCK_SKEW = timedelta(minutes=5)
STATE_VERSION = 1


class VerificationError(PackageError):
    """The package must not be used. `reason` is a stable slug for scripts (docs/package-spec.md §6)."""

    exit_code = ExitCode.JOB_FAILED
    default_title = "Gói tin không hợp lệ"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Verified:
    """A package that passed every check."""

    path: Path
    manifest: Manifest
    key: PublicKey
    manifest_sha256: str
    sequence_checked: bool


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:  # a name too long for the file system (ENAMETOOLONG), EACCES on a folder…
        raise VerificationError("path", f"{path}: cannot be examined: {exc.strerror}") from None


def _open_regular(path: Path) -> int:
    """Open a file read-only without following a symlink or blocking on a FIFO swapped in after lstat;
    the opened file itself must be a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise VerificationError(
                "symlink", f"{path}: is a symbolic link; packages hold regular files only"
            ) from None
        raise VerificationError("unreadable", f"{path}: cannot be opened: {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise VerificationError("not-a-file", f"{path}: not a regular file")
    return fd


def _read_control(folder: Path, name: str, limit: int) -> bytes:
    path = folder / name
    st = _lstat(path)
    if st is None:
        raise VerificationError("missing-file", f"{path}: missing (a package must carry {name})")
    if stat.S_ISLNK(st.st_mode):
        raise VerificationError("symlink", f"{path}: is a symbolic link; packages hold regular files only")
    if not stat.S_ISREG(st.st_mode):
        raise VerificationError("not-a-file", f"{path}: not a regular file")
    if st.st_size > limit:
        raise VerificationError("oversized", f"{path}: {st.st_size} bytes, more than the {limit}-byte limit")
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise VerificationError("oversized", f"{path}: grew past the {limit}-byte limit while reading")
    return data


def _hash_file(folder: Path, rel: str, expected_size: int, max_file_bytes: int) -> str:
    """sha256 of folder/rel, refusing symlinks in any component and reading at most expected_size + 1."""
    current = folder
    parts = rel.split("/")
    for i, part in enumerate(parts):
        current = current / part
        st = _lstat(current)
        if st is None:
            raise VerificationError("missing-file", f"{current}: listed in the manifest but missing")
        if stat.S_ISLNK(st.st_mode):
            raise VerificationError(
                "symlink", f"{current}: is a symbolic link; packages hold regular files only"
            )
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            raise VerificationError("not-a-file", f"{current}: expected a folder")
        if last and not stat.S_ISREG(st.st_mode):
            raise VerificationError("not-a-file", f"{current}: not a regular file")
    st = os.lstat(current)
    if st.st_size > max_file_bytes:
        raise VerificationError(
            "oversized", f"{current}: {st.st_size} bytes, more than the {max_file_bytes}-byte per-file limit"
        )
    if st.st_size != expected_size:
        raise VerificationError("size", f"{current}: {st.st_size} bytes, the manifest says {expected_size}")
    h = hashlib.sha256()
    read = 0
    fd = _open_regular(current)
    with os.fdopen(fd, "rb") as fh:
        while block := fh.read(min(1 << 20, expected_size + 1 - read)):
            read += len(block)
            h.update(block)
            if read > expected_size:
                raise VerificationError(
                    "size", f"{current}: longer than the {expected_size} bytes in the manifest"
                )
    if read != expected_size:
        raise VerificationError("size", f"{current}: {read} bytes read, the manifest says {expected_size}")
    return h.hexdigest()


def _walk(folder: Path) -> set[str]:
    """Every non-folder entry under `folder`, relative; symlinks (to anything) and empty folders are refused."""
    found: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=False):
        if not dirs and not files and Path(root) != folder:
            # spec §2: the folder holds only listed files; a folder can only exist to hold some
            raise VerificationError("unlisted-file", f"{root}: an empty folder, not in the manifest")
        for name in dirs + files:
            path = Path(root) / name
            st = os.lstat(path)
            rel = path.relative_to(folder).as_posix()
            if stat.S_ISLNK(st.st_mode):
                raise VerificationError(
                    "symlink", f"{path}: is a symbolic link; packages hold regular files only"
                )
            if not stat.S_ISDIR(st.st_mode):
                if not stat.S_ISREG(st.st_mode):
                    raise VerificationError("not-a-file", f"{path}: not a regular file")
                found.add(rel)
    return found


def _parse_trusted_comment(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    words = text.split(" ")
    if not words or words[0] != "studio-package":
        raise VerificationError(
            "trusted-comment", f"trusted comment {text!r} is not a studio package comment"
        )
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or key in fields:
            raise VerificationError(
                "trusted-comment", f"trusted comment: malformed or repeated field {word!r}"
            )
        fields[key] = value
    return fields


def verify_package(
    folder: Path,
    trusted: Sequence[PublicKey],
    *,
    state_file: Path | None = None,
    now: datetime | None = None,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Verified:
    """Verify a package folder; see the module docstring for the checks and their order.

    Args:
        folder: the package folder.
        trusted: the pinned public keys (their roles come from their own files).
        state_file: JSON file remembering the sequence numbers seen per issuer; without it the replay
            check is not made (`Verified.sequence_checked` is False).
        now: the current time (tests).
        max_file_bytes: per-file size limit.
        max_total_bytes: limit on the sum of all listed files.

    Returns:
        The verified package.

    Raises:
        VerificationError: the first failed check, with its reason slug.
    """
    if not trusted:
        raise VerificationError("no-trusted-key", "no trusted public key given (--trust)")
    st = _lstat(folder)
    if st is None or stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise VerificationError(
            "not-a-package", f"{folder}: not a package folder (missing, a symlink, or a file)"
        )
    manifest_bytes = _read_control(folder, MANIFEST_NAME, 1 << 20)
    sig_bytes = _read_control(folder, SIGNATURE_NAME, MAX_SIGNATURE_BYTES)

    # 1. Signature, against pinned keys only; nothing is parsed from the manifest before this.
    try:
        signature = Signature.parse(sig_bytes, source=str(folder / SIGNATURE_NAME))
    except SignatureError as exc:
        raise VerificationError("signature", exc.message) from exc
    by_id = {k.key_id: k for k in trusted}
    key = by_id.get(signature.key_id)
    if key is None:
        pinned = ", ".join(f"{k.name} ({k.key_id_hex})" for k in trusted)
        raise VerificationError(
            "unknown-key",
            f"{folder / SIGNATURE_NAME}: signed by key id {signature.key_id_hex}, "
            f"which is not trusted (trusted: {pinned})",
        )
    try:
        signature.verify(manifest_bytes, key, source=str(folder / MANIFEST_NAME))
    except SignatureError as exc:
        raise VerificationError("signature", exc.message) from exc
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()

    # 2. The manifest, strictly, and its agreement with the signed trusted comment.
    try:
        manifest = Manifest.from_json(manifest_bytes)
    except ManifestError as exc:
        raise VerificationError("manifest", f"{folder / MANIFEST_NAME}: {exc.message}") from exc
    tc = _parse_trusted_comment(signature.trusted_comment)
    expected = {
        "id": manifest.package_id,
        "issuer": manifest.issuer,
        "sequence": str(manifest.sequence),
        "priority": manifest.priority,
        "valid_until": manifest.valid_until,
        "manifest_sha256": manifest_sha256,
    }
    for field, value in expected.items():
        if tc.get(field) != value:
            raise VerificationError(
                "trusted-comment",
                f"trusted comment {field}={tc.get(field)!r} does not match the manifest ({value!r})",
            )
    if manifest.signer.key_id != key.key_id_hex:
        raise VerificationError(
            "signer",
            f"manifest signer.key_id {manifest.signer.key_id} is not the signing key {key.key_id_hex}",
        )

    # 3. Priority policy: the role comes from the pinned key file, never from the package.
    if manifest.priority == "khan-cap" and key.role != EMERGENCY:
        raise VerificationError(
            "routine-key-for-emergency",
            f"khẩn cấp package {manifest.package_id} is signed with {key.role} key {key.name} "
            f"({key.key_id_hex}); khẩn cấp needs a trusted emergency key",
        )

    # 4. Time.
    clock = (now or datetime.now(UTC)).astimezone(UTC)
    if manifest.created_at - CLOCK_SKEW > clock:
        raise VerificationError(
            "not-yet-valid", f"created {manifest.created} is in the future (clock {clock:%Y-%m-%dT%H:%M:%SZ})"
        )
    if manifest.valid_until_at <= clock:
        raise VerificationError("expired", f"package {manifest.package_id} expired at {manifest.valid_until}")

    # 5. Files.
    if len(manifest.files) > MAX_FILES:
        raise VerificationError("oversized", f"{len(manifest.files)} files, more than {MAX_FILES}")
    total = sum(f.size for f in manifest.files)
    if total > max_total_bytes:
        raise VerificationError(
            "oversized", f"the files add up to {total} bytes, more than {max_total_bytes}"
        )
    for entry in manifest.files:
        try:
            check_relative_path(entry.path, field="files[].path")
        except ManifestError as exc:  # already refused by from_json; kept as a second lock
            raise VerificationError("path", exc.message) from exc
        if entry.size > max_file_bytes:
            raise VerificationError(
                "oversized",
                f"{entry.path}: {entry.size} bytes, more than the {max_file_bytes}-byte per-file limit",
            )
        digest = _hash_file(folder, entry.path, entry.size, max_file_bytes)
        if digest != entry.sha256:
            raise VerificationError(
                "hash",
                f"{folder / entry.path}: sha256 {digest} does not match the manifest "
                f"({entry.sha256}): the file changed after signing",
            )
    unlisted = _walk(folder) - {f.path for f in manifest.files} - {MANIFEST_NAME, SIGNATURE_NAME}
    if unlisted:
        raise VerificationError(
            "unlisted-file", f"{folder}: files not in the manifest: {', '.join(sorted(unlisted))}"
        )

    # 6. Replay, last: only a package that passed everything is remembered.
    if state_file is not None:
        remember_sequence(state_file, manifest.issuer, manifest.sequence, manifest.package_id)
    return Verified(
        path=folder,
        manifest=manifest,
        key=key,
        manifest_sha256=manifest_sha256,
        sequence_checked=state_file is not None,
    )


def _load_state(state_file: Path) -> dict[str, object]:
    if not state_file.exists():
        return {"version": STATE_VERSION, "issuers": {}}
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(
            "state",
            f"{state_file}: unreadable state file ({exc}); refusing rather than "
            "forgetting which sequence numbers were seen",
        ) from exc
    if (
        not isinstance(state, dict)
        or state.get("version") != STATE_VERSION
        or not isinstance(state.get("issuers"), dict)
    ):
        raise VerificationError(
            "state", f"{state_file}: not a studio verifier state file (version {STATE_VERSION})"
        )
    return state


def remember_sequence(state_file: Path, issuer: str, sequence: int, package_id: str) -> None:
    """Record (issuer, sequence) in the state file, refusing one already there.

    Concurrent verifiers serialize on an flock of `<state>.lock`; the file is replaced atomically.

    Raises:
        VerificationError: 'replay' when the sequence was seen before; 'state' when the file is bad.
    """
    state_file.parent.mkdir(parents=True, exist_ok=True)
    lock_path = state_file.with_name(state_file.name + ".lock")
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        state = _load_state(state_file)
        issuers: dict[str, dict[str, object]] = state["issuers"]  # type: ignore[assignment]
        record = issuers.setdefault(issuer, {"seen": {}})
        seen = record.get("seen")
        if not isinstance(seen, dict):
            raise VerificationError("state", f"{state_file}: issuer {issuer!r} has a malformed 'seen' table")
        if str(sequence) in seen:
            raise VerificationError(
                "replay",
                f"sequence {sequence} of issuer {issuer} was already seen (package "
                f"{seen[str(sequence)]}); {package_id} is a replay",
            )
        seen[str(sequence)] = package_id
        record["highest"] = max(int(record.get("highest", 0)), sequence)  # type: ignore[call-overload]
        atomic_write_bytes(
            state_file,
            (json.dumps(state, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode("utf-8"),
            mode=0o600,
        )
