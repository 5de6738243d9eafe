"""The StudioError tree: one root, each message names the file or field and what is wrong.

Owns: exception types and the CLI exit code each maps to. Imports nothing from studio.
"""

from __future__ import annotations

import errno
import os
from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """Process exit codes of the `studio` CLI. Part of the API for batch scripts."""

    OK = 0
    """Everything asked for was done."""
    JOB_FAILED = 1
    """Some inputs failed; the others were still done."""
    USAGE = 2
    """Bad command line, bad config or bad input file: nothing was done for it."""
    ENGINE = 3
    """A speech engine or an audio/codec library failed."""
    STORAGE = 4
    """The workspace or an output folder cannot be written: the disk is full or read-only. Nothing
    stored before was lost; free some space (or make the folder writable) and run the same command again."""


class StudioError(Exception):
    """Root of every error studio raises on purpose.

    Args:
        message: what is wrong, naming the file, field or value concerned.
        title: a short heading for the UI and CLI ("Invalid voice file").
    """

    exit_code: ExitCode = ExitCode.USAGE
    default_title = "Lỗi"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.title = title or self.default_title

    def __str__(self) -> str:
        return self.message


class ConfigError(StudioError):
    """A settings, voice, template or job file is missing or invalid."""

    default_title = "Cấu hình không hợp lệ"


class InputError(StudioError):
    """An input document, item or audio file cannot be used."""

    default_title = "Dữ liệu vào không hợp lệ"


class StoreError(StudioError):
    """The workspace database cannot be opened, migrated or written."""

    default_title = "Lỗi kho dữ liệu"


class EngineError(StudioError):
    """A speech engine failed to produce audio."""

    exit_code = ExitCode.ENGINE
    default_title = "Lỗi bộ đọc"


class AudioError(StudioError):
    """Audio cannot be read, processed or written."""

    exit_code = ExitCode.ENGINE
    default_title = "Lỗi âm thanh"


class AudioFormatError(AudioError):
    """Samples have the wrong shape, rate, or contain NaN/Inf."""

    exit_code = ExitCode.USAGE
    default_title = "Định dạng âm thanh không hợp lệ"


class PackageError(StudioError):
    """A package cannot be built, or fails verification."""

    default_title = "Lỗi gói tin"


class Cancelled(StudioError):
    """Long work was cancelled through its threading.Event."""

    default_title = "Đã huỷ"


class StorageError(StudioError):
    """A file or the workspace database cannot be written because of the disk, not the data."""

    exit_code = ExitCode.STORAGE
    default_title = "Không ghi được"


class DiskFullError(StorageError):
    """No space left on the device (ENOSPC, EDQUOT, SQLite's "database or disk is full")."""

    default_title = "Đĩa đầy"


class ReadOnlyError(StorageError):
    """The workspace or output folder is on a read-only file system (EROFS)."""

    default_title = "Thư mục chỉ đọc"


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_LOW_SPACE_BYTES = 1 << 20
"""Below this much free space an SQLite I/O error (growing -shm/-wal, fsync) is taken as a full disk."""


def disk_state(path: Path | str) -> str:
    """'readonly', 'full' (under 1 MiB free for unprivileged writers) or 'ok' for the file system of `path`
    (its nearest existing folder); 'ok' when it cannot be told."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError:
        return "ok"
    if st.f_flag & os.ST_RDONLY:
        return "readonly"
    if st.f_bavail * st.f_frsize < _LOW_SPACE_BYTES:
        return "full"
    return "ok"


def disk_full_error(path: Path | str, detail: str = "") -> DiskFullError:
    extra = f" ({detail})" if detail else ""
    return DiskFullError(
        f"{path}: đĩa đầy, không còn chỗ trống{extra} (the disk is full: no space left on the device); "
        "dữ liệu đã lưu không mất, hãy giải phóng dung lượng rồi chạy lại (free some space and run again)")


def read_only_error(path: Path | str) -> ReadOnlyError:
    return ReadOnlyError(
        f"{path}: thư mục làm việc chỉ đọc, không ghi được (read-only file system: the workspace or output "
        "folder cannot be written); dữ liệu đã lưu không mất, hãy cho phép ghi rồi chạy lại")


def disk_error_at(path: Path | str) -> StorageError | None:
    """For a library that hides errno (libsndfile's "System error", mutagen): a DiskFullError or
    ReadOnlyError naming `path` if its file system is now read-only or (nearly) full, else None. Call it
    before removing the failed temp file, whose blocks still count."""
    state = disk_state(path)
    if state == "readonly":
        return read_only_error(path)
    if state == "full":
        return disk_full_error(path)
    return None


def storage_error(exc: BaseException, path: Path | str | None = None) -> StorageError | None:
    """The one place that tells a full or read-only disk from other failures.

    Maps an OSError (ENOSPC, EDQUOT, EROFS) or an sqlite3 error (SQLITE_FULL; SQLITE_READONLY,
    SQLITE_CANTOPEN or SQLITE_IOERR on a file system that is read-only or nearly full) to a
    DiskFullError/ReadOnlyError naming `path` (default: the file the OSError names). Returns None for
    anything else: the caller keeps its own handling.
    """
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, OSError) and exc.errno is not None:
        where = path if path is not None else (exc.filename if exc.filename is not None else "")
        if exc.errno in _FULL_ERRNOS:
            return disk_full_error(where, exc.strerror if exc.errno == errno.EDQUOT else "")
        if exc.errno == errno.EROFS:
            return read_only_error(where)
        return None
    name = getattr(exc, "sqlite_errorname", None)  # sqlite3.Error since Python 3.11 (no import needed)
    if not isinstance(name, str) or path is None:
        return None
    if name == "SQLITE_FULL":
        return disk_full_error(path)
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_IOERR")):
        return disk_error_at(path)
    return None
