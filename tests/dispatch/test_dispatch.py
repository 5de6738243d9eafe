"""Dispatch: folder spool and HTTP POST against a local server that fails, stalls and sees duplicates."""

from __future__ import annotations

import io
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace
from studio.dispatch.http import RetryPolicy, package_tar, post_package
from studio.dispatch.outbox import spool_package, workspace_keys
from studio.errors import InputError, PackageError
from studio.package.signing import PublicKey
from studio.package.verify import VerificationError, verify_package
from studio.store import Store
from tests.package.helpers import make_package, pubkey

FAST = RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05, timeout_s=0.5, jitter=False)


@dataclass
class Receiver:
    """A dispatch-side endpoint: stores each package once per Idempotency-Key, with scripted misbehaviour."""

    script: list[str] = field(default_factory=list)
    """Per request, in order: 'ok', '503', '429', '400', '307', 'stall' (store, then hang past the client's
    timeout: the response is lost). Requests after the script are 'ok'."""
    requests: list[dict[str, str]] = field(default_factory=list)
    stored: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with state.lock:
                n = len(state.requests)
                state.requests.append(dict(self.headers))
                action = state.script[n] if n < len(state.script) else "ok"
            key = self.headers["Idempotency-Key"]
            if action in ("ok", "stall"):
                with state.lock:
                    duplicate = key in state.stored
                    state.stored.setdefault(key, body)
                if action == "stall":
                    time.sleep(1.5)  # past the client's timeout; the server did keep the package
                    return
                self._reply(200 if duplicate else 201)
            elif action == "429":
                self._reply(429, {"Retry-After": "0.02"})
            elif action == "307":
                self._reply(307, {"Location": "http://127.0.0.1:9/elsewhere"})
            else:
                self._reply(int(action))

        def _reply(self, code: int, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/packages"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def package(workspace: Workspace) -> Path:
    return make_package(workspace, now=datetime.now(UTC)).path  # dispatch verifies against the real clock


def _keys(workspace: Workspace) -> list[PublicKey]:
    return workspace_keys(workspace.keys_dir)


def _post(package: Path, url: str, workspace: Workspace, store: Store, sleeps: list[float]):  # type: ignore[no-untyped-def]
    return post_package(package, url, trusted=_keys(workspace), policy=FAST, store=store, sleep=sleeps.append)


def test_delivery_retries_on_failures_with_exponential_backoff(
    package: Path, workspace: Workspace, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.script = ["503", "503", "ok"]
    sleeps: list[float] = []
    with Store(workspace.db_path) as store:
        delivery = _post(package, url, workspace, store, sleeps)
        log = store.deliveries(package.name)
        (stored,) = store.packages()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("delivered", 3, 201)
    assert sleeps == [0.01, 0.02]
    assert [(r["attempt"], r["status"], r["http_status"]) for r in log] == [
        (1, "retry", 503),
        (2, "retry", 503),
        (3, "delivered", 201),
    ]
    assert stored.state == "dispatched"
    assert {r["Idempotency-Key"] for r in state.requests} == {package.name}


def test_stalled_server_times_out_and_the_retry_is_deduplicated(
    package: Path, workspace: Workspace, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    state.script = ["stall"]
    sleeps: list[float] = []
    started = time.monotonic()
    with Store(workspace.db_path) as store:
        delivery = _post(package, url, workspace, store, sleeps)
        log = store.deliveries(package.name)
    assert delivery.status == "delivered" and delivery.attempts == 2 and delivery.http_status == 200
    assert time.monotonic() - started < 1.4  # gave up on the stalled attempt after the 0.5 s timeout
    assert "timed out" in log[0]["error"].lower() and log[0]["status"] == "retry"
    assert len(state.requests) == 2 and list(state.stored) == [package.name]  # one copy on the server


def test_duplicate_dispatch_keeps_one_copy_and_the_receiver_can_verify_it(
    package: Path, workspace: Workspace, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    state, url = receiver
    with Store(workspace.db_path) as store:
        first = _post(package, url, workspace, store, [])
        second = _post(package, url, workspace, store, [])
    assert (first.http_status, second.http_status) == (201, 200)
    assert len(state.requests) == 2 and len(state.stored) == 1
    headers = state.requests[0]
    assert headers["Content-Type"] == "application/x-tar" and headers["X-Studio-Sequence"] == "1"
    with tarfile.open(fileobj=io.BytesIO(state.stored[package.name])) as tar:
        tar.extractall(tmp_path / "received", filter="data")
    received = tmp_path / "received" / package.name
    verified = verify_package(
        received, [PublicKey.load(pubkey(workspace, "routine"))], state_file=tmp_path / "state.json"
    )
    assert verified.manifest_sha256 == headers["X-Studio-Manifest-Sha256"]


def test_retry_after_is_honoured(package: Path, workspace: Workspace, receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    state.script = ["429"]
    sleeps: list[float] = []
    with Store(workspace.db_path) as store:
        assert _post(package, url, workspace, store, sleeps).status == "delivered"
    assert sleeps == [0.02]


@pytest.mark.parametrize(
    ("script", "attempts", "status"), [(["400"], 1, 400), (["307"], 1, 307), (["503"] * 4, 4, 503)]
)
def test_permanent_errors_and_exhausted_retries_fail(
    package: Path,
    workspace: Workspace,
    receiver: tuple[Receiver, str],
    script: list[str],
    attempts: int,
    status: int,
) -> None:
    state, url = receiver
    state.script = script
    with Store(workspace.db_path) as store:
        delivery = _post(package, url, workspace, store, [])
        log = store.deliveries(package.name)
        (stored,) = store.packages()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", attempts, status)
    assert log[-1]["status"] == "failed" and len(log) == attempts and stored.state == "approved"
    assert state.stored == {}


def test_connection_refused_is_retried_then_fails(package: Path, workspace: Workspace) -> None:
    sleeps: list[float] = []
    with Store(workspace.db_path) as store:
        delivery = _post(package, "http://127.0.0.1:9/none", workspace, store, sleeps)
    assert (
        delivery.status == "failed"
        and delivery.attempts == 4
        and "gave up after 4 attempts" in delivery.error
    )
    assert sleeps == [0.01, 0.02, 0.04]


def test_tampered_package_is_never_sent(
    package: Path, workspace: Workspace, receiver: tuple[Receiver, str]
) -> None:
    state, url = receiver
    (package / "loa.mp3").write_bytes(b"ID3" + b"\0" * 100)
    with Store(workspace.db_path) as store, pytest.raises(VerificationError, match="hash|size"):
        _post(package, url, workspace, store, [])
    assert state.requests == []


def test_only_http_urls(package: Path, workspace: Workspace) -> None:
    with pytest.raises(InputError, match="expected an http"):
        post_package(package, "file:///etc/passwd", trusted=_keys(workspace))


def test_backoff_is_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=60.0)
    assert [policy.delay_s(n, rng=lambda: 1.0) for n in (1, 2, 3, 7, 8)] == [1.0, 2.0, 4.0, 60.0, 60.0]
    assert policy.delay_s(3, rng=lambda: 0.0) == 2.0


def test_tar_is_reproducible(package: Path, tmp_path: Path) -> None:
    package_tar(package, tmp_path / "a.tar")
    package_tar(package, tmp_path / "b.tar")
    assert (tmp_path / "a.tar").read_bytes() == (tmp_path / "b.tar").read_bytes()


def test_folder_spool_is_atomic_and_idempotent(package: Path, workspace: Workspace, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    with Store(workspace.db_path) as store:
        first = spool_package(package, spool, trusted=_keys(workspace), store=store)
        again = spool_package(package, spool, trusted=_keys(workspace), store=store)
    assert (first.status, again.status) == ("delivered", "already-delivered")
    assert [p.name for p in spool.iterdir()] == [package.name]
    verify_package(spool / package.name, [PublicKey.load(pubkey(workspace, "routine"))])
    other = tmp_path / "other" / package.name
    other.parent.mkdir()
    import shutil

    shutil.copytree(package, other)
    (spool / package.name / "manifest.json").write_bytes(b"{}")
    with pytest.raises(PackageError, match="different package"):
        spool_package(other, spool, trusted=_keys(workspace))


def test_cli_dispatch_all_to_http_and_spool(workspace: Workspace, receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    make_package(workspace, now=datetime.now(UTC))
    make_package(workspace, now=datetime.now(UTC))
    runner = CliRunner(mix_stderr=False)
    result = runner.invoke(main, ["dispatch", "--all", "--to", url, "--timeout", "2"])
    assert result.exit_code == 0, result.output
    assert [line.split("\t")[1] for line in result.stdout.splitlines()] == ["delivered", "delivered"]
    assert len(state.stored) == 2
    again = runner.invoke(main, ["dispatch", "--all", "--to", url])
    assert again.exit_code == 0 and again.stdout == ""  # already delivered there: skipped
    spooled = runner.invoke(main, ["dispatch", "--all"])
    assert spooled.exit_code == 0 and len(list((workspace.home / "spool").iterdir())) == 2
    state.script = ["400"] * 10
    bad = runner.invoke(main, ["dispatch", (sorted(workspace.outbox.iterdir()))[0].name, "--to", url + "/x"])
    assert bad.exit_code == 1 and "HTTP 400" in bad.stderr
    usage = runner.invoke(main, ["dispatch"])
    assert usage.exit_code == 2


def _spool_in_child(package: str, spool: str, keys: str, start: float, out: object) -> None:
    """One dispatcher process: wait for the common start, spool, report the status or the error."""
    try:
        trusted = [PublicKey.load(p) for p in sorted(Path(keys).glob("*.pub"))]
        while time.time() < start:
            pass
        out.put(spool_package(Path(package), Path(spool), trusted=trusted).status)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        out.put(f"error: {type(exc).__name__}: {exc}")


def test_two_dispatchers_spooling_the_same_package_at_once_never_show_a_partial_one(
    package: Path, workspace: Workspace, tmp_path: Path
) -> None:
    """Regression: both used `.incoming-<id>`; one's rmtree/copytree ran inside the other's copy, so a
    dispatcher failed half-way or renamed a partial folder into the spool. Now each has its own
    staging folder (owned by a flock) and the loser of the rename finds the same package in place."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    trusted = _keys(workspace)
    for round_ in range(12):
        spool = tmp_path / f"spool-{round_}"
        out = ctx.Queue()
        start = time.time() + 0.3
        procs = [ctx.Process(target=_spool_in_child, args=(str(package), str(spool), str(workspace.keys_dir),
                                                           start, out)) for _ in range(3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
        results = sorted(out.get(timeout=5) for _ in procs)
        assert results == ["already-delivered", "already-delivered", "delivered"], (round_, results)
        assert [p.name for p in spool.iterdir()] == [package.name], round_  # no staging folder left
        verify_package(spool / package.name, trusted)
