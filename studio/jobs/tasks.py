"""What a worker does with a job: claim it, run it with a heartbeat, record the outcome; and the tick
that turns job specs (hot folders, schedules) into jobs.

Owns: `execute_job` (the body of Huey's one task), the runners per job kind ('convert', 'bulletin'),
`tick`, and the hot folder's bookkeeping (files move to `done/` or `failed/` with a `.error.txt`, never
deleted). Runners call the pipeline's public functions; nothing here knows Huey.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.errors import Cancelled, StudioError
from studio.jobs.records import CANCELLED, CANCELLING, DONE, FAILED, JobRecord, JobStore, worker_id
from studio.jobs.specs import DAYS, HotFolderSpec, JobSpec, ScheduledBulletinSpec, load_specs

if TYPE_CHECKING:
    from studio.config import Workspace
    from studio.convert import Converter, ConvertOptions
    from studio.jobs.queue import JobQueue

log = logging.getLogger("studio.jobs")
DONE_DIR, FAILED_DIR = "done", "failed"
Runner = Callable[["JobQueue", JobRecord, threading.Event, Callable[[float, str], None]], dict[str, Any]]


class JobFailed(StudioError):
    """A runner finished but its work failed; `result` is still recorded."""

    def __init__(self, message: str, result: dict[str, Any]) -> None:
        super().__init__(message)
        self.result = result


class _Heartbeat(threading.Thread):
    """Tells the store the job's worker is alive (with its progress) and notices cancel requests or a
    lost lease, setting `cancel` so the pipeline stops at its next check."""

    def __init__(
        self, db_path: Path, job_id: int, lease: str, interval_s: float, cancel: threading.Event
    ) -> None:
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.db_path, self.job_id, self.lease, self.interval_s, self.cancel = (
            db_path,
            job_id,
            lease,
            interval_s,
            cancel,
        )
        self.progress: tuple[float, str] = (0.0, "")
        self.lost = False
        self._stop_event = threading.Event()

    def run(self) -> None:
        with JobStore(self.db_path) as store:
            while not self._stop_event.wait(self.interval_s):
                fraction, message = self.progress
                try:
                    state = store.heartbeat(self.job_id, self.lease, progress=fraction, message=message)
                except StudioError:
                    log.exception("job %s: heartbeat failed", self.job_id)
                    continue
                if state is None:
                    self.lost = True
                    self.cancel.set()
                    return
                if state == CANCELLING:
                    self.cancel.set()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


def execute_job(queue: JobQueue, job_id: int) -> None:
    """Claim job `job_id` and run it. A job that is not queued any more (done, running elsewhere,
    cancelled) is left alone, so a duplicate or late message never runs work twice."""
    store = queue.store
    holder = worker_id()
    lease = store.claim(job_id, holder)
    if lease is None:
        log.info("job %s: not queued any more; nothing to do", job_id)
        return
    job = store.get(job_id)
    cancel = threading.Event()
    beat = _Heartbeat(queue.workspace.db_path, job_id, lease, queue.config.heartbeat_s, cancel)

    def on_progress(fraction: float, message: str) -> None:
        beat.progress = (fraction, message)

    beat.start()
    state, result, error = DONE, {}, ""
    try:
        runner = RUNNERS.get(job.kind)
        if runner is None:
            raise StudioError(f"job {job_id}: unknown kind {job.kind!r}; known: {', '.join(sorted(RUNNERS))}")
        result = runner(queue, job, cancel, on_progress)
    except Cancelled as exc:
        state, error = CANCELLED, exc.message
    except JobFailed as exc:
        state, result, error = FAILED, exc.result, exc.message
    except StudioError as exc:
        state, error = FAILED, exc.message
    except KeyboardInterrupt:
        # The worker is being stopped (SIGTERM): the job goes back to the queue for another worker.
        beat.stop()
        if store.release(job_id, lease, reason=f"worker {holder} stopped"):
            from studio.jobs.queue import _job_priority

            queue._enqueue(job_id, _job_priority(job.params))  # was: priority 0, an urgent notice sent back
        raise
    except Exception as exc:  # a bug, not bad input: recorded on the job, traceback in the worker's log
        log.exception("job %s failed", job_id)
        state, error = FAILED, f"{type(exc).__name__}: {exc}"
    finally:
        beat.stop()
    if beat.lost:
        log.warning("job %s: lease lost while running (re-queued elsewhere); result dropped", job_id)
        return
    if state == CANCELLED or (state == FAILED and store.get(job_id).state == CANCELLING):
        state = CANCELLED
    if not store.finish(job_id, lease, state, result=result, error=error):
        log.warning("job %s: lease lost before finishing; result dropped", job_id)


# -- convert ---------------------------------------------------------------------------------------------

_converters: dict[tuple[int, str], Converter] = {}


def _converter(queue: JobQueue, options: ConvertOptions) -> Converter:
    """One Converter per process and options: voices, profile and key are resolved once."""
    from studio.convert import Converter

    key = (os.getpid(), json.dumps(options.to_params(), sort_keys=True))
    if key not in _converters:
        _converters[key] = Converter(queue.workspace, options)
    return _converters[key]


def notice_priority(path: Path) -> str:
    """The priority of the notice in `path` (its urgency mark: "Hoả tốc" → khẩn cấp), for the queue's
    order: an urgent notice is converted before the ordinary ones already waiting. An unreadable input
    is ordinary here; its job fails with the reason when it runs."""
    from studio.convert import read_notice
    from studio.models import Priority

    try:
        items = read_notice(path)
    except StudioError:
        return Priority.THONG_THUONG.value
    return min((i.priority for i in items), key=lambda p: p.rank).value


def convert_key(converter: Converter, path: Path) -> str:
    """The queue's content key for converting `path`: the conversion key plus the destination folder."""
    return hashlib.sha256(f"convert\0{converter.key(path)}\0{converter.out_dir}".encode()).hexdigest()


