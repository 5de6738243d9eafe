"""Jobs at any scale: job specs (jobs/*.toml), the queue (Huey: SQLite in the workspace by default,
Redis to spread work over machines), workers, and job records in the workspace store.

Public API: `JobQueue` (submit/list/status/retry/cancel, `run_worker`), `queue_config`, `JobRecord`,
`load_specs`/`load_spec`, `tick`. Must not import the TUI.
"""

from studio.jobs.queue import JobQueue, QueueConfig, queue_config
from studio.jobs.records import JobRecord, JobStore
from studio.jobs.specs import HotFolderSpec, ScheduledBulletinSpec, load_spec, load_specs

__all__ = [
    "JobQueue",
    "QueueConfig",
    "queue_config",
    "JobRecord",
    "JobStore",
    "HotFolderSpec",
    "ScheduledBulletinSpec",
    "load_spec",
    "load_specs",
]
