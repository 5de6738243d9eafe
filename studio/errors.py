"""The StudioError tree: one root, each message names the file or field and what is wrong.

Owns: exception types and the CLI exit code each maps to. Imports nothing from studio.
"""

from __future__ import annotations

from enum import IntEnum


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
