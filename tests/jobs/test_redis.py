"""Scale-out on Huey's Redis storage, against a real redis-server on a loopback port.

Two `studio worker` processes share one workspace and one Redis queue: every job is done exactly once,
and a worker killed with SIGKILL mid-job loses nothing, because the other one takes the job over.
Skipped without redis-server, except under CI=true where that fails (see conftest.redis_url).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from studio.config import Workspace
from studio.convert import Converter, ConvertOptions
from studio.jobs.queue import JobQueue
from studio.jobs.records import JobRecord
from studio.jobs.tasks import convert_key
from tests.jobs.conftest import start_worker, stop_worker, write_txt

# Quick failure detection for the test (defaults are 2 s / 30 s / 5 s).
QUEUE_TOML = "heartbeat_s = 0.2\nstale_after_s = 5.0\nreap_every_s = 0.3\n"


def _submit_all(queue: JobQueue, inputs: list[Path], out: Path, profile: str = "nhanh") -> list[JobRecord]:
    options = ConvertOptions(out_dir=out, voice_id="fake", profile_id=profile, audio_only=True)
    converter = Converter(queue.workspace, options)
    try:
        return [
            queue.submit(
                "convert",
                {"input": str(p), "options": options.to_params()},
                content_key=convert_key(converter, p),
            )[0]
            for p in inputs
        ]
    finally:
        converter.close()


def _wait_started(log: Path, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while "consumer started" not in (log.read_text(errors="replace") if log.exists() else ""):
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, f"worker did not start: {log.read_text(errors='replace')}"
        time.sleep(0.05)


@pytest.fixture
def queue(jobs_workspace: Workspace, redis_url: str) -> JobQueue:
    (jobs_workspace.home / "queue.toml").write_text(
        QUEUE_TOML + f'redis_url = "{redis_url}"\n', encoding="utf-8"
    )
    q = JobQueue(jobs_workspace)
    assert q.config.backend == "redis"
    q.ping()
    q.store.counts()  # the workspace database exists before any worker starts, as on a real station
    yield q
    q.close()


def test_two_workers_fifty_jobs_none_lost_none_twice(queue: JobQueue, tmp_path: Path) -> None:
    home = queue.workspace.home
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start_worker(home, "--workers", "1", "--no-periodic", log=log) for log in logs]
    try:
        for proc, log in zip(workers, logs, strict=True):
            _wait_started(log, proc)
        folder = tmp_path / "notices"
        folder.mkdir()
        inputs = [write_txt(folder / f"tb-{i:02d}.txt", i, words=1) for i in range(50)]
        jobs = _submit_all(queue, inputs, tmp_path / "out")
        assert len({j.id for j in jobs}) == 50
        # Submitting the same work again while it runs adds nothing.
        assert [j.id for j in _submit_all(queue, inputs[:5], tmp_path / "out")] == [j.id for j in jobs[:5]]
        final = queue.wait([j.id for j in jobs], timeout_s=120)
    finally:
        for proc in workers:
            stop_worker(proc)
    assert [j.state for j in final] == ["done"] * 50, [
        (j.id, j.state, j.error) for j in final if j.state != "done"
    ]
    assert all(j.attempts == 1 for j in final)
    starts = [a for a in queue.store.audit_log(1000) if a["action"] == "job.start"]
    assert len(starts) == 50 and len({a["subject"] for a in starts}) == 50
    conversions = [a for a in queue.store.audit_log(1000) if a["action"] == "convert.done"]
    assert len(conversions) == 50
    assert len(list((tmp_path / "out").glob("*.wav"))) == 50
    assert len({j.worker for j in final}) == 2, "both workers should have taken jobs"


def test_worker_killed_mid_job_its_job_is_completed_by_the_other(queue: JobQueue, tmp_path: Path) -> None:
    home = queue.workspace.home
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start_worker(home, "--workers", "1", "--no-periodic", log=log) for log in logs]
    try:
        for proc, log in zip(workers, logs, strict=True):
            _wait_started(log, proc)
        long_notice = write_txt(tmp_path / "dai.txt", 1, words=900)  # ~220 s of speech: seconds of work
        (job,) = _submit_all(queue, [long_notice], tmp_path / "out")
        deadline = time.monotonic() + 30
        while (running := queue.get(job.id)).state != "running":
            assert time.monotonic() < deadline, [log.read_text(errors="replace") for log in logs]
            time.sleep(0.01)
        killed_pid = int(running.worker.rpartition(":")[2])
        # Each worker has its own process group: kill the holder's consumer and its worker process.
        (holder,) = [p for p in workers if os.getpgid(killed_pid) == p.pid]
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        (other,) = [p for p in workers if p is not holder]
        assert other.poll() is None
        (final,) = queue.wait([job.id], timeout_s=90)
    finally:
        for proc in workers:
            stop_worker(proc)
    assert final.state == "done", (final.state, final.error)
    assert final.attempts == 2
    assert int(final.worker.rpartition(":")[2]) != killed_pid
    assert (tmp_path / "out" / "dai.wav").is_file()
    requeues = [x for x in queue.store.audit_log(200) if x["action"] == "job.requeue"]
    assert len(requeues) == 1 and requeues[0]["detail"]["worker"] == running.worker
    starts = [x for x in queue.store.audit_log(200) if x["action"] == "job.start"]
    assert [x["detail"]["worker"] for x in reversed(starts)] == [running.worker, final.worker]


def test_worker_killed_alone_leaves_no_orphan_and_a_starting_worker_requeues(
    queue: JobQueue, tmp_path: Path
) -> None:
    """SIGKILL on the consumer only: its worker process must die with it (no one keeps converting), and the
    next worker to start puts the job back in the queue."""
    home = queue.workspace.home
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    a = start_worker(home, "--workers", "1", "--no-periodic", log=log_a)
    b = None
    try:
        _wait_started(log_a, a)
        (job,) = _submit_all(queue, [write_txt(tmp_path / "dai.txt", 2, words=900)], tmp_path / "out")
        deadline = time.monotonic() + 30
        while (running := queue.get(job.id)).state != "running":
            assert time.monotonic() < deadline, log_a.read_text(errors="replace")
            time.sleep(0.01)
        child = int(running.worker.rpartition(":")[2])
        family = _children(a.pid)  # Huey's worker process and its scheduler process
        assert child in family and len(family) == 2
        a.send_signal(signal.SIGKILL)
        a.wait(timeout=10)
        deadline = time.monotonic() + 10
        while left := [pid for pid in family if _alive(pid)]:
            assert time.monotonic() < deadline, f"processes {left} outlived their killed consumer"
            time.sleep(0.05)
        b = start_worker(home, "--workers", "1", "--no-periodic", log=log_b)
        (final,) = queue.wait([job.id], timeout_s=90)
    finally:
        stop_worker(a)
        if b is not None:
            stop_worker(b)
    assert final.state == "done" and final.attempts == 2, (final.state, final.error)
    assert "re-queued interrupted job" in log_b.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    from studio.jobs.records import process_alive

    return process_alive(pid)
