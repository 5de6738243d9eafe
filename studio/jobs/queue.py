"""The job queue: our small interface in front of Huey, with every job's truth in the workspace store.

Owns: choosing the Huey storage (SQLite in the workspace by default; Redis when a URL is configured,
so workers on several machines sharing the workspace split the work), submitting jobs, and running a
worker (`studio worker`). Huey only carries job ids and delivers each message at most once; our side
makes that safe: a job is claimed by an atomic store update (a duplicate message is a no-op), the
work itself is idempotent (keyed by content), and work a dead worker left unfinished is put back in
the queue by the next worker to start, and by running workers every few seconds.
Must not import the TUI; the pipeline is imported only inside the task runners (studio.jobs.tasks).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from studio.config import Workspace
from studio.errors import ConfigError, InputError
from studio.jobs.records import ACTIVE_STATES, QUEUED, JobRecord, JobStore, worker_id
from studio.models import Priority

QUEUE_FILE = "queue.toml"
"""`<workspace>/queue.toml`: `redis_url = "redis://host:6379/0"` switches the workspace to Redis."""
REDIS_URL_ENV = "STUDIO_REDIS_URL"
HUEY_DB = "queue.db"
PRIORITY = {Priority.KHAN_CAP: 20, Priority.UU_TIEN: 10, Priority.THONG_THUONG: 0}
log = logging.getLogger("studio.jobs")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """How jobs travel, and how quickly a dead worker's job is noticed."""

    redis_url: str = ""
    """'' for the embedded SQLite queue in the workspace; else a redis:// URL."""
    name: str = "studio"
    """Queue name (the Redis key prefix): workers and submitters must agree on it."""
    heartbeat_s: float = 2.0
    """How often a running job tells the store its worker is alive."""
    stale_after_s: float = 30.0
    """A running job without a heartbeat for this long is taken to be orphaned (any machine)."""
    reap_every_s: float = 5.0
    """How often a running worker looks for orphaned jobs."""
    tick_every_s: float = 30.0
    """How often a worker scans hot folders and schedules (job specs)."""

    @property
    def backend(self) -> str:
        return "redis" if self.redis_url else "sqlite"


def queue_config(workspace: Workspace, *, redis_url: str | None = None, **overrides: Any) -> QueueConfig:
    """The workspace's queue settings: `redis_url` if given, else $STUDIO_REDIS_URL, else queue.toml.

    Raises:
        ConfigError: queue.toml is invalid (naming the field), or the URL is not redis:// / rediss://.
    """
    path = workspace.home / QUEUE_FILE
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read queue settings: {exc}") from exc
        allowed = set(QueueConfig.__dataclass_fields__)
        for key, value in values.items():
            if key not in allowed:
                raise ConfigError(f"{path}: field {key!r} is unknown; allowed: {', '.join(sorted(allowed))}")
            expected = str if key in ("redis_url", "name") else (int, float)
            if isinstance(value, bool) or not isinstance(value, expected):
                raise ConfigError(
                    f"{path}: field {key!r} is {value!r}; expected "
                    f"{'a string' if expected is str else 'a number of seconds'}"
                )
    url = redis_url if redis_url is not None else os.environ.get(REDIS_URL_ENV) or values.get("redis_url", "")
    values["redis_url"] = url
    values.update(overrides)
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            f"redis URL {url!r}: expected redis://host:port/db (from --redis, ${REDIS_URL_ENV} or {path})"
        )
    return QueueConfig(**values)


def _job_priority(params: dict[str, Any]) -> int:
    try:
        return PRIORITY[Priority(params.get("priority", Priority.THONG_THUONG.value))]
    except ValueError:
        return 0


