"""Folder spool: copy a package into a folder the dispatch system watches, atomically and idempotently.

Owns: finding packages in the outbox (hidden staging folders are never packages), checking a package
with our own verifier against the workspace's own public keys before it leaves (a package changed
after signing never goes out), and the spool copy: into a hidden `.incoming-<id>-<token>` inside the
target, owned by the copying process through its lock file (studio.locks), fsync, then one rename, so the
watcher never sees a partial package, and two dispatchers spooling at once never touch each other's copy.
A package already in the spool with the same manifest bytes is "already delivered"; with different bytes
it is refused.
Staging folders of killed dispatchers (their lock is free) are removed by the next spool of the package.
Must not import audio/tts/tui.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from studio.config import fsync_dir
from studio.errors import PackageError
from studio.locks import own_lock_file, try_lock_file, unlock_file
from studio.package.manifest import MANIFEST_NAME
from studio.package.signing import PublicKey, load_public_keys
from studio.package.verify import Verified, verify_package
from studio.store import Store

INCOMING_PREFIX = ".incoming-"
LOCK_SUFFIX = ".lock"


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
    return load_public_keys(keys_dir)


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
        staging = target_dir / f"{INCOMING_PREFIX}{package_id}-{secrets.token_hex(6)}"
        lock = staging.with_name(staging.name + LOCK_SUFFIX)
        owner = own_lock_file(lock)  # held from before the staging folder exists until it is settled
        if owner is None:
            raise PackageError(f"{staging}: being written by another process")
        try:
            staging.mkdir()
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
            unlock_file(lock, owner)
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
    """Remove this package's staging folders left by killed dispatchers: those whose lock no process holds
    (a live dispatcher holds its lock from before its folder exists). Also the `.incoming-<id>` folder of
    studio before 1.1, which had no lock."""
    names = {p.name.removesuffix(LOCK_SUFFIX) for p in target_dir.glob(f"{INCOMING_PREFIX}{package_id}*")}
    for name in sorted(names):
        if name != f"{INCOMING_PREFIX}{package_id}" and not name.startswith(f"{INCOMING_PREFIX}{package_id}-"):
            continue  # another package whose id starts with this one
        lock = target_dir / (name + LOCK_SUFFIX)
        fd = try_lock_file(lock)
        if fd is None:
            continue  # a live dispatcher is copying into it
        try:
            shutil.rmtree(target_dir / name, ignore_errors=True)
        finally:
            unlock_file(lock, fd)


def mark_dispatched(store: Store, package_id: str, target: str) -> None:
    """Set a package built in this workspace to 'dispatched' (packages from elsewhere have no row).

    Idempotent: a package already 'dispatched' is left as it is, so `dispatch --all` can call it for a
    package whose delivery was logged by a run killed before it updated the package's state.
    """
    row = store.find_package(package_id)
    if row is not None and row.state != "dispatched":
        store.set_package_state(package_id, "dispatched", actor="dispatch", detail={"target": target})