def run_convert(
    queue: JobQueue, job: JobRecord, cancel: threading.Event, on_progress: Callable[[float, str], None]
) -> dict[str, Any]:
    from studio.convert import FAILED as CONVERT_FAILED
    from studio.convert import ConvertOptions

    params = job.params
    options = ConvertOptions.from_params(params["options"])
    path = Path(params["input"])
    result = _converter(queue, options).convert(
        path,
        output_name=params.get("output_name") or None,
        cancel=cancel,
        on_progress=on_progress,
        lease=(job.id, job.lease),
    )
    data = result.to_dict()
    hot = Path(params["hot_folder"]) if params.get("hot_folder") else None
    if result.status == CONVERT_FAILED:
        if hot is not None:
            _archive(path, hot, failed_reason=result.error)
        raise JobFailed(result.error, data)
    dispatch_to = params.get("dispatch_to", "")
    if dispatch_to and result.output and not options.audio_only:
        try:
            data["dispatch"] = _dispatch_http(Path(result.output), dispatch_to, queue.workspace)
        except JobFailed as exc:
            # The notice stays in the hot folder: the next tick queues it again (conversion is skipped as
            # unchanged, delivery is retried) until the dispatch side takes it.
            raise JobFailed(exc.message, {**data, **exc.result}) from exc
    if hot is not None:
        _archive(path, hot, failed_reason=None)
    return data


def _archive(path: Path, folder: Path, *, failed_reason: str | None) -> Path | None:
    """Move a hot-folder file to done/ or failed/ (with NAME.error.txt saying why); never delete it."""
    if not path.exists():
        return None
    target_dir = folder / (FAILED_DIR if failed_reason is not None else DONE_DIR)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    if target.exists():
        target = target_dir / f"{path.stem}-{datetime.now():%Y%m%dT%H%M%S%f}{path.suffix}"
    shutil.move(str(path), target)
    if failed_reason is not None:
        from studio.config import atomic_write_text

        atomic_write_text(target.with_name(target.name + ".error.txt"), failed_reason + "\n")
    return target


def _dispatch_http(package: Path, url: str, workspace: Workspace) -> dict[str, Any]:
    """POST a published package to `url` through the dispatch stage (verified first, retries, idempotency
    key, delivery log in the store).

    Raises:
        JobFailed: the delivery failed for good (the package stays in the spool; `jobs retry` sends again).
    """
    from studio.dispatch.http import post_package
    from studio.store import Store

    with Store(workspace.db_path) as store:
        delivery = post_package(package, url, store=store, keys_dir=workspace.keys_dir)
    data = {
        "to": url,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "http_status": delivery.http_status,
    }
    if delivery.status == "failed":
        raise JobFailed(f"{package}: dispatch to {url} failed: {delivery.error}", {"dispatch": data})
    return data


# -- scheduled bulletins ---------------------------------------------------------------------------------