class JobQueue:
    """Submit, inspect and control jobs; run workers. One per process.

    Args:
        workspace: the shared workspace (its store holds job state; its queue.db is the embedded queue).
        config: queue settings (default: `queue_config(workspace)`).
    """

    def __init__(self, workspace: Workspace, config: QueueConfig | None = None) -> None:
        self.workspace = workspace
        self.config = config or queue_config(workspace)
        self._huey: Any = None
        self._run_job: Any = None
        self._stores: dict[tuple[int, int], JobStore] = {}

    # -- plumbing ------------------------------------------------------------------------------------

    @property
    def store(self) -> JobStore:
        """This thread's connection to the job records (a forked worker or another thread opens its own)."""
        key = (os.getpid(), threading.get_ident())
        if key not in self._stores:
            if any(pid != key[0] for pid, _ in self._stores):
                self._stores = {}  # inherited from the parent process: never used (nor closed) here
            self._stores[key] = JobStore(self.workspace.db_path)
        return self._stores[key]

    @property
    def huey(self) -> Any:
        """The Huey instance with studio's tasks registered (built on first use)."""
        if self._huey is None:
            self._huey = self._make_huey()
        return self._huey

    def _make_huey(self) -> Any:
        from huey import PriorityRedisHuey, SqliteHuey

        if self.config.redis_url:
            import redis

            try:
                pool = redis.ConnectionPool.from_url(self.config.redis_url)
            except ValueError as exc:
                raise ConfigError(f"redis URL {self.config.redis_url!r}: {exc}") from exc
            # Results live in our store, not in Huey's (results=False).
            huey = PriorityRedisHuey(self.config.name, connection_pool=pool, results=False, utc=True)
        else:
            huey = SqliteHuey(
                self.config.name,
                filename=str(self.workspace.home / HUEY_DB),
                results=False,
                utc=True,
                timeout=30,
                storage_class=_queue_storage_class(),
            )

        def run_job(job_id: int) -> None:
            from studio.jobs.tasks import execute_job

            execute_job(self, job_id)

        self._run_job = huey.task(name="run_job")(run_job)
        huey.on_startup("studio.die_with_parent")(_die_with_parent)
        return huey

    def close(self) -> None:
        """Close this thread's store connection and the queue storage (before forking, and at the end)."""
        store = self._stores.pop((os.getpid(), threading.get_ident()), None)
        if store is not None:
            store.close()
        if self._huey is not None:
            self._huey.storage.close()

    def ping(self) -> None:
        """Check the queue storage answers.

        Raises:
            ConfigError: Redis cannot be reached (the message has the URL and the reason).
        """
        if not self.config.redis_url:
            return
        import redis

        try:
            self.huey.storage.conn.ping()
        except redis.RedisError as exc:
            raise ConfigError(
                f"redis {self.config.redis_url}: {exc}", title="Không kết nối được hàng đợi"
            ) from exc

    # -- the interface -------------------------------------------------------------------------------

    def submit(
        self, kind: str, params: dict[str, Any], *, content_key: str, spec: str = "", actor: str = "studio"
    ) -> tuple[JobRecord, bool]:
        """Record a job and send it to the workers, unless the same work is already queued, running or done.

        Returns:
            (the job, True if it is new).
        """
        job, created = self.store.create(kind, params, content_key, spec=spec, actor=actor)
        if created:
            self._enqueue(job.id, _job_priority(params))
        return job, created

    def _enqueue(self, job_id: int, priority: int = 0) -> None:
        self.huey.enqueue(self._run_job.s(job_id, priority=priority))

    def get(self, job_id: int) -> JobRecord:
        return self.store.get(job_id)

    def list(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]:
        return self.store.list(state=state, limit=limit)

    def cancel(self, job_id: int, *, actor: str = "studio") -> JobRecord:
        """Cancel a queued job, or ask a running one to stop (its worker sees it on the next heartbeat)."""
        return self.store.cancel(job_id, actor=actor)

    def retry(self, job_id: int, *, actor: str = "studio") -> JobRecord:
        """Send a failed or cancelled job to the workers again."""
        job = self.store.retry(job_id, actor=actor)
        self._enqueue(job.id, _job_priority(job.params))
        return job

    def pending_ids(self) -> set[int]:
        """Job ids whose messages wait in Huey's queue."""
        ids: set[int] = set()
        for task in self.huey.pending():
            if task.name == "run_job" and task.args:
                ids.add(int(task.args[0]))
        return ids

    def requeue_interrupted(self, *, actor: str | None = None) -> list[int]:
        """Put back in the queue the work a crashed worker left: running jobs whose worker is dead or silent,
        and queued jobs whose message was lost (taken from the queue by a worker that died before claiming).

        Returns:
            The ids sent to the workers again.
        """
        actor = actor or worker_id()
        sent: list[int] = []
        for job in self.store.interrupted(stale_after_s=self.config.stale_after_s):
            if self.store.requeue_interrupted(job, actor=actor):
                self._enqueue(job.id, _job_priority(job.params))
                sent.append(job.id)
                log.warning("job %s: worker %s is gone; queued again", job.id, job.worker)
        queued = self.store.queued_ids()
        if queued:
            pending = self.pending_ids()
            for job_id in queued:
                if job_id not in pending and job_id not in sent:
                    # A duplicate message is harmless: only one claim from 'queued' can succeed.
                    self._enqueue(job_id, _job_priority(self.store.get(job_id).params))
                    sent.append(job_id)
        return sent

    def wait(
        self,
        job_ids: Sequence[int],
        *,
        timeout_s: float,
        poll_s: float = 0.2,
        on_poll: Callable[[list[JobRecord]], None] | None = None,
    ) -> list[JobRecord]:
        """Poll the store until every job in `job_ids` has finished or `timeout_s` passed."""
        deadline = time.monotonic() + timeout_s
        while True:
            jobs = self.store.get_many(job_ids)  # one query per poll, however many jobs (1,000 at 5 Hz)
            if on_poll is not None:
                on_poll(jobs)
            if all(j.state not in ACTIVE_STATES for j in jobs) or time.monotonic() >= deadline:
                return jobs
            time.sleep(poll_s)

    def run_worker(self, *, workers: int = 1, periodic: bool = True) -> None:
        """Run a worker until SIGINT (finish running jobs) or SIGTERM (interrupt them; they are re-queued).

        Args:
            workers: processes executing jobs in parallel (Huey 'process' workers: speech and audio
                work is CPU-bound and holds the GIL).
            periodic: also scan hot folders and schedules (job specs) every minute.

        Raises:
            ConfigError: bad queue settings, or Redis unreachable.
            InputError: workers < 1.
        """
        if workers < 1:
            raise InputError(f"--workers {workers}: must be at least 1")
        self.ping()
        _preload_pipeline()

        sent = self.requeue_interrupted()
        if sent:
            log.warning("re-queued interrupted job(s) %s", ", ".join(map(str, sent)))
        global _consumer_pid
        _consumer_pid = os.getpid()
        consumer = _make_consumer_class()(self, workers=workers, periodic=periodic)
        consumer.run()


