"""Job records in the workspace store: state, progress, result, attempts and leases of every job.

Owns: the SQL over the `jobs` and `conversions` tables (created by the store's migration 2). The queue
engine (Huey) only carries job ids; what a job is and how far it got lives here, so any worker on any
machine sharing the workspace sees the same truth. Must not import Huey or any stage module.

A job is claimed with a lease (a fresh token) by one atomic UPDATE from `queued`; only the holder of
the current lease may report progress or finish it. A job whose holder died is put back to `queued`
with a new lease, so a late report from the dead holder is ignored rather than counted twice.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from studio.errors import Cancelled, InputError
from studio.store import Store, write_transaction

QUEUED, RUNNING, CANCELLING, DONE, FAILED, CANCELLED = (
    "queued",
    "running",
    "cancelling",
    "done",
    "failed",
    "cancelled",
)
STATES = (QUEUED, RUNNING, CANCELLING, DONE, FAILED, CANCELLED)
ACTIVE_STATES = (QUEUED, RUNNING, CANCELLING)
"""States in which a job still holds its content key: submitting the same work again returns it."""


class LeaseLost(Cancelled):
    """The job was given to another worker while this one ran (silent past `stale_after_s`: frozen,
    paused, starved): what this one made must not be published; the other one does the job."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _audit(db: sqlite3.Connection, actor: str, action: str, subject: str, detail: dict[str, Any]) -> None:
    """An audit row inside the caller's transaction (same form as Store.audit)."""
    db.execute(
        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (_now(), actor, action, subject, json.dumps(detail, ensure_ascii=False)),
    )