def run_bulletin(
    queue: JobQueue, job: JobRecord, cancel: threading.Event, on_progress: Callable[[float, str], None]
) -> dict[str, Any]:
    from studio.jobs.bulletins import make_scheduled_bulletin

    specs = load_specs(queue.workspace)
    spec = specs.get(job.spec)
    if not isinstance(spec, ScheduledBulletinSpec):
        raise StudioError(f"job {job.id}: job spec {job.spec!r} is not a scheduled bulletin here")
    due = job.params.get("due")
    # A bulletin that waited in the queue is still the one for its due time (date in the opening, window).
    now = datetime.fromisoformat(due) if due else None
    return make_scheduled_bulletin(queue.workspace, spec, cancel=cancel, on_progress=on_progress, now=now)


RUNNERS: dict[str, Runner] = {"convert": run_convert, "bulletin": run_bulletin}


# -- the tick: job specs → jobs --------------------------------------------------------------------------


def tick(
    queue: JobQueue, *, now: datetime | None = None, specs: dict[str, JobSpec] | None = None
) -> list[int]:
    """Turn what is due into jobs: settled files in hot folders, bulletin times that have come.

    Safe to run on every worker at once: each job's content key makes the second submit a no-op.

    Returns:
        Ids of jobs created now.

    Raises:
        ConfigError: a job spec file is invalid.
    """
    now = now or datetime.now().astimezone()
    specs = load_specs(queue.workspace) if specs is None else specs
    created: list[int] = []
    for spec in specs.values():
        if not spec.enabled:
            continue
        try:
            if isinstance(spec, HotFolderSpec):
                created += _tick_hot_folder(queue, spec, now)
            else:
                created += _tick_schedule(queue, spec, now)
        except StudioError as exc:  # one spec's problem (no key, bad voice) must not stop the others
            log.error("job spec %s (%s): %s", spec.id, spec.path, exc.message)
    return created


def hot_folder_options(spec: HotFolderSpec) -> ConvertOptions:
    from studio.convert import ConvertOptions

    return ConvertOptions(
        out_dir=spec.dispatch.out,
        voice_id=spec.voice,
        profile_id=spec.profile,
        audio_only=spec.audio_only,
        key_name=spec.key,
        template=spec.template,
    )


def _tick_hot_folder(queue: JobQueue, spec: HotFolderSpec, now: datetime) -> list[int]:
    if not spec.folder.is_dir():
        spec.folder.mkdir(parents=True, exist_ok=True)
        return []
    options = hot_folder_options(spec)
    created = []
    for path in sorted(spec.folder.iterdir()):
        if (
            not path.is_file()
            or path.name.startswith(".")
            or not any(fnmatch(path.name, p) for p in spec.patterns)
        ):
            continue
        converter = _converter(queue, options)  # only now: an idle folder needs no voice or key
        try:
            if now.timestamp() - path.stat().st_mtime < spec.settle_s:
                continue  # still being copied in
            key = convert_key(converter, path)
        except (OSError, StudioError):
            continue  # vanished or unreadable right now: the next tick sees it again
        # A file stays in the folder while its job waits or runs: read it for its priority only when new
        # (reading a long PDF on every tick for every waiting file blocked the consumer for seconds).
        existing = queue.store.same_work(key)
        if existing is not None:
            job, new = existing, False
        else:
            job, new = queue.submit(
                "convert",
                {
                    "input": str(path),
                    "options": options.to_params(),
                    "hot_folder": str(spec.folder),
                    "dispatch_to": spec.dispatch.to,
                    "priority": notice_priority(path),
                },
                content_key=key,
                spec=spec.id,
                actor=f"hot-folder:{spec.id}",
            )
        if new:
            created.append(job.id)
        elif job.state == DONE:
            _archive(path, spec.folder, failed_reason=None)  # the same notice again: already converted
    return created


def _tick_schedule(queue: JobQueue, spec: ScheduledBulletinSpec, now: datetime) -> list[int]:
    created = []
    if DAYS[now.weekday()] not in spec.days:
        return created
    for at in spec.times:
        due = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        if not due <= now < due + timedelta(minutes=max(spec.grace_min, 1)):
            continue
        key = hashlib.sha256(f"bulletin\0{spec.id}\0{due.isoformat()}".encode()).hexdigest()
        job, new = queue.submit(
            "bulletin",
            {"due": due.isoformat(), "spec": spec.id},
            content_key=key,
            spec=spec.id,
            actor=f"schedule:{spec.id}",
        )
        if new:
            created.append(job.id)
    return created
