"""Build a package folder in the outbox, atomically, and sweep what killed builds left behind.

Owns: laying the files out in a hidden staging folder, writing manifest.json and its signature last,
fsyncing every file and the folder, then one rename into place, so the dispatch side never sees a
half-written or unsigned package. Staging folders start with '.', which the dispatcher and verifier
never treat as packages.

Ownership of a build: before anything else, the building process takes an exclusive `flock` on
`<outbox>/.staging-<id>.lock` and holds it until the build (and its caller's bookkeeping) is over; the
lock file also says who holds it (host, pid, start time; for people, the lock is what counts). The
kernel drops the lock when the process dies, however it dies, so a staging folder whose lock can be
taken belongs to a dead build: `sweep_staging` removes exactly those, and never one of a build still
running in another process (on NFS, flock is carried by byte-range locks, which lock across hosts).
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from studio.config import atomic_write_bytes, fsync_dir
from studio.errors import PackageError, storage_error
from studio.locks import OWNER_WAIT_S, own_lock_file, try_lock_file, unlock_file
from studio.package.manifest import MANIFEST_NAME, SIGNATURE_NAME, FileEntry, Manifest

STAGING_PREFIX = ".staging-"
LOCK_SUFFIX = ".lock"


def staging_path(outbox: Path, package_id: str) -> Path:
    """Where the package `package_id` is laid out before it is renamed into place."""
    return outbox / f"{STAGING_PREFIX}{package_id}"


def lock_path(outbox: Path, package_id: str) -> Path:
    """The lock file a build of `package_id` holds for as long as it runs."""
    return outbox / f"{STAGING_PREFIX}{package_id}{LOCK_SUFFIX}"


class BuildLock:
    """An exclusive flock on a package's lock file; `release()` removes the file, then lets go."""

    def __init__(self, outbox: Path, package_id: str, fd: int) -> None:
        self.outbox = outbox
        self.package_id = package_id
        self.path = lock_path(outbox, package_id)
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        """Remove the lock file (while still holding it, so nobody locks a file about to vanish), then
        close it. Idempotent."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        unlock_file(self.path, fd)


def try_lock(outbox: Path, package_id: str, *, wait_s: float = 0.0) -> BuildLock | None:
    """Take the build lock of `package_id`: None when another process holds it (for `wait_s`: the
    owner of a new build waits for a sweeper checking its fresh lock file; a sweeper does not wait).

    Raises:
        OSError: the outbox cannot be written.
    """
    path = lock_path(outbox, package_id)
    fd = own_lock_file(path, wait_s) if wait_s > 0 else try_lock_file(path)
    if fd is None:
        return None
    owner = f"host={socket.gethostname()} pid={os.getpid()} started={time.time():.3f}\n".encode()
    lock = BuildLock(outbox, package_id, fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, owner, 0)
    except OSError as exc:  # a full disk: no lock file left behind, and the error names it
        lock.release()
        mapped = storage_error(exc, outbox)
        if mapped is None:
            raise
        raise mapped from exc
    return lock


@contextmanager
def build_lock(outbox: Path, package_id: str) -> Iterator[BuildLock]:
    """Hold the build lock of `package_id` for the `with` block.

    Raises:
        PackageError: another process is building that package id.
    """
    outbox.mkdir(parents=True, exist_ok=True)
    lock = try_lock(outbox, package_id, wait_s=OWNER_WAIT_S)
    if lock is None:
        raise PackageError(f"{lock_path(outbox, package_id)}: package {package_id!r} is being built by another "
                           "process")
    try:
        yield lock
    finally:
        lock.release()


def sweep_staging(outbox: Path) -> list[str]:
    """Remove the staging folders (and lock files) of builds that are no longer running.

    A staging folder is removed only while this process holds its build lock, so a build running in
    another process (which holds the lock from before its staging folder exists until after the
    rename) is never touched. Returns the package ids whose leftovers were removed.

    Raises:
        OSError: the outbox cannot be listed or written.
    """
    if not outbox.is_dir():
        return []
    ids: set[str] = set()
    with os.scandir(outbox) as entries:
        for entry in entries:
            if not entry.name.startswith(STAGING_PREFIX) or entry.is_symlink():
                continue
            rest = entry.name[len(STAGING_PREFIX):]
            if entry.is_dir():
                ids.add(rest)
            elif rest.endswith(LOCK_SUFFIX):
                ids.add(rest[: -len(LOCK_SUFFIX)])
    removed: list[str] = []
    for package_id in sorted(ids):
        lock = try_lock(outbox, package_id)
        if lock is None:
            continue  # a live build
        try:
            staging = staging_path(outbox, package_id)
            if staging.is_dir() and not staging.is_symlink():
                shutil.rmtree(staging)
            removed.append(package_id)
        finally:
            lock.release()
    if removed:
        fsync_dir(outbox)
    return removed


def build_package(
    outbox: Path,
    package_id: str,
    fill: Callable[[Path], Manifest],
    sign: Callable[[bytes], bytes] | None = None,
    before_publish: Callable[[Path, Manifest], None] | None = None,
    *,
    lock: BuildLock | None = None,
) -> Path:
    """Create `outbox/<package_id>/`.

    Args:
        outbox: the folder packages are published into.
        package_id: the folder name; must not exist yet.
        fill: writes the package's files into the staging folder it is given and returns the manifest
            (whose `files` must list them); it runs before anything is visible.
        sign: given the exact manifest bytes, returns the `manifest.json.minisig` bytes. Without it the
            package is unsigned (only for tests of the layout; the verifier refuses such a package).
        before_publish: called with the final path and the manifest once everything is written and
            fsynced, just before the rename makes the package visible (a caller's record that must not
            miss a published package: a kill after the rename then finds it).
        lock: the build lock of `package_id`, when the caller took it first (to cover its own
            bookkeeping before and after the build); otherwise it is taken and released here.

    Returns:
        The published package folder.

    Raises:
        PackageError: the package exists, another process is building it, or a listed file is missing
            or differs from the manifest.
    """
    if lock is None:
        with build_lock(outbox, package_id) as own:
            return build_package(outbox, package_id, fill, sign, before_publish, lock=own)
    if not lock.held or lock.package_id != package_id or lock.outbox != outbox:
        raise PackageError(f"{lock.path}: not the held build lock of {outbox / package_id}")
    final = outbox / package_id
    if final.exists():
        raise PackageError(f"{final}: a package with id {package_id!r} already exists")
    staging = staging_path(outbox, package_id)
    shutil.rmtree(staging, ignore_errors=True)  # a dead build of this id: we hold its lock
    staging.mkdir()
    try:
        manifest = fill(staging)
        listed = {entry.path for entry in manifest.files}
        for entry in manifest.files:
            actual = FileEntry.of(staging, staging / entry.path)
            if actual != entry:
                raise PackageError(f"{staging / entry.path}: differs from its manifest entry")
        on_disk = {p.relative_to(staging).as_posix() for p in staging.rglob("*") if not p.is_dir()}
        if on_disk - listed:
            raise PackageError(f"{staging}: files not in the manifest: {', '.join(sorted(on_disk - listed))}")
        data = manifest.to_json()
        atomic_write_bytes(staging / MANIFEST_NAME, data)
        if sign is not None:
            atomic_write_bytes(staging / SIGNATURE_NAME, sign(data))
        for path in staging.rglob("*"):
            # Temp-file writes leave 0600; the dispatch side (often another account) must read them.
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        os.chmod(staging, 0o755)
        fsync_dir(staging)
        if before_publish is not None:  # e.g. convert's ledger: written before the package can be seen
            before_publish(final, manifest)
        os.rename(staging, final)
        fsync_dir(outbox)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
