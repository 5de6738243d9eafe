"""Recovery after a kill: dead builds' staging folders are swept and their 'building' rows settled; a build
running in another process is never touched; an approval re-run after a kill finishes, never signs twice.

The builds run in real child processes (SIGKILLed for real, or held in the middle of their work).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace
from studio.models import Bulletin, Segment, SourceItem
from studio.package.assemble import recover_packages
from studio.package.build import STAGING_PREFIX, lock_path, staging_path, sweep_staging, try_lock
from studio.package.verify import verify_package
from studio.store import Store
from tests.package.helpers import key, make_package

ROOT = Path(__file__).resolve().parents[2]

_CHILD = textwrap.dedent('''
    import os, signal, sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from studio import produce
    from studio.config import open_workspace
    from studio.package import assemble
    from tests.package.helpers import make_package

    home, point = Path(sys.argv[1]), sys.argv[2]
    original_render = produce.render_rendition
    def render(*args, **kwargs):
        if point == "hold":  # stop in the middle of the build until the test says go
            (home / "held").write_text(str(os.getpid()))
            while not (home / "go").exists():
                time.sleep(0.02)
        return original_render(*args, **kwargs)
    produce.render_rendition = render
    if point == "before-rename":
        os.rename = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
    if point == "after-rename":
        original_build = assemble.build_package
        def build(*args, **kwargs):
            original_build(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        assemble.build_package = build
    make_package(open_workspace(home), now=datetime.now(UTC).replace(microsecond=0))
''')


def _child(workspace: Workspace, point: str) -> subprocess.Popen[bytes]:
    key(workspace, "routine")  # made here, not in the child
    return subprocess.Popen([sys.executable, "-c", _CHILD, str(workspace.home), point], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _killed(workspace: Workspace, point: str) -> None:
    proc = _child(workspace, point)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]


def _row(workspace: Workspace):  # type: ignore[no-untyped-def]
    with Store(workspace.db_path) as store:
        (row,) = store.packages()
        return row


def _hidden(workspace: Workspace) -> list[str]:
    return sorted(p.name for p in workspace.outbox.iterdir() if p.name.startswith("."))


def test_a_killed_builds_staging_is_swept_and_its_row_failed_and_its_number_never_reused(
        workspace: Workspace) -> None:
    # Was: the hidden .staging-* folder stayed for ever and the row stayed 'building' for ever.
    _killed(workspace, "before-rename")
    row = _row(workspace)
    assert row.state == "building" and staging_path(workspace.outbox, row.package_id).is_dir()
    with Store(workspace.db_path) as store:
        done = recover_packages(workspace, store)
        settled = store.get_package(row.package_id)
    assert done.failed == (row.package_id,) and done.errors == ()
    assert _hidden(workspace) == []  # staging folder and lock file gone
    assert settled.state == "failed" and "sequence 1" in settled.note
    assert not (workspace.outbox / row.package_id).exists()
    again = make_package(workspace, now=datetime.now(UTC).replace(microsecond=0))
    assert again.manifest.sequence == 2  # the dead build's number is never handed out again


def test_a_row_whose_package_was_published_before_the_kill_becomes_approved(workspace: Workspace) -> None:
    _killed(workspace, "after-rename")
    row = _row(workspace)
    assert row.state == "building"
    verify_package(Path(row.path), [key(workspace, "routine").public_key])
    # The recovery runs by itself before the next build (here: `studio package recover`, then a build).
    result = CliRunner(mix_stderr=False).invoke(main, ["package", "recover"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["approved", row.package_id]
    assert _row(workspace).state == "approved" and _hidden(workspace) == []


def test_a_build_running_in_another_process_is_never_touched(workspace: Workspace) -> None:
    proc = _child(workspace, "hold")
    try:
        deadline = time.monotonic() + 120
        while not (workspace.home / "held").exists():
            assert proc.poll() is None, proc.communicate()[1].decode(errors="replace")[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        row = _row(workspace)
        staging = staging_path(workspace.outbox, row.package_id)
        assert row.state == "building" and staging.is_dir()
        with Store(workspace.db_path) as store:
            done = recover_packages(workspace, store)
        assert done.busy == (row.package_id,) and done.failed == done.approved == done.swept == ()
        assert sweep_staging(workspace.outbox) == []
        assert try_lock(workspace.outbox, row.package_id) is None  # its owner holds the lock
        assert staging.is_dir() and _row(workspace).state == "building"
    finally:
        (workspace.home / "go").write_text("")
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    assert _row(workspace).state == "approved" and _hidden(workspace) == []
    verify_package(workspace.outbox / row.package_id, [key(workspace, "routine").public_key])


def test_leftovers_without_an_owner_are_swept(workspace: Workspace) -> None:
    workspace.outbox.mkdir(parents=True, exist_ok=True)
    old = workspace.outbox / f"{STAGING_PREFIX}xa-thu-20260101T000000Z-0000abcd"  # from before the lock files
    old.mkdir()
    (old / "loa.mp3").write_bytes(b"partial")
    lock_path(workspace.outbox, "xa-thu-20260101T000000Z-1111abcd").write_text("host=x pid=1\n")
    assert sweep_staging(workspace.outbox) == ["xa-thu-20260101T000000Z-0000abcd",
                                               "xa-thu-20260101T000000Z-1111abcd"]
    assert _hidden(workspace) == []


def _bulletin(workspace: Workspace, text: str) -> int:
    (workspace.voices_dir / "fake.toml").write_text('id = "fake"\nname = "Fake"\nengine = "fake"\n',
                                                    encoding="utf-8")
    with Store(workspace.db_path) as store:
        item_id, _ = store.add_item(SourceItem(source="ubnd-xa", source_id="TB-1", title="Họp dân",
                                               body="Tối nay họp dân."))
        return store.save_bulletin(Bulletin(title="Họp dân", template="thong-bao", item_ids=(item_id,),
                                            segments=(Segment("speech", text, item_id=item_id),)))


def _approve(bulletin_id: int) -> str:
    result = CliRunner(mix_stderr=False).invoke(
        main, ["bulletin", "approve", str(bulletin_id), "--key", "lanh-dao", "--voice", "fake", "--profile", "loa"])
    assert result.exit_code == 0, result.stderr
    return result.stdout.split("\t")[0]


def test_approving_again_gives_the_same_package_and_a_changed_bulletin_or_lexicon_a_new_one(
        workspace: Workspace) -> None:
    # Was: every approval signed a new package, so re-running an approval killed after publishing gave
    # the bulletin two packages (two broadcasts). A reading fixed in the workspace lexicon changes the
    # audio, so it is a new approval (found in review: the lexicon was not part of the approval key).
    key(workspace, "lanh-dao")
    bulletin_id = _bulletin(workspace, "Tối nay lúc 19h30 họp dân tại nhà văn hoá.")
    first = _approve(bulletin_id)
    assert _approve(bulletin_id) == first
    workspace.lexicon_path.write_text("[words]\n\"họp\" = \"họp\"\n", encoding="utf-8")
    renewed = _approve(bulletin_id)
    assert renewed != first
    with Store(workspace.db_path) as store:
        stored = store.get_bulletin(bulletin_id)
        changed = (Segment("speech", "Tối nay lúc 20h họp dân tại nhà văn hoá.", item_id=stored.bulletin.item_ids[0]),)
        store.save_bulletin(replace(stored.bulletin, segments=changed), bulletin_id=bulletin_id)
    second = _approve(bulletin_id)
    assert second not in (first, renewed)
    with Store(workspace.db_path) as store:
        assert sorted(p.sequence for p in store.packages()) == [1, 2, 3]
    for path in (first, renewed, second):
        verify_package(Path(path), [key(workspace, "lanh-dao").public_key])
