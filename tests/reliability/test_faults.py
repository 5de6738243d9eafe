"""Fault injection: `studio convert` (fake voice, signed packages into --out) SIGKILLed, then restarted.

After every kill: nothing partial is visible in the out folder (each visible entry is a package that
verifies against the workspace key; staging folders are hidden), and the store passes SQLite's
integrity check. After the final, uninterrupted run every input has a verified package.

Kills at random moments (seeded; the moment is wall-clock, so where it lands varies between runs) and
at two exact points in the build (injected through a wrapper around build_package in the child):
just before the rename into place, and just after it. Each input must end with exactly one package.
Set STUDIO_LONG=1 for the long variant (25 random kills instead of 4), run in the bench.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.config import Workspace, open_workspace
from studio.package.manifest import MANIFEST_NAME, Manifest
from studio.package.signing import PublicKey, generate_key, key_paths
from studio.package.verify import verify_package

ISSUER = "xa-thu"
INPUTS = 5
RANDOM_KILLS = 25 if os.environ.get("STUDIO_LONG") else 4


def fake_workspace(home: Path) -> Workspace:
    """A workspace speaking with the fake voice, issuing as ISSUER with its own key (the fault suites')."""
    workspace = open_workspace(home)
    (workspace.voices_dir / "fake.toml").write_text('id = "fake"\nname = "Giọng thử"\nengine = "fake"\n',
                                                    encoding="utf-8")
    (home / "settings.toml").write_text(f'station_name = "Đài xã"\ndefault_voice = "fake"\nissuer = "{ISSUER}"\n',
                                        encoding="utf-8")
    generate_key(workspace.keys_dir, ISSUER)
    return open_workspace(home)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    home = tmp_path / "home"
    fake_workspace(home)
    (tmp_path / "in").mkdir()
    _add_notices(open_workspace(home), range(1, INPUTS + 1))
    return open_workspace(home)


def _add_notices(ws: Workspace, numbers: range) -> None:
    for n in numbers:
        (ws.home.parent / "in" / f"tb-{n:03d}.txt").write_text(
            f"Thông báo số {n}\n\nTối nay lúc 19h30 họp dân tại nhà văn hoá thôn {n}. Đề nghị bà con đến "
            "đúng giờ. Nội dung: kế hoạch tiêm chủng và phòng chống bão số 9.\n", encoding="utf-8")


_CHILD = textwrap.dedent('''
    import os, signal, sys
    from studio.package import assemble
    point = os.environ.get("STUDIO_FAULT_POINT", "")
    original_build = assemble.build_package
    original_rename = os.rename

    def build(*args, **kwargs):
        if point == "before-rename":
            def rename(src, dst):
                os.kill(os.getpid(), signal.SIGKILL)
            os.rename = rename
        path = original_build(*args, **kwargs)
        if point == "after-rename":
            os.kill(os.getpid(), signal.SIGKILL)
        return path

    assemble.build_package = build
    from studio.cli import main
    main(sys.argv[1:])
''')


def _command(ws: Workspace) -> list[str]:
    inputs = sorted((ws.home.parent / "in").glob("*.txt"))
    return [sys.executable, "-c", _CHILD, "--home", str(ws.home), "convert", *map(str, inputs),
            "--out", str(ws.home.parent / "out"), "--json"]


def _run(ws: Workspace, *, point: str = "", kill_after: float | None = None) -> int:
    env = {**os.environ, "STUDIO_FAULT_POINT": point}
    proc = subprocess.Popen(_command(ws), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"convert exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    return proc.returncode


def _visible_packages(ws: Workspace) -> list[Path]:
    out = ws.home.parent / "out"
    return sorted(p for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []


def _check_consistent(ws: Workspace) -> list[Path]:
    """No partial package visible; the store is intact. Returns the visible packages."""
    key = PublicKey.load(key_paths(ws.keys_dir, ISSUER).public)
    visible = _visible_packages(ws)
    for folder in visible:
        verify_package(folder, [key])  # raises on anything partial or wrong
    if ws.db_path.exists():
        with sqlite3.connect(ws.db_path) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return visible


def _packages_per_input(visible: list[Path]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for folder in visible:
        title = Manifest.from_json((folder / MANIFEST_NAME).read_bytes()).title
        counts[title] = counts.get(title, 0) + 1
    return counts


def test_random_sigkills_leave_nothing_partial_and_the_restart_finishes(ws: Workspace) -> None:
    rnd = random.Random(20261128)
    killed = 0
    total = INPUTS
    for _ in range(RANDOM_KILLS):
        # New notices each round, so every run has work left when the kill comes (start-up is ~2 s).
        _add_notices(ws, range(total + 1, total + 5))
        total += 4
        if _run(ws, kill_after=rnd.uniform(1.0, 3.5)) == -signal.SIGKILL:
            killed += 1
        _check_consistent(ws)
    assert _run(ws) == 0
    visible = _check_consistent(ws)
    counts = _packages_per_input(visible)
    assert len(counts) == total and set(counts.values()) == {1}, counts  # none lost, none twice
    assert killed >= RANDOM_KILLS - 1, killed  # the kills hit running conversions
    print(f"faults: {killed} of {RANDOM_KILLS} runs SIGKILLed, {total} inputs, {len(visible)} packages, 0 lost")


def test_kill_just_before_the_rename_leaves_no_package_and_the_restart_makes_one(ws: Workspace) -> None:
    assert _run(ws, point="before-rename") == -signal.SIGKILL
    assert _check_consistent(ws) == []
    out = ws.home.parent / "out"
    assert [p.name for p in out.iterdir() if p.name.startswith(".staging-")]  # the partial stays hidden
    assert _run(ws) == 0
    counts = _packages_per_input(_check_consistent(ws))
    assert len(counts) == INPUTS and set(counts.values()) == {1}, counts


def test_kill_just_after_the_rename_is_not_converted_twice(ws: Workspace) -> None:
    # Was: the conversion was recorded only after publish_package returned, so this kill left a
    # package the restart did not know about, and the first input got a second signed package.
    assert _run(ws, point="after-rename") == -signal.SIGKILL
    assert len(_check_consistent(ws)) == 1  # the package is complete and valid
    assert _run(ws) == 0
    counts = _packages_per_input(_check_consistent(ws))
    assert len(counts) == INPUTS and set(counts.values()) == {1}, counts