def worker_id(pid: int | None = None) -> str:
    """This process as a lease holder: 'host:pid'."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def process_alive(pid: int) -> bool:
    """True if `pid` runs on this machine and is not a zombie (a SIGKILLed child not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no procfs: trust kill(0)
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job as the store holds it."""

    id: int
    kind: str
    """'convert', 'bulletin' …: which runner executes it."""
    spec: str
    """The job spec (jobs/*.toml id) that made it, or '' for an ad-hoc job."""
    params: dict[str, Any]
    content_key: str
    """Identity of the work: the same key is the same work (idempotency)."""
    state: str
    progress: float
    """0–1."""
    message: str
    result: dict[str, Any]
    error: str
    attempts: int
    """How many times a worker started it."""
    lease: str
    worker: str
    """'host:pid' of the last worker that claimed it."""
    heartbeat_at: float | None
    """Unix time of the holder's last sign of life."""
    created_at: str
    started_at: str | None
    finished_at: str | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the lease token is private to workers and left out)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "spec": self.spec,
            "state": self.state,
            "progress": round(self.progress, 3),
            "message": self.message,
            "params": self.params,
            "result": self.result,
            "error": self.error,
            "attempts": self.attempts,
            "worker": self.worker,
            "content_key": self.content_key,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


_SAME_WORK = "SELECT * FROM jobs WHERE content_key = ? AND state IN (?, ?, ?, ?) ORDER BY id DESC LIMIT 1"
"""A job doing the same work: queued, running, cancelling or done."""


class JobStore:
    """The jobs and conversions tables of one workspace database. Open one per process or thread.

    Args:
        path: the workspace database (`Workspace.db_path`); created and migrated on first open.

    Raises:
        StoreError: the database cannot be opened or migrated.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._store = Store(path)  # also the audit log's writer
        # One connection, the store's (WAL switch, busy timeout, migrations, read-only disk handled there):
        # with a second one, a write on one while the other is inside a transaction in the same thread
        # would wait on itself for the whole busy timeout and end as "database is locked".
        self._db = self._store._db

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._db, self.path)

    def audit(self, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None) -> None:
        self._store.audit(actor, action, subject, detail)

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._store.audit_log(limit)

    # -- jobs ----------------------------------------------------------------------------------------

    def create(
        self, kind: str, params: dict[str, Any], content_key: str, *, spec: str = "", actor: str = "studio"
    ) -> tuple[JobRecord, bool]:
        """Record a new queued job, unless an active or finished job already does this work.

        A job with the same content key that is queued, running or done is returned instead (failed and
        cancelled ones do not count: submitting again is how they are redone).

        Returns:
            (the job, True if it was created now).
        """
        blob = json.dumps(params, ensure_ascii=False, sort_keys=True)
        with self._write() as db:
            row = db.execute(_SAME_WORK, (content_key, *ACTIVE_STATES, DONE)).fetchone()
            if row is not None:
                return self._record(row), False
            cur = db.execute(
                "INSERT INTO jobs (kind, spec, params, content_key, state, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (kind, spec, blob, content_key, QUEUED, _now()),
            )
            job_id = int(cur.lastrowid or 0)
            _audit(db, actor, "job.submit", f"job:{job_id}", {"kind": kind, "spec": spec})
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return self._record(row), True

    def same_work(self, content_key: str) -> JobRecord | None:
        """The queued, running or done job with `content_key` (what `create` would return instead of a new
        one), read without the write lock; None when there is none."""
        row = self._db.execute(_SAME_WORK, (content_key, *ACTIVE_STATES, DONE)).fetchone()
        return None if row is None else self._record(row)

    def get(self, job_id: int) -> JobRecord:
        """The job `job_id`.

        Raises:
            InputError: no such job.
        """
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise InputError(f"job {job_id}: no such job in {self.path}", title="Không có công việc này")
        return self._record(row)

    def get_many(self, job_ids: Sequence[int]) -> list[JobRecord]:
        """The jobs `job_ids`, in that order, in one query per 500 ids.

        Raises:
            InputError: one of them does not exist.
        """
        found: dict[int, JobRecord] = {}
        ids = list(dict.fromkeys(job_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in self._db.execute(f"SELECT * FROM jobs WHERE id IN ({marks})", chunk):
                found[int(row["id"])] = self._record(row)
        missing = [i for i in ids if i not in found]
        if missing:
            raise InputError(f"job {missing[0]}: no such job in {self.path}", title="Không có công việc này")
        return [found[i] for i in job_ids]

    def list(self, *, state: str | None = None, limit: int = 100) -> list[JobRecord]:
        """Jobs, newest first."""
        if state is not None and state not in STATES:
            raise InputError(f"--state {state!r}: expected one of {', '.join(STATES)}")
        sql, args = "SELECT * FROM jobs", []
        if state is not None:
            sql += " WHERE state = ?"
            args.append(state)
        rows = self._db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [self._record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        rows = self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def claim(self, job_id: int, holder: str) -> str | None:
        """Take a queued job for `holder`; returns the new lease, or None if it is not queued any more."""
        lease = uuid.uuid4().hex
        with self._write() as db:
            cur = db.execute(
                """UPDATE jobs SET state = ?, lease = ?, worker = ?, attempts = attempts + 1,
                   heartbeat_at = ?,
                   started_at = ?, progress = 0, message = '', error = '' WHERE id = ? AND state = ?""",
                (RUNNING, lease, holder, time.time(), _now(), job_id, QUEUED),
            )
            if cur.rowcount != 1:
                return None
            _audit(db, holder, "job.start", f"job:{job_id}", {"worker": holder})
        return lease

    def heartbeat(
        self, job_id: int, lease: str, *, progress: float | None = None, message: str | None = None
    ) -> str | None:
        """Report that the lease holder is alive (and how far it got).

        Returns:
            The job's state (RUNNING, or CANCELLING when someone asked it to stop), or None when the
            lease is no longer this holder's (the job was re-queued): the holder must stop.
        """
        with self._write() as db:
            sets, args = ["heartbeat_at = ?"], [time.time()]
            if progress is not None:
                sets.append("progress = ?")
                args.append(max(0.0, min(1.0, progress)))
            if message is not None:
                sets.append("message = ?")
                args.append(message)
            cur = db.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE id = ? AND lease = ? AND state IN (?, ?)",
                (*args, job_id, lease, RUNNING, CANCELLING),
            )
            if cur.rowcount != 1:
                return None
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return str(row[0])

    def finish(
        self, job_id: int, lease: str, state: str, *, result: dict[str, Any] | None = None, error: str = ""
    ) -> bool:
        """Close a job the holder of `lease` ran: DONE, FAILED or CANCELLED. False if the lease was lost."""
        if state not in (DONE, FAILED, CANCELLED):
            raise ValueError(f"finish: state {state!r} is not final")
        with self._write() as db:
            cur = db.execute(
                """UPDATE jobs SET state = ?, result = ?, error = ?, progress = ?, finished_at = ?,
                   lease = '',
                   heartbeat_at = NULL WHERE id = ? AND lease = ? AND state IN (?, ?)""",
                (
                    state,
                    json.dumps(result or {}, ensure_ascii=False),
                    error,
                    1.0 if state == DONE else 0.0,
                    _now(),
                    job_id,
                    lease,
                    RUNNING,
                    CANCELLING,
                ),
            )
            if cur.rowcount != 1:
                return False
            _audit(db, "worker", f"job.{state}", f"job:{job_id}", {"error": error} if error else {})
            return True

    def release(self, job_id: int, lease: str, *, reason: str) -> bool:
        """Put a job the holder could not finish (interrupted) back to QUEUED; False if the lease was lost."""
        with self._write() as db:
            cur = db.execute(
                """UPDATE jobs SET state = ?, lease = '', heartbeat_at = NULL, message = ?
                   WHERE id = ? AND lease = ? AND state IN (?, ?)""",
                (QUEUED, reason, job_id, lease, RUNNING, CANCELLING),
            )
            if cur.rowcount != 1:
                return False
            _audit(db, "worker", "job.requeue", f"job:{job_id}", {"reason": reason})
            return True

    def cancel(self, job_id: int, *, actor: str = "studio") -> JobRecord:
        """Cancel a queued job at once, or ask a running one to stop (it becomes CANCELLING).

        Raises:
            InputError: no such job, or it has already finished.
        """
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise InputError(f"job {job_id}: no such job in {self.path}", title="Không có công việc này")
            state = row[0]
            if state == QUEUED:
                db.execute(
                    "UPDATE jobs SET state = ?, finished_at = ?, lease = '' WHERE id = ?",
                    (CANCELLED, _now(), job_id),
                )
            elif state == RUNNING:
                db.execute("UPDATE jobs SET state = ? WHERE id = ?", (CANCELLING, job_id))
            elif state != CANCELLING:
                raise InputError(f"job {job_id}: it is {state}; only queued or running jobs can be cancelled")
            _audit(db, actor, "job.cancel", f"job:{job_id}", {"was": state})
        return self.get(job_id)

    def retry(self, job_id: int, *, actor: str = "studio") -> JobRecord:
        """Put a failed or cancelled job back in the queue.

        Raises:
            InputError: no such job, or it is not failed or cancelled.
        """
        with self._write() as db:
            row = db.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise InputError(f"job {job_id}: no such job in {self.path}", title="Không có công việc này")
            if row[0] not in (FAILED, CANCELLED):
                raise InputError(
                    f"job {job_id}: it is {row[0]}; only failed or cancelled jobs can be retried"
                )
            db.execute(
                """UPDATE jobs SET state = ?, error = '', message = '', progress = 0, lease = '',
                          finished_at = NULL WHERE id = ?""",
                (QUEUED, job_id),
            )
            _audit(db, actor, "job.retry", f"job:{job_id}", {"was": row[0]})
        return self.get(job_id)

    def interrupted(self, *, stale_after_s: float, now: float | None = None) -> list[JobRecord]:
        """Running jobs whose holder is gone: a dead process on this machine, or no heartbeat for
        `stale_after_s` (the only sign a worker on another machine can give)."""
        now = time.time() if now is None else now
        host = socket.gethostname()
        found = []
        for row in self._db.execute("SELECT * FROM jobs WHERE state IN (?, ?)", (RUNNING, CANCELLING)):
            job = self._record(row)
            holder_host, _, pid = job.worker.rpartition(":")
            dead_here = holder_host == host and pid.isdigit() and not process_alive(int(pid))
            stale = job.heartbeat_at is None or now - job.heartbeat_at > stale_after_s
            if dead_here or stale:
                found.append(job)
        return found

    def requeue_interrupted(self, job: JobRecord, *, actor: str) -> bool:
        """Put an interrupted job back to QUEUED (a CANCELLING one becomes CANCELLED); False if it moved
        on."""
        target = CANCELLED if job.state == CANCELLING else QUEUED
        with self._write() as db:
            cur = db.execute(
                "UPDATE jobs SET state = ?, lease = '', heartbeat_at = NULL, message = ?"
                " WHERE id = ? AND lease = ?",
                (target, f"bị gián đoạn ({job.worker}), chạy lại", job.id, job.lease),
            )
            if cur.rowcount != 1:
                return False
            _audit(
                db,
                actor,
                "job.requeue",
                f"job:{job.id}",
                {"reason": "interrupted", "worker": job.worker, "state": target},
            )
            return target == QUEUED

    def queued_ids(self) -> list[int]:
        return [
            int(r[0]) for r in self._db.execute("SELECT id FROM jobs WHERE state = ? ORDER BY id", (QUEUED,))
        ]

    @staticmethod
    def _record(row: sqlite3.Row) -> JobRecord:
        return JobRecord(
            id=row["id"],
            kind=row["kind"],
            spec=row["spec"],
            params=json.loads(row["params"]),
            content_key=row["content_key"],
            state=row["state"],
            progress=float(row["progress"]),
            message=row["message"],
            result=json.loads(row["result"]),
            error=row["error"],
            attempts=int(row["attempts"]),
            lease=row["lease"],
            worker=row["worker"],
            heartbeat_at=row["heartbeat_at"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    # -- conversions (idempotency of `studio convert`) ------------------------------------------------

    def conversion(self, content_key: str, out_dir: Path) -> dict[str, Any] | None:
        """The recorded result of converting `content_key` into `out_dir`, or None."""
        row = self._db.execute(
            "SELECT result FROM conversions WHERE content_key = ? AND out_dir = ?",
            (content_key, str(out_dir)),
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def conversions(self, out_dir: Path) -> dict[str, dict[str, Any]]:
        """Every recorded conversion into `out_dir`, by content key (one query for a whole batch)."""
        rows = self._db.execute(
            "SELECT content_key, result FROM conversions WHERE out_dir = ?", (str(out_dir),)
        )
        return {r[0]: dict(json.loads(r[1])) for r in rows}

    def record_conversion(
        self,
        content_key: str,
        out_dir: Path,
        input_path: str,
        output: str,
        result: dict[str, Any],
        *,
        lease: tuple[int, str] | None = None,
    ) -> None:
        """Record a conversion (for a package: just before it is renamed into place).

        Args:
            lease: (job id, lease) when a queued job converts: recorded only while the job is still this
                worker's, in the same transaction (a fencing token).

        Raises:
            LeaseLost: the job was re-queued and taken by another worker meanwhile; nothing recorded.
        """
        with self._write() as db:
            if lease is not None and (
                db.execute(
                    "SELECT 1 FROM jobs WHERE id = ? AND lease = ? AND state IN (?, ?)",
                    (lease[0], lease[1], RUNNING, CANCELLING),
                ).fetchone()
                is None
            ):
                raise LeaseLost(
                    f"job {lease[0]}: given to another worker while this one ran; {input_path} is not "
                    "published a second time",
                    title="Công việc đã chuyển cho bộ xử lý khác",
                )
            db.execute(
                """INSERT INTO conversions (content_key, out_dir, input, output, result, created_at)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (content_key, out_dir) DO UPDATE SET
                   input = excluded.input, output = excluded.output, result = excluded.result,
                   created_at = excluded.created_at""",
                (
                    content_key,
                    str(out_dir),
                    input_path,
                    output,
                    json.dumps(result, ensure_ascii=False),
                    _now(),
                ),
            )
            _audit(
                db,
                "convert",
                "convert.done",
                f"file:{input_path}",
                {"output": output, "key": content_key[:16]},
            )


__all__: Sequence[str] = (
    "JobRecord",
    "JobStore",
    "LeaseLost",
    "STATES",
    "QUEUED",
    "RUNNING",
    "CANCELLING",
    "DONE",
    "FAILED",
    "CANCELLED",
    "worker_id",
    "process_alive",
)
