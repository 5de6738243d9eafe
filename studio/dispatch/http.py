"""HTTP delivery: POST a package to the dispatch system with retries, backoff and an idempotency key.

Owns: the wire form (one uncompressed tar of the package folder, `Content-Type: application/x-tar`,
`Idempotency-Key: <package id>` and `X-Studio-*` headers; docs/package-spec.md §7), the retry policy,
and the delivery log rows. Retried: connection errors, timeouts (a stalled server), 408, 409 (the
server is still processing the same key), 425, 429 and 5xx, honouring `Retry-After` (seconds, capped).
Not retried: other 4xx and redirects (never followed: a package goes only where it was sent). The
receiver deduplicates on the idempotency key, so a retry after a lost response is safe.
Standard library only (urllib): one POST per attempt needs no client library.
Must not import audio/tts/tui.
"""

from __future__ import annotations

import hashlib
import random
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from studio.dispatch.outbox import Delivery, check_before_dispatch, mark_dispatched, workspace_keys
from studio.errors import InputError
from studio.package.signing import PublicKey
from studio.store import Store

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
USER_AGENT = "studio-dispatch/1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how often to try again."""

    attempts: int = 6
    """Total attempts, the first included."""
    base_delay_s: float = 1.0
    """Wait before the 2nd attempt; doubled each time after."""
    max_delay_s: float = 60.0
    """Cap on any single wait, Retry-After included."""
    timeout_s: float = 30.0
    """Socket timeout of one attempt (connect and each read): a stalled server counts as a failure."""
    jitter: bool = True
    """Spread waits over [d/2, d] so many stations do not retry in step."""

    def delay_s(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt number `attempt` (1-based)."""
        d = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return d * (0.5 + rng() / 2) if self.jitter else d


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None  # urllib then raises HTTPError with the 3xx status


def package_tar(package: Path, out: Path) -> None:
    """Write `package` as a reproducible tar: sorted names under '<id>/', mtime 0, uid/gid 0, 0644/0755."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(package.rglob("*")):
            if path.is_symlink():
                raise InputError(f"{path}: symbolic link in a package; refusing to send it")
            tar.add(
                path,
                arcname=f"{package.name}/{path.relative_to(package).as_posix()}",
                recursive=False,
                filter=clean,
            )


def _retry_after(headers, cap_s: float) -> float | None:  # type: ignore[no-untyped-def]
    value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        return min(cap_s, max(0.0, float(value)))
    except ValueError:
        return None  # an HTTP-date: fall back to our own backoff


def post_package(
    package: Path,
    url: str,
    *,
    trusted: Sequence[PublicKey] | None = None,
    policy: RetryPolicy | None = None,
    store: Store | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
    keys_dir: Path | None = None,
) -> Delivery:
    """POST a verified package to `url`, retrying as `policy` says.

    Args:
        package: the package folder.
        url: an http:// or https:// endpoint.
        trusted: keys the package must verify against before it is sent (default: the public keys in
            `keys_dir`, else in the package's workspace `<outbox>/../keys`).
        policy: retry policy (default RetryPolicy()).
        store: when given, every attempt goes into the delivery log and the package row is updated.
        sleep, rng: injected for tests.
        keys_dir: where to find the workspace's public keys when `trusted` is not given.

    Returns:
        The delivery: 'delivered' (2xx) or 'failed' (permanent error, or attempts exhausted).

    Raises:
        InputError: not an http(s) URL.
        VerificationError: the package does not verify; nothing is sent.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"--to {url!r}: expected an http:// or https:// URL")
    policy = policy or RetryPolicy()
    if trusted is None:
        trusted = workspace_keys(keys_dir or package.resolve().parent.parent / "keys")
    verified = check_before_dispatch(package, trusted)
    manifest = verified.manifest
    opener = urllib.request.build_opener(_NoRedirect())
    started = time.monotonic()
    last_status: int | None = None
    last_error = ""
    with tempfile.TemporaryDirectory(prefix="studio-dispatch-") as tmp:
        body = Path(tmp) / f"{manifest.package_id}.tar"
        package_tar(package, body)
        size = body.stat().st_size
        digest = hashlib.sha256(body.read_bytes()).hexdigest()
        headers = {
            "Content-Type": "application/x-tar",
            "Content-Length": str(size),
            "User-Agent": USER_AGENT,
            "Idempotency-Key": manifest.package_id,
            "X-Studio-Package-Id": manifest.package_id,
            "X-Studio-Issuer": manifest.issuer,
            "X-Studio-Sequence": str(manifest.sequence),
            "X-Studio-Priority": manifest.priority,
            "X-Studio-Manifest-Sha256": verified.manifest_sha256,
            "X-Studio-Body-Sha256": digest,
        }
        for attempt in range(1, policy.attempts + 1):
            t0 = time.monotonic()
            retry_after: float | None = None
            try:
                with body.open("rb") as fh:
                    request = urllib.request.Request(url, data=fh, method="POST", headers=headers)
                    with opener.open(request, timeout=policy.timeout_s) as response:
                        last_status = response.status
                        response.read(1 << 16)
                status = "delivered"
                last_error = ""
            except urllib.error.HTTPError as exc:
                last_status = exc.code
                last_error = f"HTTP {exc.code} {exc.reason}"
                retry_after = _retry_after(exc.headers, policy.max_delay_s)
                exc.close()
                status = "retry" if exc.code in RETRYABLE_STATUS else "failed"
            except OSError as exc:  # URLError, timeouts (a stalled server), refused/reset connections
                last_status = None
                reason = getattr(exc, "reason", exc)
                last_error = f"{type(reason).__name__}: {reason}"
                status = "retry"
            if status == "retry" and attempt == policy.attempts:
                status = "failed"
                last_error += f" (gave up after {attempt} attempts)"
            if store is not None:
                store.record_delivery(
                    manifest.package_id,
                    url,
                    attempt=attempt,
                    status=status,
                    http_status=last_status,
                    error=last_error,
                    duration_ms=int((time.monotonic() - t0) * 1000),
                )
            if status == "delivered":
                if store is not None:
                    mark_dispatched(store, manifest.package_id, url)
                return Delivery(
                    manifest.package_id,
                    url,
                    "delivered",
                    attempt,
                    last_status,
                    duration_s=time.monotonic() - started,
                )
            if status == "failed":
                return Delivery(
                    manifest.package_id,
                    url,
                    "failed",
                    attempt,
                    last_status,
                    last_error,
                    duration_s=time.monotonic() - started,
                )
            sleep(retry_after if retry_after is not None else policy.delay_s(attempt, rng))
    raise AssertionError("unreachable: the loop returns on its last attempt")  # pragma: no cover
