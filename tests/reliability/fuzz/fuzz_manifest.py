"""The package verifier's manifest parsing: `Manifest.from_json` on the fuzzed bytes, then
`verify_package` on a real package whose manifest.json is those bytes, signed with a trusted key (so
the parser is reached, as for a compromised or buggy signer). Either passes or raises ManifestError /
VerificationError with a reason slug; nothing else.

Needs STUDIO_FUZZ_PACKAGE (a package folder to copy), STUDIO_FUZZ_KEYS (the keys folder holding the
'routine' key that signed it) and STUDIO_FUZZ_WORK (a scratch folder); tests/reliability/test_fuzz.py makes both.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import _harness
import atheris

with atheris.instrument_imports(include=["studio.package", *_harness.instrumented("json")[1:]]):
    from studio.package.manifest import MANIFEST_NAME, SIGNATURE_NAME, Manifest, ManifestError
    from studio.package.signing import PublicKey, key_paths, load_key
    from studio.package.verify import VerificationError, verify_package

REASONS = {"manifest", "trusted-comment", "signer", "routine-key-for-emergency", "not-yet-valid", "expired",
           "oversized", "path", "missing-file", "symlink", "not-a-file", "size", "hash", "unlisted-file",
           "unreadable"}
KEYS = Path(os.environ.get("STUDIO_FUZZ_KEYS", "/nonexistent"))
PACKAGE = Path(os.environ.get("STUDIO_FUZZ_WORK", "/nonexistent")) / "pkg"
shutil.copytree(os.environ.get("STUDIO_FUZZ_PACKAGE", "/nonexistent"), PACKAGE)
SECRET = load_key(KEYS, "routine")
TRUSTED = [PublicKey.load(key_paths(KEYS, "routine").public)]
NOW = datetime(2026, 11, 28, 6, 10, tzinfo=UTC)


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    try:
        Manifest.from_json(data)
    except ManifestError:
        pass
    (PACKAGE / MANIFEST_NAME).write_bytes(data)
    (PACKAGE / SIGNATURE_NAME).write_bytes(SECRET.sign(data, trusted_comment="studio-package id=fuzz"))
    try:
        verify_package(PACKAGE, TRUSTED, now=NOW)
    except VerificationError as exc:
        assert exc.reason in REASONS, (exc.reason, exc.message)


if __name__ == "__main__":
    _harness.fuzz(TestOneInput)
