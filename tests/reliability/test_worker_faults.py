"""Fault injection on queue workers: real `studio worker` processes SIGKILLed while they convert notices
into signed packages (fake voice, 'loa' profile), restarted, and every job still done exactly once.

Two ways to die: a single worker process (the consumer notices and forks a new one; its running job is
re-queued by the consumer's reaper, the dead pid being on this machine) and the whole worker process
group (`studio worker` and its children; the test starts a new worker, which re-queues the job at
start). After every kill: every visible entry of the out folder is a complete package that verifies,
no input has two, and the store passes SQLite's integrity check. At the end: every job 'done', exactly
one package per input, and the attempts add up: each job's attempts = 1 + the times it was re-queued,
and every re-queue names a worker process the test killed (no live worker lost a job).

Exact points, injected in the worker (a wrapper around the store and the package build, set up before
the worker forks): just after a job is claimed, inside convert's before_publish hook (ledger written,
package not yet renamed into place), just after the package is published, and just before the job row
is marked done. Each kill happens once (a marker file); the job must end 'done' after two attempts, with
one package.

A frozen worker (SIGSTOP, as a paused VM or a swap storm would) whose job is given to another worker
process after `stale_after_s` must not publish a second package when it wakes (SIGCONT).

CI: the 4 exact points (single-process kills) + the freeze, and 4 random kills (3 single-process, 1
whole-group). STUDIO_LONG=1: the exact points once more with whole-group kills, and 24 random kills
(16 single-process, 8 whole-group).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from studio.config import Workspace
from studio.convert import Converter, ConvertOptions
from studio.jobs.queue import JobQueue
from studio.jobs.tasks import convert_key
from studio.package.manifest import MANIFEST_NAME, Manifest
from studio.package.signing import PublicKey, generate_key, key_paths
from studio.package.verify import verify_package
from tests.jobs.conftest import FAKE_VOICE
from tests.reliability.test_queue_load import (
    count_states,
    group_pids,
    record,
    stop_gracefully,
    wait_started,
    write_notices,
)

LONG = os.environ.get("STUDIO_LONG") == "1"
RANDOM_KILLS = 24 if LONG else 4
QUEUE_TOML = "heartbeat_s = 0.2\nstale_after_s = 5.0\nreap_every_s = 0.3\n"
"""Quick failure detection. stale_after_s only matters for the frozen worker: a dead process on this
machine is seen at once (its pid); the random kills use the default 30 s, so a live worker starved of
CPU on a loaded machine is never mistaken for a dead one (every re-queue must name a killed pid)."""

_WORKER = textwrap.dedent('''
    import json, os, signal, sys
    from pathlib import Path

    plan = json.loads(os.environ.get("STUDIO_FAULT_PLAN") or "{}")  # title -> [point, "child"|"group"]
    marks = Path(os.environ.get("STUDIO_FAULT_DIR") or ".")

    def fault(point, title):
        want = plan.get(title)
        if not want or want[0] != point:
            return
        mark = marks / f"{point}.{title}"
        if mark.exists():
            return  # once: the retry runs through
        fd = os.open(mark, os.O_CREAT | os.O_WRONLY)
        os.fsync(fd)
        os.close(fd)
        print(f"FAULT {point} {title} pid {os.getpid()}", file=sys.stderr, flush=True)
        if point == "freeze":
            os.kill(os.getpid(), signal.SIGSTOP)  # frozen (a paused VM, swap storm) until the test sends SIGCONT
            return
        if want[1] == "group":
            os.killpg(os.getpgrp(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    if plan:
        from studio.jobs import records
        from studio.package import assemble
        from studio.package.manifest import MANIFEST_NAME, Manifest

        def title_of(store, job_id):
            return Path(store.get(job_id).params["input"]).read_text(encoding="utf-8").splitlines()[0]

        claim_, finish_, build_ = records.JobStore.claim, records.JobStore.finish, assemble.build_package

        def claim(self, job_id, holder):
            lease = claim_(self, job_id, holder)
            if lease:
                fault("after-claim", title_of(self, job_id))
            return lease

        def finish(self, job_id, lease, state, **kwargs):
            if state == "done":
                fault("before-finish", title_of(self, job_id))
            return finish_(self, job_id, lease, state, **kwargs)

        def build(*args, **kwargs):
            args = list(args)
            hook = args[4] if len(args) > 4 else kwargs.get("before_publish")

            def before_publish(final, manifest):
                if hook is not None:
                    hook(final, manifest)  # convert's ledger
                fault("before-publish", manifest.title)

            if len(args) > 4:
                args[4] = before_publish
            else:
                kwargs["before_publish"] = before_publish
            fill = args[2]

            def fill_then_freeze(folder):
                manifest = fill(folder)
                fault("freeze", manifest.title)  # files written, ledger not yet: the job may be taken over
                return manifest

            args[2] = fill_then_freeze
            final = build_(*args, **kwargs)
            fault("after-publish", Manifest.from_json((final / MANIFEST_NAME).read_bytes()).title)
            return final

        records.JobStore.claim, records.JobStore.finish, assemble.build_package = claim, finish, build

    from studio.cli import main
    sys.exit(main(prog_name="studio"))
''')


@pytest.fixture
def station(workspace: Workspace) -> Workspace:
    (workspace.voices_dir / "fake.toml").write_text(FAKE_VOICE, encoding="utf-8")
    (workspace.home / "queue.toml").write_text(QUEUE_TOML, encoding="utf-8")
    generate_key(workspace.keys_dir, workspace.settings.issuer)
    return workspace


def start(home: Path, log: Path, *, workers: int = 2, plan: dict | None = None) -> subprocess.Popen[bytes]:
    """`studio worker` (with the fault plan armed) in its own process group."""
    env = {
        **os.environ,
        "STUDIO_HOME": str(home),
        "STUDIO_FAULT_PLAN": json.dumps(plan or {}, ensure_ascii=False),
        "STUDIO_FAULT_DIR": str(log.parent),
    }
    with log.open("ab") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, "--home", str(home), "worker", "--workers", str(workers), "--no-periodic"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    wait_started(log, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    stop_gracefully(proc)
    assert_group_gone(proc.pid)


def assert_group_gone(pgid: int, timeout_s: float = 5.0) -> None:
    """Nothing of a dead worker's process group may outlive it (its processes die with their consumer)."""
    deadline = time.monotonic() + timeout_s
    while (left := group_pids(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    described = []
    for pid in left:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
        except OSError:
            continue
        described.append(f"{pid} {stat.rpartition(')')[2].split()[:3]} {cmd!r}")
    assert not described, f"processes of worker {pgid} outlived it: {described}"


def submit(queue: JobQueue, inputs: list[Path], out: Path) -> list[int]:
    options = ConvertOptions(out_dir=out, voice_id="fake", profile_id="loa")
    converter = Converter(queue.workspace, options)
    try:
        return [
            queue.submit(
                "convert",
                {"input": str(p), "options": options.to_params(), "output_name": p.stem},
                content_key=convert_key(converter, p),
                actor="test",
            )[0].id
            for p in inputs
        ]
    finally:
        converter.close()


def packages_by_title(ws: Workspace, out: Path) -> dict[str, list[Path]]:
    """Every visible entry of `out` must be a complete, verifying package; grouped by notice title."""
    key = PublicKey.load(key_paths(ws.keys_dir, ws.settings.issuer).public)
    found: dict[str, list[Path]] = {}
    for folder in sorted(out.iterdir()) if out.exists() else []:
        if folder.name.startswith("."):
            continue  # staging: hidden until renamed into place
        verify_package(folder, [key])
        title = Manifest.from_json((folder / MANIFEST_NAME).read_bytes()).title
        found.setdefault(title, []).append(folder)
    return found


def check_consistent(ws: Workspace, out: Path) -> dict[str, list[Path]]:
    found = packages_by_title(ws, out)
    twice = {t: v for t, v in found.items() if len(v) > 1}
    assert not twice, f"inputs with two packages: {twice}"
    with sqlite3.connect(ws.db_path, timeout=30) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with sqlite3.connect(ws.home / "queue.db", timeout=30) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return found


def wait_done(ws: Workspace, total: int, timeout_s: float, log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while (states := count_states(ws.db_path)).get("done", 0) < total:
        assert not states.get("failed"), (states, log.read_text(errors="replace")[-4000:])
        assert time.monotonic() < deadline, (states, log.read_text(errors="replace")[-4000:])
        time.sleep(0.1)


def job_history(ws: Workspace) -> dict[int, dict]:
    """Per job: state, attempts, title, output status, its job.start count and its re-queues' workers."""
    with sqlite3.connect(ws.db_path, timeout=30) as db:
        jobs = {
            int(r[0]): {"state": r[1], "attempts": int(r[2]), "input": json.loads(r[3])["input"],
                        "status": json.loads(r[4]).get("status"), "output": json.loads(r[4]).get("output"),
                        "starts": 0, "requeued_from": []}
            for r in db.execute("SELECT id, state, attempts, params, result FROM jobs")
        }
        for action, subject, detail in db.execute(
            "SELECT action, subject, detail FROM audit WHERE action IN ('job.start', 'job.requeue')"
        ):
            job = jobs[int(subject.removeprefix("job:"))]
            if action == "job.start":
                job["starts"] += 1
            else:
                job["requeued_from"].append(json.loads(detail).get("worker", "?"))
    for job in jobs.values():
        job["title"] = Path(job["input"]).read_text(encoding="utf-8").splitlines()[0]
    return jobs


def check_final(ws: Workspace, out: Path, inputs: list[Path], killed_pids: set[int]) -> dict[int, dict]:
    found = check_consistent(ws, out)
    titles = {p.read_text(encoding="utf-8").splitlines()[0] for p in inputs}
    assert set(found) == titles, (sorted(titles - set(found))[:5], sorted(set(found) - titles)[:5])
    history = job_history(ws)
    assert len(history) == len(inputs)
    for job_id, job in history.items():
        assert job["state"] == "done", (job_id, job)
        assert job["attempts"] == job["starts"] == 1 + len(job["requeued_from"]), (job_id, job)
        assert {int(w.rpartition(":")[2]) for w in job["requeued_from"]} <= killed_pids, (job_id, job, killed_pids)
        assert [str(p) for p in found[job["title"]]] == [job["output"]], (job_id, job)
    return history


def _exact_points(station: Workspace, tmp_path: Path, mode: str) -> None:
    points = ["after-claim", "before-publish", "after-publish", "before-finish"]
    if mode == "child":  # a whole-group kill would take the frozen process with it
        points.append("freeze")
    inputs = write_notices(tmp_path / "notices", len(points) + 2)
    titles = [p.read_text(encoding="utf-8").splitlines()[0] for p in inputs]
    plan = {title: [point, mode] for title, point in zip(titles, points, strict=False)}
    out = tmp_path / "out"
    queue = JobQueue(station)
    log = tmp_path / "worker.log"
    try:
        submit(queue, inputs, out)
        # One worker process when the whole group dies: a second one's job would die with it, and if that
        # job had already published, its own planned point would never be reached.
        workers = 2 if mode == "child" else 1
        proc = start(station.home, log, plan=plan, workers=workers)
        try:
            deadline = time.monotonic() + 120
            frozen = 0 if "freeze" in points else -1
            while count_states(station.db_path).get("done", 0) < len(inputs) or frozen >= 0:
                assert time.monotonic() < deadline, (count_states(station.db_path), log.read_text()[-4000:])
                if proc.poll() is not None:  # a whole-group kill: start a new worker, as an operator would
                    check_consistent(station, out)
                    proc = start(station.home, log, plan=plan, workers=workers)
                if frozen == 0:
                    frozen = _frozen_pid(log)
                elif frozen > 0 and _job_of(station, titles[points.index("freeze")])["state"] == "done":
                    # Its job was given to another worker process (no heartbeat for stale_after_s) and is
                    # done: now the frozen one wakes up, with its package built and about to be published.
                    os.kill(frozen, signal.SIGCONT)
                    _wait_for(lambda: "lease lost" in log.read_text(errors="replace"), 30, log)
                    frozen = -1
                time.sleep(0.1)
        finally:
            stop(proc)
    finally:
        queue.close()
    text = log.read_text(errors="replace")
    faults = [line.split() for line in text.splitlines() if line.startswith("FAULT ")]
    assert sorted(f[1] for f in faults) == sorted(points), text[-4000:]
    killed = {int(f[-1]) for f in faults}
    history = {j["title"]: j for j in check_final(station, out, inputs, killed).values()}
    for title, (point, _) in plan.items():
        job = history[title]
        assert job["attempts"] == 2, (point, job)
        # Killed once the package was in place (or the ledger said it would be): the retry finds the
        # conversion recorded and its package there, and publishes nothing new.
        expected = "skipped" if point in ("after-publish", "before-finish") else "converted"
        assert job["status"] == expected, (point, job)
    assert all(j["attempts"] == 1 for t, j in history.items() if t not in plan)
    record(f"worker-faults-exact-{mode}", {"points": points, "kill": mode, "inputs": len(inputs), "lost": 0,
                                            "duplicated": 0})


def _frozen_pid(log: Path) -> int:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("FAULT freeze "):
            return int(line.split()[-1])
    return 0


def _job_of(ws: Workspace, title: str) -> dict:
    return next(j for j in job_history(ws).values() if j["title"] == title)


def _wait_for(condition, timeout_s: float, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, log.read_text(errors="replace")[-4000:]
        time.sleep(0.05)


def test_kill_a_worker_process_at_exact_points_each_job_done_once(station: Workspace, tmp_path: Path) -> None:
    _exact_points(station, tmp_path, "child")


@pytest.mark.skipif(not LONG, reason="long variant: STUDIO_LONG=1")
def test_kill_the_whole_worker_at_exact_points_each_job_done_once(station: Workspace, tmp_path: Path) -> None:
    _exact_points(station, tmp_path, "group")


def _running_worker_pid(ws: Workspace, group: int) -> int | None:
    """The pid of a worker process of `group` that holds a running job now."""
    members = set(group_pids(group))
    with sqlite3.connect(ws.db_path, timeout=30) as db:
        for (worker,) in db.execute("SELECT worker FROM jobs WHERE state = 'running'"):
            pid = int(worker.rpartition(":")[2])
            if pid in members:
                return pid
    return None


def test_random_sigkills_of_workers_every_job_done_exactly_once(station: Workspace, tmp_path: Path) -> None:
    rnd = random.Random(20261128)
    (station.home / "queue.toml").write_text("heartbeat_s = 0.5\nreap_every_s = 0.3\n", encoding="utf-8")
    out = tmp_path / "out"
    log = tmp_path / "worker.log"
    queue = JobQueue(station)
    inputs = write_notices(tmp_path / "notices", 40 if LONG else 12)
    killed: set[int] = set()
    landed = group_kills = 0
    t0 = time.monotonic()
    try:
        submit(queue, inputs, out)
        proc = start(station.home, log)
        try:
            for k in range(RANDOM_KILLS):
                states = count_states(station.db_path)
                if states.get("queued", 0) + states.get("running", 0) < 6:  # keep work in hand for the kill
                    more = write_notices(tmp_path / "notices", 8, start=len(inputs))
                    submit(queue, more, out)
                    inputs += more
                time.sleep(rnd.uniform(0.0, 0.4))  # somewhere inside a job: speech, audio, signing, publish
                deadline = time.monotonic() + 60
                while (pid := _running_worker_pid(station, proc.pid)) is None:  # between two jobs: the next
                    assert time.monotonic() < deadline, (count_states(station.db_path), log.read_text()[-4000:])
                    time.sleep(0.005)
                whole = k % 3 == 1
                if whole:
                    killed |= set(group_pids(proc.pid))
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    group_kills += 1
                elif pid is not None:
                    killed.add(pid)
                    os.kill(pid, signal.SIGKILL)
                landed += pid is not None
                check_consistent(station, out)
                if whole:
                    assert_group_gone(proc.pid)
                    proc = start(station.home, log)
            wait_done(station, len(inputs), 60 + 2 * len(inputs), log)
        finally:
            stop(proc)
    finally:
        queue.close()
    history = check_final(station, out, inputs, killed)
    requeues = sum(len(j["requeued_from"]) for j in history.values())
    assert landed >= RANDOM_KILLS - 1 and requeues >= landed - 1, (landed, requeues)
    record(
        "worker-faults-random",
        {
            "kills": RANDOM_KILLS,
            "whole_group_kills": group_kills,
            "kills_during_a_job": landed,
            "jobs_requeued": requeues,
            "max_attempts": max(j["attempts"] for j in history.values()),
            "inputs": len(inputs),
            "packages": len(inputs),
            "lost": 0,
            "duplicated": 0,
            "wall_s": round(time.monotonic() - t0, 1),
        },
    )
