"""Folder spool: copy a package into a folder the dispatch system watches, atomically and idempotently.

Owns: finding packages in the outbox (hidden staging folders are never packages), checking a package
with our own verifier against the workspace's own public keys before it leaves (a package changed
after signing never goes out), and the spool copy: into `.incoming-<id>` inside the target, fsync,
then one rename, so the watcher never sees a partial package. A package already in the spool with the
same manifest bytes is "already delivered"; with different bytes it is refused.
Must not import audio/tts/tui.
"""

from __future__ import annotations

import os
import shutil
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
        same = (final / MANIFEST_NAME).is_file() and (final / MANIFEST_NAME).read_bytes() == (
            package / MANIFEST_NAME
        ).read_bytes()
        if not same:
            raise PackageError(f"{final}: a different package with id {package_id} is already in the spool")
        delivery = Delivery(package_id, target, "already-delivered", 1, duration_s=time.monotonic() - started)
    else:
        staging = target_dir / f"{INCOMING_PREFIX}{package_id}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            shutil.copytree(package, staging, symlinks=False)
            for path in staging.rglob("*"):
                if path.is_file():
                    with path.open("rb") as fh:
                        os.fsync(fh.fileno())
            fsync_dir(staging)
            os.rename(staging, final)
            fsync_dir(target_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        delivery = Delivery(package_id, target, "delivered", 1, duration_s=time.monotonic() - started)
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


def mark_dispatched(store: Store, package_id: str, target: str) -> None:
    """Set a package built in this workspace to 'dispatched' (packages from elsewhere have no row)."""
    if any(p.package_id == package_id for p in store.packages()):
        store.set_package_state(package_id, "dispatched", actor="dispatch", detail={"target": target})
