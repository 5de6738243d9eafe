"""Folder spool: copy a package into a folder the dispatch system watches, atomically and idempotently.

Owns: finding packages in the outbox (hidden staging folders are never packages), checking a package
with our own verifier against the workspace's own public keys before it leaves (a package changed
after signing never goes out), and the spool copy: into a hidden `.incoming-<id>-<token>` inside the
target, owned by the copying process through a flock, fsync, then one rename, so the watcher never sees
a partial package, and two dispatchers spooling at once never touch each other's copy. A package already
in the spool with the same manifest bytes is "already delivered"; with different bytes it is refused.
Staging folders of killed dispatchers (their flock is free) are removed by the next spool of the package.
Must not import audio/tts/tui.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from studio.config import fsync_dir
from studio.errors import PackageError
from studio.package.manifest import MANIFEST_NAME
from studio.package.signing import PublicKey
from studio.package.verify import Verified, verify_package
from studio.store import Store

INCOMING_PREFIX = ".incoming-"
FRESH_PREFIX = ".incoming."
"""A staging folder for a moment, before it is locked and renamed to `.incoming-<id>-<token>`."""
FRESH_STALE_S = 600.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """What happened to one package at one target."""

    package_id: str
    target: str
    status: str
    """'delivered', 'already-delivered' or 'failed'."""
    attempts: int
    http_status: int | None = None
    error: str = ""
    duration_s: float = 0.0


def workspace_keys(keys_dir: Path) -> list[PublicKey]:
    """The public keys in a workspace's keys folder (what its own packages are signed with)."""
    return [PublicKey.load(p) for p in sorted(keys_dir.glob("*.pub"))]


def list_packages(outbox: Path) -> list[Path]:
    """Package folders in the outbox, oldest name first (hidden/staging folders skipped)."""
    if not outbox.is_dir():
        return []
    return sorted(
        p
        for p in outbox.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and (p / MANIFEST_NAME).is_file()
    )


def check_before_dispatch(package: Path, trusted: Sequence[PublicKey]) -> Verified:
    """Verify `package` (signature, hashes, expiry, paths) before it leaves; no replay state here.

    Raises:
        VerificationError: the package must not be sent.
    """
    return verify_package(package, trusted)


def spool_package(
    package: Path, target_dir: Path, *, trusted: Sequence[PublicKey], store: Store | None = None
) -> Delivery:
    """Copy a verified package into `target_dir`.

    Args:
        package: the package folder.
        target_dir: the spool folder (created if missing).
        trusted: keys the package must verify against before it is copied.
        store: when given, the attempt goes into the delivery log.

    Returns:
        The delivery ('delivered' or 'already-delivered').

    Raises:
        VerificationError: the package does not verify.
        PackageError: a different package with the same id is already in the spool.
    """
    started = time.monotonic()
    verified = check_before_dispatch(package, trusted)
    package_id = verified.manifest.package_id
    target = f"file:{target_dir}"
    target_dir.mkdir(parents=True, exist_ok=True)
    final = target_dir / package_id
    if final.exists():
        delivery = _already_there(package, final, package_id, target, started)
    else:
        _sweep_dead_incoming(target_dir, package_id)
        # Made under a name no sweep takes, locked, then renamed: a sweep never sees it unlocked.
        fresh = Path(tempfile.mkdtemp(prefix=FRESH_PREFIX, dir=target_dir))
        owner = os.open(fresh, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(owner, fcntl.LOCK_EX)
        staging = target_dir / f"{INCOMING_PREFIX}{package_id}-{secrets.token_hex(6)}"
        try:
            os.rename(fresh, staging)
        except BaseException:
            os.close(owner)
            shutil.rmtree(fresh, ignore_errors=True)
            raise
        try:
            shutil.copytree(package, staging, symlinks=False, dirs_exist_ok=True)
            for path in staging.rglob("*"):
                if path.is_file():
                    with path.open("rb") as fh:
                        os.fsync(fh.fileno())
            fsync_dir(staging)
            try:
                os.rename(staging, final)
            except OSError as exc:
                if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
                # Another dispatcher renamed its copy into place first.
                shutil.rmtree(staging, ignore_errors=True)
                delivery = _already_there(package, final, package_id, target, started)
            else:
                fsync_dir(target_dir)
                delivery = Delivery(package_id, target, "delivered", 1, duration_s=time.monotonic() - started)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        finally:
            os.close(owner)
    if store is not None:
        store.record_delivery(
            package_id,
            target,
            attempt=1,
            status="delivered",
            error="" if delivery.status == "delivered" else "already in the spool",
            duration_ms=int(delivery.duration_s * 1000),
        )
        mark_dispatched(store, package_id, target)
    return delivery


def _already_there(package: Path, final: Path, package_id: str, target: str, started: float) -> Delivery:
    """The delivery of a package whose folder is already in the spool: the same manifest, or refused."""
    same = (final / MANIFEST_NAME).is_file() and (final / MANIFEST_NAME).read_bytes() == (
        package / MANIFEST_NAME
    ).read_bytes()
    if not same:
        raise PackageError(f"{final}: a different package with id {package_id} is already in the spool")
    return Delivery(package_id, target, "already-delivered", 1, duration_s=time.monotonic() - started)


def _sweep_dead_incoming(target_dir: Path, package_id: str) -> None:
    """Remove this package's staging folders left by killed dispatchers (no process holds their flock),
    and fresh ones older than FRESH_STALE_S (a dispatcher killed in the instant before locking its own)."""
    now = time.time()
    fresh = []
    for candidate in target_dir.glob(f"{FRESH_PREFIX}*"):
        try:
            if now - candidate.lstat().st_mtime > FRESH_STALE_S:
                fresh.append(candidate)
        except OSError:
            continue
    for stale in [*target_dir.glob(f"{INCOMING_PREFIX}{package_id}-*"), *fresh]:
        try:
            fd = os.open(stale, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live dispatcher is copying into it
        else:
            shutil.rmtree(stale, ignore_errors=True)
        finally:
            os.close(fd)


def mark_dispatched(store: Store, package_id: str, target: str) -> None:
    """Set a package built in this workspace to 'dispatched' (packages from elsewhere have no row).

    Idempotent: a package already 'dispatched' is left as it is, so `dispatch --all` can call it for a
    package whose delivery was logged by a run killed before it updated the package's state.
    """
    row = next((p for p in store.packages() if p.package_id == package_id), None)
    if row is not None and row.state != "dispatched":
        store.set_package_state(package_id, "dispatched", actor="dispatch", detail={"target": target})
