"""Build a package folder in the outbox, atomically.

Owns: laying the files out in a hidden staging folder, writing manifest.json and its signature last,
fsyncing every file and the folder, then one rename into place, so the dispatch side never sees a
half-written or unsigned package. Staging folders start with '.', which the dispatcher and verifier
never treat as packages; a crash leaves only such a folder, removed by the next build of that id.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from studio.config import atomic_write_bytes, fsync_dir
from studio.errors import PackageError
from studio.package.manifest import MANIFEST_NAME, SIGNATURE_NAME, FileEntry, Manifest

STAGING_PREFIX = ".staging-"


def build_package(
    outbox: Path,
    package_id: str,
    fill: Callable[[Path], Manifest],
    sign: Callable[[bytes], bytes] | None = None,
    before_publish: Callable[[Path, Manifest], None] | None = None,
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

    Returns:
        The published package folder.

    Raises:
        PackageError: the package exists, or a listed file is missing or differs from the manifest.
    """
    final = outbox / package_id
    if final.exists():
        raise PackageError(f"{final}: a package with id {package_id!r} already exists")
    outbox.mkdir(parents=True, exist_ok=True)
    staging = outbox / f"{STAGING_PREFIX}{package_id}"
    shutil.rmtree(staging, ignore_errors=True)
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
