"""The `studio` command line: thin: parse, call the core, print.

Output format and exit codes are an API for batch scripts (see studio.errors.ExitCode): data goes to
stdout, messages and progress to stderr. Each command area lives in its own module below and is
registered at the bottom of this file. Bare `studio` opens the TUI (imported only there).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import click
from rich.console import Console

from studio.config import Workspace, open_workspace
from studio.errors import ExitCode, StorageError, StudioError, storage_error

err_console = Console(stderr=True)


@dataclass
class CliContext:
    """Per-invocation state: the workspace chosen by --home, opened on first use."""

    home: Path | None
    _workspace: Workspace | None = field(default=None, repr=False)

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = open_workspace(self.home)
        return self._workspace


pass_ctx = click.make_pass_decorator(CliContext)


class StudioGroup(click.Group):
    """Maps StudioError to its exit code and a one-line message on stderr."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except StudioError as exc:
            if exc.__cause__ is not None and not isinstance(exc, StorageError):  # a full or read-only disk
                exc = _storage_error(exc.__cause__, ctx) or exc  # wrapped elsewhere as a generic StoreError
            err_console.print(f"[bold red]{exc.title}:[/] {exc.message}", highlight=False, soft_wrap=True)
            ctx.exit(int(exc.exit_code))
        except Exception as exc:  # a full or read-only disk met outside the write paths that map it
            mapped = _storage_error(exc, ctx)
            if mapped is None:
                raise
            err_console.print(f"[bold red]{mapped.title}:[/] {mapped.message}", highlight=False, soft_wrap=True)
            ctx.exit(int(mapped.exit_code))


def _storage_error(exc: BaseException, ctx: click.Context) -> StorageError | None:
    """storage_error for an exception that reached the CLI: it names the file an OSError names, else the
    workspace (sqlite3 errors name no file)."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return storage_error(exc)
    obj = ctx.find_object(CliContext)
    home = None if obj is None else obj._workspace.home if obj._workspace is not None else obj.home
    return storage_error(exc, home)


def home_option(func):  # type: ignore[no-untyped-def]
    """`--home DIR` on every sub-command too, so it can go before or after the command name."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        obj = ctx.find_object(CliContext)
        if value is not None and obj is not None:
            obj.home, obj._workspace = value, None

    return click.option("--home", type=click.Path(path_type=Path, file_okay=False), expose_value=False,
                        callback=callback, is_eager=True, help="Thư mục làm việc (workspace).")(func)


@click.group(cls=StudioGroup, invoke_without_command=True)
@click.option("--home", type=click.Path(path_type=Path, file_okay=False), envvar="STUDIO_HOME",
              help="Workspace folder (default: $STUDIO_HOME or the user data folder).")
@click.version_option(package_name="studio")
@click.pass_context
def main(ctx: click.Context, home: Path | None) -> None:
    """studio: bàn biên tập bản tin cho đài truyền thanh - truyền hình."""
    ctx.obj = CliContext(home=home)
    if ctx.invoked_subcommand is None:
        from studio.tui.app import run_app  # deferred: only the bare command needs textual

        code = run_app(ctx.obj.workspace)
        sys.exit(code)


def exit_with(code: ExitCode) -> None:
    """Leave with `code` through click, so CliRunner sees it."""
    raise SystemExit(int(code))


# Command areas register themselves on `main` when imported.
from studio.cli import (  # noqa: E402,F401
    audio,
    bulletin,
    core,
    jobs,
    package,
    sources,
    text,
    voices,
)
