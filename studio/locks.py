"""Ownership of work in progress by lock files: who may remove a half-done folder.

Owns: one exclusive `flock` on a lock file, held by the process doing the work (a package build, a render
run, a spool copy) from before its folder exists until the work is settled, and released by removing the
file while still holding it. A sweeper removes a leftover only while it holds that lock itself, so work
running in another process is never touched. Lock files are opened read-write: NFS emulates flock with
fcntl locks, which need a file open for writing (a directory cannot be). Imports nothing from studio.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

OWNER_WAIT_S = 5.0
"""How long the owner of a fresh lock waits for it: a sweeper holds any lock for a moment only."""


def try_lock_file(path: Path) -> int | None:
    """An exclusive flock on `path` (created when missing) without waiting: its fd, or None when another
    process holds it. Once locked, the file must still be the one at the path (a sweeper that held it may
    have removed it meanwhile); otherwise it tries again.

    Raises:
        OSError: the folder cannot be written.
    """
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def own_lock_file(path: Path, wait_s: float = OWNER_WAIT_S) -> int | None:
    """The owner's lock on a fresh, unique name: like try_lock_file, but a sweeper that happens to hold it
    for a moment (it saw the new file and is checking it) is waited for, up to `wait_s`. None only when
    another process holds it all that time (a second owner of the same name)."""
    deadline = time.monotonic() + wait_s
    delay = 0.005
    while True:
        fd = try_lock_file(path)
        if fd is not None or time.monotonic() >= deadline:
            return fd
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def unlock_file(path: Path, fd: int) -> None:
    """Remove the lock file (while still holding it, so nobody locks a file about to vanish), then close."""
    try:
        if os.path.samestat(os.fstat(fd), os.stat(path)):
            path.unlink()
    except FileNotFoundError:
        pass
    finally:
        os.close(fd)