def _preload_pipeline() -> None:
    """Load the whole pipeline once, in the consumer: the forked worker processes (and the replacement
    of one that died) inherit it, and share its pages, instead of each paying the imports on its first
    job. Was: only convert/produce/assemble, so a new worker process took ~3.8 s over its first notice
    (scipy.signal/ndimage, the text rules, the document parsers: ~680 modules) instead of ~0.5 s, and a
    job re-queued after a crash waited that long again."""
    import studio.audio.dynamics  # noqa: F401
    import studio.audio.filters  # noqa: F401
    import studio.audio.mix  # noqa: F401
    import studio.convert  # noqa: F401
    import studio.ingest.documents  # noqa: F401
    import studio.ingest.items  # noqa: F401
    import studio.package.assemble  # noqa: F401
    import studio.produce  # noqa: F401
    import studio.text.normalize  # noqa: F401
    import studio.tts.registry  # noqa: F401


def _queue_storage_class() -> type:
    from huey.storage import SqliteStorage

    class QueueStorage(SqliteStorage):  # type: ignore[misc]
        """Huey's SQLite storage with the store's durability (WAL, synchronous=NORMAL) instead of an
        fsync per message: a SIGKILL loses nothing; a power cut can lose the last messages, which the
        store still holds as 'queued' and the next worker sends again (`requeue_interrupted`). Was: one
        fdatasync per submitted job and per job taken (1,000 jobs: 2,000 syncs, seconds on a real disk)."""

        def _create_connection(self) -> Any:
            conn = super()._create_connection()
            conn.execute("PRAGMA synchronous=NORMAL")
            return conn

    return QueueStorage


def _die_with_parent() -> None:
    """A Huey worker process dies with its consumer: a SIGKILLed `studio worker` leaves no orphan still
    converting (its job is then re-queued, not done twice)."""
    if not os.path.exists("/proc/self"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if _consumer_pid and os.getppid() != _consumer_pid:  # the consumer died before prctl took effect
        os._exit(1)


_consumer_pid = 0
"""The `studio worker` process that forks the worker processes (set before it forks them)."""


def _make_consumer_class() -> type:
    from huey.consumer import Consumer, Scheduler

    class StudioScheduler(Scheduler):  # type: ignore[misc]
        """Huey's scheduler process, which must die with its consumer too (startup hooks run only in
        workers): a SIGKILLed worker otherwise leaves it behind, polling the queue for ever."""

        def initialize(self) -> None:
            _die_with_parent()
            super().initialize()

    class StudioConsumer(Consumer):  # type: ignore[misc]
        """Huey's consumer plus our upkeep in its main loop (no extra thread: workers are forked)."""

        scheduler_class = StudioScheduler

        def __init__(self, queue: JobQueue, *, workers: int, periodic: bool) -> None:
            # Huey's own scheduler stays off: hot folders and schedules are ticked in `loop` below.
            super().__init__(
                queue.huey,
                workers=workers,
                periodic=False,
                worker_type="process",
                initial_delay=0.05,
                max_delay=1.0,
                backoff=1.5,
                health_check_interval=1.0,  # a dead worker process is replaced within a second
            )
            self.queue = queue
            self._next_reap = time.monotonic() + queue.config.reap_every_s
            self._next_tick = time.monotonic() + (queue.config.tick_every_s if periodic else float("inf"))

        def start(self) -> None:
            # Huey closes its own storage before forking; ours too: no child inherits an open SQLite handle.
            self.queue.close()
            super().start()

        def check_worker_health(self) -> bool:
            self.queue.close()  # it may fork a replacement worker
            return bool(super().check_worker_health())

        def loop(self, health_check_ts: float | None = None) -> float | None:
            result = super().loop(health_check_ts)
            now = time.monotonic()
            if now >= self._next_reap:
                self._next_reap = now + self.queue.config.reap_every_s
                try:
                    self.queue.requeue_interrupted()
                except Exception:  # the queue or store is briefly unreachable: try again next round
                    log.exception("looking for interrupted jobs failed")
            if now >= self._next_tick:
                self._next_tick = now + self.queue.config.tick_every_s
                try:
                    from studio.jobs.tasks import tick

                    tick(self.queue)
                except Exception:
                    log.exception("job spec tick failed")
            return result

    return StudioConsumer


__all__: Sequence[str] = ("JobQueue", "QueueConfig", "queue_config", "QUEUED")
