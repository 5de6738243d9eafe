"""A full disk (a real, small tmpfs) and a read-only workspace: clear errors, nothing lost.

The workspace (--home) and the output folders live on a tmpfs mounted for the test (`mount -t tmpfs`;
when plain mount is refused, the test re-runs itself inside `unshare --user --map-root-user --mount`;
it skips, saying why, only when neither works). The disk is filled with a filler file to leave a
given number of bytes, then the commands users run are run as they run them (the `studio` CLI in a
child process): ingest of JSON and text, bulletin new/render/approve (package into the outbox),
convert (packages and --audio-only), keys new. Each either succeeds or exits with the documented
code and one line on stderr naming the path and saying the disk is full or read-only: no traceback,
no raw sqlite3 message, no temp file left, nothing partial visible. After the space is freed (or the
disk made writable again), the store passes `PRAGMA integrity_check`, everything stored before is
still there, every package still verifies, and the same commands succeed.

The read-only workspace is the same tmpfs remounted read-only (chmod does not stop root). Reading
commands still work there (the store opens the WAL database as immutable when no WAL is pending).

Set STUDIO_LONG=1 for the long variant (more fill levels), run in the bench.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from studio.audio.io import audio_info
from studio.config import atomic_write_text, open_workspace
from studio.errors import DiskFullError, ExitCode, ReadOnlyError, StoreError, storage_error
from studio.package.signing import PublicKey, key_paths
from studio.package.verify import verify_package
from studio.store import Store

LONG = bool(os.environ.get("STUDIO_LONG"))
IN_NAMESPACE = os.environ.get("STUDIO_DISK_IN_NAMESPACE") == "1"
DISK_SIZE = "24m"
ISSUER = "xa-thu"
TEMPLATE = "ngan"
SHORT_ITEMS = Path(__file__).resolve().parents[1] / "tui" / "data" / "tin-ngan.json"
STUDIO = [sys.executable, "-c", "import sys; from studio.cli import main; sys.exit(main())"]
# Bytes left free before each command: none at all, less than SQLite's WAL index (32 KiB), room for
# the store but not for audio, room for some audio but not a package.
LEAVE = (0, 24 << 10, 300 << 10, 1 << 20, 3 << 20) if LONG else (0, 300 << 10)
NOTICE = "Thông báo {n}\n\nHọp dân lúc 19h30.\n"
LEAKS = ("Traceback", "sqlite3.", "OperationalError", "disk I/O error", "Errno", "System error")


# -- the tmpfs --------------------------------------------------------------------------------------


def _mount(target: Path, size: str) -> str:
    """'' when a tmpfs of `size` is mounted on `target`, else why not."""
    if os.geteuid() != 0 and not IN_NAMESPACE:
        return "not root"
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(target)],
                           capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "no mount(8) on PATH"
    return "" if r.returncode == 0 else (r.stderr.strip() or f"mount exited {r.returncode}")


def _umount(target: Path) -> None:
    if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)  # a child still holds a file


@cache
def _plain_mount_refused() -> str:
    """'' when this process may mount a tmpfs, else mount's reason (STUDIO_DISK_FORCE_UNSHARE=1 pretends it
    may not, to exercise the namespace fallback)."""
    if os.environ.get("STUDIO_DISK_FORCE_UNSHARE") == "1" and not IN_NAMESPACE:
        return "refused on purpose (STUDIO_DISK_FORCE_UNSHARE=1)"
    with tempfile.TemporaryDirectory() as probe:
        why = _mount(Path(probe), "64k")
        if not why:
            _umount(Path(probe))
        return why


@cache
def _unshare_refused() -> str:
    if shutil.which("unshare") is None:
        return "no unshare(1) on PATH"
    r = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                        "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"],
                       capture_output=True, text=True, timeout=30)
    return "" if r.returncode == 0 else (r.stderr.strip() or f"unshare exited {r.returncode}")


@dataclass
class Disk:
    """A mounted tmpfs at `root`; `delegated` when the test already ran (and passed) in a namespace."""

    root: Path
    delegated: bool = False
    faults: list[str] = field(default_factory=list)

    def free(self) -> int:
        st = os.statvfs(self.root)
        return st.f_bavail * st.f_frsize

    def fill(self, leave: int) -> None:
        """Take all free space but `leave` bytes (rounded to the page size by tmpfs)."""
        self.release()
        with open(self.root / ".filler", "wb") as fh:
            want = max(0, self.free() - leave)
            chunk = b"\0" * (1 << 20)
            while want > 0:
                try:
                    want -= fh.write(chunk[:want])
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
        assert self.free() <= leave + 8192, (self.free(), leave)

    def release(self) -> None:
        (self.root / ".filler").unlink(missing_ok=True)

    def remount(self, *, read_only: bool) -> None:
        r = subprocess.run(["mount", "-o", f"remount,{'ro' if read_only else 'rw'}", str(self.root)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


@pytest.fixture
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    root = tmp_path / "disk"
    root.mkdir()
    refused = _plain_mount_refused()
    if refused and not IN_NAMESPACE:
        in_ns = _unshare_refused()
        if in_ns:
            pytest.skip(f"no tmpfs: mount refused ({refused}) and unshare refused ({in_ns})")
        r = subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", sys.executable, "-m", "pytest", "-q",
             "-p", "no:cacheprovider", f"{request.node.path}::{request.node.name}"],
            env={**os.environ, "STUDIO_DISK_IN_NAMESPACE": "1"}, capture_output=True, text=True,
            cwd=Path(__file__).resolve().parents[2], timeout=600)
        assert r.returncode == 0, f"in the namespace:\n{r.stdout[-4000:]}\n{r.stderr[-2000:]}"
        yield Disk(root, delegated=True)
        return
    why = _mount(root, DISK_SIZE)
    if why:
        pytest.skip(f"no tmpfs: {why}")
    try:
        yield Disk(root)
    finally:
        _umount(root)


# -- the workspace on it ----------------------------------------------------------------------------


@dataclass
class Desk:
    home: Path
    inputs: Path

    def studio(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "STUDIO_HOME": str(self.home), "COLUMNS": "200"}
        return subprocess.run([*STUDIO, *args], env=env, input=stdin, capture_output=True, text=True,
                              timeout=300)

    def ok(self, *args: str, stdin: str | None = None) -> str:
        r = self.studio(*args, stdin=stdin)
        assert r.returncode == 0, (args, r.returncode, r.stdout[-1000:], r.stderr[-3000:])
        return r.stdout

    def key(self) -> PublicKey:
        return PublicKey.load(key_paths(self.home / "keys", ISSUER).public)


def _desk(disk: Disk) -> Desk:
    home = disk.root / "home"
    (home / "voices").mkdir(parents=True)
    (home / "settings.toml").write_text(f'default_voice = "fake"\nissuer = "{ISSUER}"\n', encoding="utf-8")
    (home / "voices" / "fake.toml").write_text('id = "fake"\nname = "Giọng thử"\nengine = "fake"\n',
                                               encoding="utf-8")
    (home / "templates").mkdir()
    (home / "templates" / "ngan.toml").write_text(  # a short bulletin, no jingles: fast renders
        'id = "ngan"\nname = "Tin ngắn"\nopening = "Tin."\nitem = "{{ item.title }}. {{ item.body }}"\n'
        'closing = "Hết."\n', encoding="utf-8")
    inputs = disk.root.parent / "in"  # inputs are read, not written: off the tmpfs
    inputs.mkdir()
    desk = Desk(home, inputs)
    desk.ok("keys", "new", ISSUER)
    return desk


def _notice(desk: Desk, n: int) -> Path:
    path = desk.inputs / f"tb-{n:03d}.txt"
    path.write_text(NOTICE.format(n=n), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Snapshot:
    items: list[dict[str, object]]
    bulletins: dict[int, str]
    packages: list[str]
    audit: int


def _snapshot(desk: Desk) -> Snapshot:
    """What the store holds (read straight from SQLite) and the visible packages of every folder."""
    with sqlite3.connect(desk.home / "studio.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        items = [dict(zip(("id", "title", "body"), row, strict=True))  # (states change: compose uses items)
                 for row in db.execute("SELECT id, title, body FROM items ORDER BY id")]
        bulletins = dict(db.execute("SELECT id, segments FROM bulletins ORDER BY id").fetchall())
        audit = db.execute("SELECT count(*) FROM audit").fetchone()[0]
    db.close()
    return Snapshot(items, bulletins, _visible_packages(desk), audit)


def _package_folders(desk: Desk) -> list[Path]:
    roots = [desk.home / "outbox", desk.home.parent / "out"]
    return sorted(p for r in roots if r.is_dir() for p in r.iterdir() if not p.name.startswith("."))


def _visible_packages(desk: Desk) -> list[str]:
    key = desk.key()
    for folder in _package_folders(desk):
        verify_package(folder, [key])  # raises on anything partial or forged
    return [p.name for p in _package_folders(desk)]


def _temp_files(root: Path) -> list[str]:
    """What a failed write must not leave behind: atomic-write and audio temps, package staging folders
    and build locks (every hidden name but the test's filler)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.name.endswith(".tmp") or (p.name.startswith(".") and p.name != ".filler"))


def _assert_clear(r: subprocess.CompletedProcess[str], args: tuple[str, ...], *, words: tuple[str, ...],
                  names: str, codes: tuple[int, ...]) -> None:
    err = r.stderr.strip()
    context = f"studio {' '.join(args)} → {r.returncode}\n{err[-3000:]}"
    assert r.returncode in codes, context
    assert not any(leak in err for leak in LEAKS), context
    assert len(err.splitlines()) == 1, context
    assert all(w in err for w in words), context
    assert names in err, context


FULL = ("đĩa đầy", "the disk is full")
READ_ONLY = ("chỉ đọc", "read-only")


def _commands(desk: Desk, n: int, bulletin: int) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """The commands tried at each fill level (`bulletin`: a draft not yet rendered or approved), with the
    exit codes a disk failure may give: 4, except convert, which reports each failed input and exits 1
    (documented: some inputs failed)."""
    out = str(desk.home.parent / "out")
    storage = (int(ExitCode.STORAGE),)
    return [
        (("ingest", str(SHORT_ITEMS), str(_notice(desk, n))), storage),
        (("bulletin", "new", "--template", TEMPLATE, "--item", "2"), storage),
        (("bulletin", "render", str(bulletin), "--profile", "loa"), storage),
        (("bulletin", "approve", str(bulletin), "--key", ISSUER, "--profile", "loa"), storage),
        (("convert", str(_notice(desk, n + 1)), "--out", out), (int(ExitCode.JOB_FAILED), *storage)),
        (("convert", str(_notice(desk, n + 2)), "--out", out + "-audio", "--audio-only"),
         (int(ExitCode.JOB_FAILED), *storage)),
        (("keys", "new", f"k{n}"), storage),
    ]


# -- the tests --------------------------------------------------------------------------------------


def test_full_disk_gives_clear_errors_and_loses_nothing(disk: Disk) -> None:
    if disk.delegated:
        return
    started = time.perf_counter()
    desk = _desk(disk)
    desk.ok("ingest", str(_notice(desk, 1)), str(_notice(desk, 2)))
    desk.ok("bulletin", "new", "--template", TEMPLATE, "--item", "1")
    desk.ok("bulletin", "approve", "1", "--key", ISSUER, "--profile", "loa")
    shutil.rmtree(desk.home / "cache" / "speech")  # so renders below must write clips again
    before = _snapshot(desk)
    assert len(before.packages) == 1

    tried = failed = failed_at_zero = 0
    n = 10
    for leave in LEAVE:
        draft = int(desk.ok("bulletin", "new", "--template", TEMPLATE, "--item", "2").split()[0])
        commands = _commands(desk, n, draft)
        if leave and not LONG:  # CI: past 0 bytes, only the commands that write audio (the slow ones)
            commands = [c for c in commands if c[0][1] == "render" or "--audio-only" in c[0]]
        for args, codes in commands:
            disk.fill(leave)
            r = desk.studio(*args)
            tried += 1
            if r.returncode != 0:
                failed += 1
                failed_at_zero += leave == 0
                disk.faults.append(f"{leave} B free: studio {args[0]} {Path(args[1]).name}"
                                   + (" --audio-only" if "--audio-only" in args else ""))
                _assert_clear(r, args, words=FULL, names=str(disk.root), codes=codes)
            assert _temp_files(disk.root) == [], (args, leave)
            for audio in (disk.root / "out-audio").glob("*.*"):  # what is visible is whole
                if audio.suffix == ".mp3":
                    assert audio_info(audio).duration_s > 0.5, audio
            # Every visible package verifies, the store is intact, nothing stored before is gone.
            disk.release()  # (SQLite itself needs room to open a WAL database for reading and writing)
            now = _snapshot(desk)
            assert set(before.packages) <= set(now.packages)
            assert before.items == [i for i in now.items if i["id"] in {b["id"] for b in before.items}]
            assert all(now.bulletins[k] == v for k, v in before.bulletins.items())
        n += 3
    assert failed_at_zero == 7, disk.faults  # at 0 bytes free every command fails

    disk.release()
    for args, _ in _commands(desk, n, draft):  # the same commands, now with room: they succeed
        desk.ok(*args)
    after = _snapshot(desk)
    assert {i["id"] for i in before.items} <= {i["id"] for i in after.items}
    assert set(before.packages) < set(after.packages)
    print(f"\nfull disk: {tried} commands tried at {len(LEAVE)} fill levels ({', '.join(map(str, LEAVE))} B free), "
          f"{failed} failed with a clear disk-full error, the rest succeeded; then {len(_commands(desk, n, draft))} "
          f"reruns succeeded; 0 lost, 0 temp files left; {time.perf_counter() - started:.1f} s\n  "
          + "\n  ".join(disk.faults))


def test_read_only_workspace_reads_and_refuses_writes_clearly(disk: Disk) -> None:
    if disk.delegated:
        return
    desk = _desk(disk)
    desk.ok("ingest", str(_notice(desk, 1)), str(_notice(desk, 2)))
    desk.ok("bulletin", "new", "--template", TEMPLATE, "--item", "1")
    desk.ok("bulletin", "approve", "1", "--key", ISSUER, "--profile", "loa")
    desk.ok("bulletin", "new", "--template", TEMPLATE, "--item", "2")
    package = _package_folders(desk)[0]
    reads = [("items", "--json"), ("bulletin", "show", "1", "--json"), ("package", "list"),
             ("package", "verify", str(package), "--trust", str(key_paths(desk.home / "keys", ISSUER).public)),
             ("keys", "list")]
    expected = {args: desk.ok(*args) for args in reads}
    before = _snapshot(desk)

    disk.remount(read_only=True)
    try:
        for args in reads:  # same answers on a read-only disk
            assert desk.ok(*args) == expected[args], args
        assert "mười chín giờ" in desk.ok("text", "normalize", stdin="19h30\n")
        for args, codes in _commands(desk, 10, 2):
            r = desk.studio(*args)
            disk.faults.append(f"read-only: studio {args[0]} {args[1]}")
            _assert_clear(r, args, words=READ_ONLY, names=str(disk.root), codes=codes)
    finally:
        disk.remount(read_only=False)
    assert _temp_files(disk.root) == []
    assert _snapshot(desk) == before
    for args, _ in _commands(desk, 20, 2):  # writable again: the writes go through (the slow audio ones
        if args[0] in ("ingest", "keys") or args[1] == "new":  # are rerun by the full-disk test)
            desk.ok(*args)


def test_store_write_on_a_full_disk_is_a_disk_full_error(disk: Disk) -> None:
    """In-process: SQLITE_FULL inside a transaction used to escape as sqlite3.OperationalError (and the
    ROLLBACK after SQLite's own rollback could hide it); the store keeps every earlier row."""
    if disk.delegated:
        return
    from studio.models import Priority, SourceItem

    db = disk.root / "studio.db"

    def item(n: int, body: str = "") -> SourceItem:
        return SourceItem(source="test", source_id=str(n), title=f"Tin {n}", body=body or f"Nội dung {n}.",
                          priority=Priority.THONG_THUONG)

    with Store(db) as store:  # one connection held open (as the TUI does): its WAL index stays mapped
        for n in range(20):
            store.add_item(item(n))
        disk.fill(64 << 10)
        with pytest.raises(DiskFullError) as caught:
            for n in range(20, 400):  # bodies of 8 KB: the WAL outgrows the space left
                store.add_item(item(n, "Bão số 9. " * 800))
        assert str(db) in caught.value.message and "disk is full" in caught.value.message
        assert caught.value.exit_code == ExitCode.STORAGE
        kept = len(store.items())
    disk.release()
    with Store(db) as store:
        assert len(store.items()) == kept >= 20
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        store.add_item(item(1000))


def test_atomic_writes_cache_and_audio_on_a_full_disk(disk: Disk) -> None:
    """Settings/lexicon (atomic_write_text), speech clips (SpeechCache.put) and audio (write_audio as
    MP3: libsndfile said only "System error") end in a DiskFullError naming the file; the old file
    stays whole and no temp file is left. A render whose clips cannot be cached still renders."""
    if disk.delegated:
        return
    from studio.audio.io import write_audio
    from studio.tts.base import Rendered
    from studio.tts.cache import SpeechCache, synthesize_cached
    from studio.tts.registry import VoiceRegistry

    home = disk.root / "home"
    ws = open_workspace(home)
    settings = home / "settings.toml"
    atomic_write_text(settings, 'station_name = "Đài xã"\n')
    tone = (0.3 * np.sin(np.arange(48000 * 4) * 2 * np.pi * 440 / 48000)).astype(np.float32)
    cache = SpeechCache(ws.cache_dir / "speech")

    disk.fill(0)
    with pytest.raises(DiskFullError, match="settings.toml"):
        atomic_write_text(settings, 'station_name = "' + "x" * 100_000 + '"\n')
    assert settings.read_text(encoding="utf-8") == 'station_name = "Đài xã"\n'
    with pytest.raises(DiskFullError, match="speech"):
        cache.put("ab" * 32, Rendered(samples=tone, sample_rate=48000, voice_id="fake", engine="fake"))
    disk.fill(16 << 10)
    with pytest.raises(DiskFullError, match=r"tone\.mp3"):
        write_audio(home / "tone.mp3", tone, 48000, bitrate_kbps=96)
    with pytest.raises(DiskFullError, match=r"tone\.wav"):
        write_audio(home / "tone.wav", tone, 48000)
    assert not (home / "tone.mp3").exists() and not (home / "tone.wav").exists()
    assert _temp_files(disk.root) == []

    (ws.voices_dir / "fake.toml").parent.mkdir(parents=True, exist_ok=True)
    disk.release()
    (ws.voices_dir / "fake.toml").write_text('id = "fake"\nname = "Giọng thử"\nengine = "fake"\n', encoding="utf-8")
    disk.fill(0)
    rendered = synthesize_cached(VoiceRegistry(ws.voices_dir), "fake", "Họp dân lúc 19h30. Mang theo giấy tờ.",
                                 cache)
    assert rendered.samples.size > 0 and cache.unstored == 2 and _temp_files(disk.root) == []
    disk.release()
    write_audio(home / "tone.mp3", tone, 48000, bitrate_kbps=96)  # with room again: written


def test_storage_error_maps_errno_and_sqlite_and_nothing_else(tmp_path: Path) -> None:
    """The one mapping: ENOSPC/EDQUOT/EROFS and SQLITE_FULL always; CANTOPEN/IOERR/READONLY only when
    the disk really is read-only or full; anything else is left to the caller."""
    assert isinstance(storage_error(OSError(errno.ENOSPC, "No space left on device", "/x/y")), DiskFullError)
    assert isinstance(storage_error(OSError(errno.EDQUOT, "Disk quota exceeded", "/x/y")), DiskFullError)
    ro = storage_error(OSError(errno.EROFS, "Read-only file system", "/x/y"))
    assert isinstance(ro, ReadOnlyError) and ro.message.startswith("/x/y: ")
    assert storage_error(OSError(errno.EACCES, "Permission denied", "/x/y")) is None
    assert storage_error(ValueError("database or disk is full")) is None
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode, full.sqlite_errorname = 13, "SQLITE_FULL"  # as SQLite sets them
    assert isinstance(storage_error(full, tmp_path / "studio.db"), DiskFullError)
    cantopen = sqlite3.OperationalError("unable to open database file")
    cantopen.sqlite_errorcode, cantopen.sqlite_errorname = 14, "SQLITE_CANTOPEN"
    assert storage_error(cantopen, tmp_path / "studio.db") is None  # tmp_path is neither full nor read-only
    assert not isinstance(storage_error(OSError(errno.ENOSPC, "x")), StoreError)


async def test_tui_says_full_or_read_only_disk_in_vietnamese_and_keeps_running(disk: Disk) -> None:
    """The desk (Textual, driven by keys): ingest on a full disk, then on a read-only one, shows a
    dialog with the Vietnamese title and message naming the file; the app keeps running, the items
    stay listed, and with room again the same ingest goes through."""
    if disk.delegated:
        return
    from textual.widgets import DataTable, Static

    from tests.tui.helpers import desk_app, prepare_workspace, settle, stock
    from tests.tui.test_flows import ingest_short_items

    workspace = prepare_workspace(disk.root / "home")
    stock(workspace)
    with Store(workspace.db_path) as store:
        before = [(s.id, s.item.title) for s in store.items()]

    async def ingest_refused(app, pilot, words: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
        await ingest_short_items(pilot)
        await settle(pilot)
        texts = " ".join(str(w.content) for w in app.screen.query(Static))
        assert all(w in texts for w in words) and str(workspace.home) in texts, texts
        assert "Traceback" not in texts and "OperationalError" not in texts and app.is_running
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.query_one("#items", DataTable).row_count == len(before)

    app = desk_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        disk.fill(0)
        await ingest_refused(app, pilot, ("Đĩa đầy", "đĩa đầy"))
        disk.release()
    disk.remount(read_only=True)
    try:
        app = desk_app(workspace)
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)  # it opens and lists the items from a read-only workspace
            await ingest_refused(app, pilot, ("Thư mục chỉ đọc", "chỉ đọc"))
    finally:
        disk.remount(read_only=False)
    app = desk_app(workspace)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await ingest_short_items(pilot)
        await settle(pilot)
        assert app.screen.query_one("#items", DataTable).row_count == len(before) + 2
    with Store(workspace.db_path) as store:
        after = [(s.id, s.item.title) for s in store.items()]
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert set(before) < set(after) and len(after) == len(before) + 2


def test_keys_new_on_a_nearly_full_disk_leaves_no_half_pair(disk: Disk) -> None:
    """One page free: the secret key fitted, the public one did not. The secret stayed alone, and
    `keys new NAME` then refused for ever ("a key named … already exists")."""
    if disk.delegated:
        return
    desk = _desk(disk)
    disk.fill(4096)
    r = desk.studio("keys", "new", "bien-tap")
    _assert_clear(r, ("keys", "new"), words=FULL, names=str(desk.home / "keys"), codes=(int(ExitCode.STORAGE),))
    assert sorted(p.name for p in (desk.home / "keys").iterdir()) == [f"{ISSUER}.key", f"{ISSUER}.pub"]
    disk.release()
    desk.ok("keys", "new", "bien-tap")
