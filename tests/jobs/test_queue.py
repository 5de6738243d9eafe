"""The embedded queue (Huey on SQLite in the workspace) and the job records behind our interface."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from studio.cli import main
from studio.config import Workspace
from studio.convert import Converter, ConvertOptions
from studio.errors import InputError
from studio.jobs.queue import JobQueue, queue_config
from studio.jobs.records import JobStore, LeaseLost
from studio.jobs.tasks import convert_key, execute_job
from tests.jobs.conftest import start_worker, stop_worker, write_txt


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def queue(jobs_workspace: Workspace) -> JobQueue:
    q = JobQueue(
        jobs_workspace, queue_config(jobs_workspace, redis_url="", heartbeat_s=0.1, stale_after_s=2.0)
    )
    yield q
    q.close()


def _submit(queue: JobQueue, path: Path, out: Path, *, profile: str = "nhanh"):  # type: ignore[no-untyped-def]
    options = ConvertOptions(out_dir=out, voice_id="fake", profile_id=profile, audio_only=True)
    converter = Converter(queue.workspace, options)
    try:
        return queue.submit(
            "convert",
            {"input": str(path), "options": options.to_params()},
            content_key=convert_key(converter, path),
        )
    finally:
        converter.close()


def test_submit_is_keyed_by_content_and_runs_once(queue: JobQueue, tmp_path: Path) -> None:
    src = write_txt(tmp_path / "a.txt", 1)
    job, created = _submit(queue, src, tmp_path / "out")
    assert created and job.state == "queued"
    again, created_again = _submit(queue, src, tmp_path / "out")
    assert again.id == job.id and not created_again
    assert queue.pending_ids() == {job.id}
    execute_job(queue, job.id)
    done = queue.get(job.id)
    assert done.state == "done", done.error
    assert done.attempts == 1 and done.progress == 1.0
    assert Path(done.result["output"]).is_file()
    execute_job(queue, job.id)  # a duplicate or late message: a no-op
    assert queue.get(job.id).attempts == 1
    assert _submit(queue, src, tmp_path / "out")[0].id == job.id  # done work is not queued again
    starts = [a for a in queue.store.audit_log(500) if a["action"] == "job.start"]
    assert len(starts) == 1


def test_failed_job_keeps_its_reason_and_can_be_retried(queue: JobQueue, tmp_path: Path) -> None:
    bad = tmp_path / "hong.docx"
    bad.write_bytes(b"not a docx")
    job, _ = _submit(queue, bad, tmp_path / "out")
    execute_job(queue, job.id)
    failed = queue.get(job.id)
    assert failed.state == "failed" and "hong.docx" in failed.error
    assert failed.result["status"] == "failed"
    with pytest.raises(InputError, match="only queued or running jobs can be cancelled"):
        queue.cancel(job.id)
    write_txt(bad.with_suffix(".txt"), 2)
    bad.unlink()
    retried = queue.retry(job.id)
    assert retried.state == "queued" and job.id in queue.pending_ids()
    with pytest.raises(InputError, match="only failed or cancelled jobs can be retried"):
        queue.retry(job.id)


def test_cancel_queued_job_is_never_run(queue: JobQueue, tmp_path: Path) -> None:
    job, _ = _submit(queue, write_txt(tmp_path / "a.txt", 1), tmp_path / "out")
    assert queue.cancel(job.id).state == "cancelled"
    execute_job(queue, job.id)
    assert queue.get(job.id).state == "cancelled"
    assert not (tmp_path / "out").exists()


def test_cancel_running_job_stops_it_at_the_next_heartbeat(queue: JobQueue, tmp_path: Path) -> None:
    src = write_txt(tmp_path / "dai.txt", 1, words=600)  # long enough to still be running when cancelled
    job, _ = _submit(queue, src, tmp_path / "out", profile="loa")
    runner = threading.Thread(target=execute_job, args=(queue, job.id))
    runner.start()
    with JobStore(queue.workspace.db_path) as store:
        deadline = time.monotonic() + 20
        while store.get(job.id).state != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.cancel(job.id).state == "cancelling"
    runner.join(timeout=60)
    final = queue.get(job.id)
    assert final.state == "cancelled"
    assert not (tmp_path / "out" / "dai.mp3").exists()


def test_interrupted_work_is_requeued_and_a_lost_lease_is_ignored(queue: JobQueue, tmp_path: Path) -> None:
    host = socket.gethostname()
    dead, alive, remote = (
        _submit(queue, write_txt(tmp_path / f"{n}.txt", i), tmp_path / "out")[0]
        for i, n in enumerate(("dead", "alive", "remote"))
    )
    store = queue.store
    lease_dead = store.claim(dead.id, f"{host}:{_dead_pid()}")
    lease_alive = store.claim(alive.id, f"{host}:{os.getpid()}")
    lease_remote = store.claim(remote.id, "may-khac:1234")
    assert None not in (lease_dead, lease_alive, lease_remote)
    assert store.claim(dead.id, "someone-else:1") is None  # one claim only
    # Dead process on this machine: taken back at once; a live one with a fresh heartbeat is left alone.
    assert sorted(queue.requeue_interrupted()) == [dead.id]
    assert store.get(dead.id).state == "queued" and store.get(alive.id).state == "running"
    # The dead holder's late report is refused: its lease is gone.
    assert store.heartbeat(dead.id, lease_dead or "") is None
    assert store.finish(dead.id, lease_dead or "", "done", result={}) is False
    # Another machine's worker is known only by its heartbeat: silent past stale_after_s, it is re-queued.
    with store._write() as db:
        db.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (time.time() - 60, remote.id))
    assert queue.requeue_interrupted() == [remote.id]
    for job in (dead, remote):
        execute_job(queue, job.id)
        final = queue.get(job.id)
        assert final.state == "done" and final.attempts == 2


def test_queued_job_whose_message_was_lost_is_sent_again(queue: JobQueue, tmp_path: Path) -> None:
    job, _ = _submit(queue, write_txt(tmp_path / "a.txt", 1), tmp_path / "out")
    queue.huey.flush()  # the message is gone (taken by a worker that died before claiming it)
    assert queue.pending_ids() == set()
    assert queue.requeue_interrupted() == [job.id]
    assert queue.pending_ids() == {job.id}


def test_worker_processes_run_the_sqlite_queue_and_stop_on_sigterm(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    inputs = [write_txt(tmp_path / f"n{i}.txt", i) for i in range(6)]
    runner = CliRunner(mix_stderr=False)
    submitted = runner.invoke(
        main,
        [
            "--home",
            str(jobs_workspace.home),
            "jobs",
            "submit",
            *map(str, inputs),
            "--out",
            str(tmp_path / "out"),
            "--voice",
            "fake",
            "--profile",
            "nhanh",
            "--audio-only",
            "--json",
        ],
        catch_exceptions=False,
    )
    assert submitted.exit_code == 0, submitted.output
    ids = [json.loads(line)["id"] for line in submitted.stdout.splitlines()]
    assert len(ids) == 6
    worker = start_worker(jobs_workspace.home, "--workers", "2", "--no-periodic", log=tmp_path / "worker.log")
    try:
        waited = runner.invoke(
            main,
            [
                "--home",
                str(jobs_workspace.home),
                "jobs",
                "submit",
                *map(str, inputs),
                "--out",
                str(tmp_path / "out"),
                "--voice",
                "fake",
                "--profile",
                "nhanh",
                "--audio-only",
                "--wait",
                "60",
                "--json",
            ],
            catch_exceptions=False,
        )
        assert waited.exit_code == 0, (waited.output, (tmp_path / "worker.log").read_text())
        jobs = [json.loads(line) for line in waited.stdout.splitlines()]
        assert [j["id"] for j in jobs] == ids and {j["state"] for j in jobs} == {"done"}
        assert len({j["worker"] for j in jobs}) == 2  # both worker processes took jobs
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
        stop_worker(worker)
    status = runner.invoke(
        main, ["--home", str(jobs_workspace.home), "jobs", "status", str(ids[0]), "--json"]
    )
    assert json.loads(status.stdout)["result"]["status"] == "converted"
    listed = runner.invoke(main, ["--home", str(jobs_workspace.home), "jobs", "list", "--state", "done"])
    assert len(listed.stdout.splitlines()) == 6


def test_sigterm_mid_job_puts_the_job_back_in_the_queue(jobs_workspace: Workspace, tmp_path: Path) -> None:
    queue = JobQueue(jobs_workspace, queue_config(jobs_workspace, redis_url=""))
    try:
        job, _ = _submit(queue, write_txt(tmp_path / "dai.txt", 1, words=900), tmp_path / "out")
        worker = start_worker(jobs_workspace.home, "--no-periodic", log=tmp_path / "worker.log")
        try:
            deadline = time.monotonic() + 30
            while queue.get(job.id).state != "running":
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                time.sleep(0.01)
            worker.send_signal(signal.SIGTERM)  # stop now: running work is interrupted, not lost
            worker.wait(timeout=15)
        finally:
            stop_worker(worker)
        back = queue.get(job.id)
        assert back.state == "queued" and back.attempts == 1, (back, (tmp_path / "worker.log").read_text())
        assert queue.pending_ids() == {job.id}
        execute_job(queue, job.id)
        done = queue.get(job.id)
        assert done.state == "done" and done.attempts == 2
    finally:
        queue.close()


def test_worker_watches_a_hot_folder_from_a_workspace_job_spec(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    home = jobs_workspace.home
    (home / "queue.toml").write_text("tick_every_s = 0.3\n", encoding="utf-8")
    (home / "jobs").mkdir()
    folder, out = tmp_path / "tha-vao", tmp_path / "ra"
    (home / "jobs" / "thu.toml").write_text(
        f'id = "thu"\nkind = "hot-folder"\n[watch]\nfolder = "{folder}"\nsettle_s = 0\n'
        f'[convert]\nvoice = "fake"\nprofile = "nhanh"\naudio_only = true\n[dispatch]\nout = "{out}"\n',
        encoding="utf-8",
    )
    worker = start_worker(home, log=tmp_path / "worker.log")
    try:
        folder.mkdir()
        write_txt(folder / "thong-bao.txt", 5)
        deadline = time.monotonic() + 40
        while not (folder / "done" / "thong-bao.txt").exists():
            assert worker.poll() is None and time.monotonic() < deadline, (
                tmp_path / "worker.log"
            ).read_text()
            time.sleep(0.1)
    finally:
        stop_worker(worker)
    assert (out / "thong-bao.wav").is_file() and (out / "thong-bao.vtt").is_file()
    with JobStore(jobs_workspace.db_path) as store:
        (job,) = store.list()
    assert job.spec == "thu" and job.state == "done" and job.attempts == 1


def test_jobs_cli_cancel_retry_and_unknown_job(jobs_workspace: Workspace, tmp_path: Path) -> None:
    runner = CliRunner(mix_stderr=False)
    home = ["--home", str(jobs_workspace.home)]
    src = write_txt(tmp_path / "a.txt", 1)
    out = runner.invoke(
        main,
        [
            *home,
            "jobs",
            "submit",
            str(src),
            "--out",
            str(tmp_path / "o"),
            "--voice",
            "fake",
            "--audio-only",
            "--json",
        ],
    )
    job_id = json.loads(out.stdout)["id"]
    cancelled = runner.invoke(main, [*home, "jobs", "cancel", str(job_id)])
    assert cancelled.exit_code == 0 and "\tcancelled\t" in cancelled.stdout
    retried = runner.invoke(main, [*home, "jobs", "retry", str(job_id)])
    assert retried.exit_code == 0 and "\tqueued\t" in retried.stdout
    unknown = runner.invoke(main, [*home, "jobs", "status", "999"])
    assert unknown.exit_code == 2 and "job 999" in unknown.stderr
    both = runner.invoke(main, [*home, "jobs", "submit", str(src), "--spec", "x", "--out", "o"])
    assert both.exit_code == 2
    bad_state = runner.invoke(main, [*home, "jobs", "list", "--state", "xong"])
    assert bad_state.exit_code == 2 and "--state 'xong'" in bad_state.stderr


def test_a_worker_whose_job_was_taken_over_publishes_nothing(queue: JobQueue, tmp_path: Path) -> None:
    # Was: a worker frozen past stale_after_s (paused VM, swap storm) woke up after another worker had
    # done its job and renamed its own package into place too: two signed packages for one notice.
    src, out = write_txt(tmp_path / "a.txt", 1), tmp_path / "out"
    options = ConvertOptions(out_dir=out, voice_id="fake", profile_id="loa")
    converter = Converter(queue.workspace, options)
    try:
        job, _ = queue.submit(
            "convert", {"input": str(src), "options": options.to_params()}, content_key=convert_key(converter, src)
        )
        stale = queue.store.claim(job.id, "may-khac:1234")  # taken by a worker that then falls silent
        assert stale is not None
        with queue.store._write() as db:
            db.execute("UPDATE jobs SET heartbeat_at = ? WHERE id = ?", (time.time() - 60, job.id))
        assert queue.requeue_interrupted() == [job.id]
        execute_job(queue, job.id)  # another worker does the job
        assert queue.get(job.id).state == "done"
        # The silent one wakes up past its ledger check, its package built: publishing is refused.
        with pytest.raises(LeaseLost):
            converter.convert(src, force=True, lease=(job.id, stale))
        assert len([p for p in out.iterdir() if not p.name.startswith(".")]) == 1
        assert queue.get(job.id).attempts == 2
    finally:
        converter.close()


def test_queue_messages_are_not_synced_one_by_one_and_wait_reads_jobs_in_one_query(
    queue: JobQueue, tmp_path: Path
) -> None:
    # Was: Huey's default (synchronous=FULL) fsynced queue.db for every message: 1,000 submitted jobs
    # made ~1,040 fdatasync calls (strace), seconds on a real disk; now ~40. The store holds the truth
    # (a message lost to a power cut is sent again by requeue_interrupted).
    assert queue.huey.storage.conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    jobs = [_submit(queue, write_txt(tmp_path / f"{i}.txt", i), tmp_path / "out")[0] for i in range(3)]
    ids = [jobs[2].id, jobs[0].id, jobs[1].id]
    assert [j.id for j in queue.store.get_many(ids)] == ids
    with pytest.raises(InputError, match="no such job"):
        queue.store.get_many([jobs[0].id, 9999])
    assert [j.state for j in queue.wait(ids, timeout_s=0)] == ["queued"] * 3


def test_worker_preloads_the_pipeline_before_forking(jobs_workspace: Workspace, tmp_path: Path) -> None:
    # Was: a new worker process (at start, or replacing one that died) imported ~680 modules (scipy's
    # signal/ndimage, text rules, document parsers) during its first notice: ~3.8 s instead of ~0.5 s.
    src = write_txt(tmp_path / "a.txt", 1)
    code = (
        "import json, sys\nfrom pathlib import Path\nfrom studio.jobs.queue import _preload_pipeline\n"
        "_preload_pipeline()\nfrom studio.config import open_workspace\n"
        "from studio.convert import Converter, ConvertOptions\nbefore = set(sys.modules)\n"
        f"ws = open_workspace({str(jobs_workspace.home)!r})\n"
        f"c = Converter(ws, ConvertOptions(out_dir=Path({str(tmp_path / 'out')!r}), voice_id='fake', "
        "profile_id='nhanh', audio_only=True))\n"
        f"assert c.convert(Path({str(src)!r})).status == 'converted'\n"
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('scipy', 'studio'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    late = [m for m in json.loads(done.stdout) if not m.startswith("studio.tts.")]  # engines load by voice
    assert late == [], late


def test_an_urgent_notice_is_taken_before_the_ordinary_ones_already_waiting(
    jobs_workspace: Workspace, tmp_path: Path
) -> None:
    # Was: no job carried its notice's priority, so a "Hoả tốc" notice submitted behind 1,000 ordinary
    # ones waited for all of them (minutes of conversion) before a worker took it.
    folder = tmp_path / "notices"
    folder.mkdir()
    for i in range(20):
        write_txt(folder / f"a-{i:02d}.txt", i)
    runner = CliRunner(mix_stderr=False)
    args = ["--home", str(jobs_workspace.home), "jobs", "submit", "--out", str(tmp_path / "out"), "--voice", "fake",
            "--profile", "nhanh", "--audio-only", "--json"]
    first = runner.invoke(main, [*args, str(folder)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    urgent = tmp_path / "khan.txt"
    urgent.write_text("HOẢ TỐC\n\nCảnh báo lũ quét\n\nBà con vùng trũng di chuyển ngay.\n", encoding="utf-8")
    late = runner.invoke(main, [*args, str(urgent)], catch_exceptions=False)
    assert late.exit_code == 0, late.output
    job = json.loads(late.stdout)
    assert job["params"]["priority"] == "khan-cap"
    queue = JobQueue(jobs_workspace, queue_config(jobs_workspace, redis_url=""))
    try:
        taken = queue.huey.dequeue()  # what the next free worker process gets
        assert taken.args[0] == job["id"]
        assert queue.huey.dequeue().args[0] == json.loads(first.stdout.splitlines()[0])["id"]  # then in order
    finally:
        queue.close()


def test_a_waiting_hot_folder_file_is_read_for_its_priority_once_not_on_every_tick(
    jobs_workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (studio/jobs/tasks.py, found in review): every tick read every file still waiting in the
    hot folder (a whole PDF or .docx) for its priority before finding its job already queued, blocking the
    consumer that also replaces dead workers. Now a file is read only when its job is new."""
    from studio.jobs import tasks
    from studio.jobs.specs import load_specs

    home = jobs_workspace.home
    (home / "jobs").mkdir()
    folder, out = tmp_path / "tha-vao", tmp_path / "ra"
    folder.mkdir()
    (home / "jobs" / "thu.toml").write_text(
        f'id = "thu"\nkind = "hot-folder"\n[watch]\nfolder = "{folder}"\nsettle_s = 0\n'
        f'[convert]\nvoice = "fake"\nprofile = "nhanh"\naudio_only = true\n[dispatch]\nout = "{out}"\n',
        encoding="utf-8",
    )
    for n in range(3):
        write_txt(folder / f"thong-bao-{n}.txt", n)
    reads: list[str] = []
    real = tasks.notice_priority
    monkeypatch.setattr(tasks, "notice_priority", lambda path: reads.append(path.name) or real(path))
    queue = JobQueue(jobs_workspace, queue_config(jobs_workspace, redis_url=""))
    try:
        specs = load_specs(jobs_workspace)
        first = tasks.tick(queue, specs=specs)
        assert len(first) == 3 and len(reads) == 3
        for _ in range(5):  # no worker runs: the three jobs stay queued, their files stay in the folder
            assert tasks.tick(queue, specs=specs) == []
        assert len(reads) == 3, reads
    finally:
        queue.close()
