"""Build a package folder in the outbox, atomically.

Owns: laying the files out in a hidden staging folder, writing manifest.json last, then one rename
into place, so the dispatch side never sees a half-written package.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from studio.config import atomic_write_bytes, fsync_dir
from studio.errors import PackageError
from studio.package.manifest import FileEntry, Manifest

STAGING_PREFIX = ".staging-"


def build_package(outbox: Path, package_id: str, fill: Callable[[Path], Manifest]) -> Path:
    """Create `outbox/<package_id>/`.

    Args:
        outbox: the folder packages are published into.
        package_id: the folder name; must not exist yet.
        fill: writes the package's files into the staging folder it is given and returns the manifest
            (whose `files` must list them); it runs before anything is visible.

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
        for entry in manifest.files:
            actual = FileEntry.of(staging, staging / entry.path)
            if actual != entry:
                raise PackageError(f"{staging / entry.path}: differs from its manifest entry")
        atomic_write_bytes(staging / "manifest.json", manifest.to_json())
        for path in staging.rglob("*"):
            if path.is_file():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        fsync_dir(staging)
        os.rename(staging, final)
        fsync_dir(outbox)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
