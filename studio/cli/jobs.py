"""Batch conversion and jobs: `studio convert`, `studio worker`, `studio jobs submit|list|status|retry|
cancel`.

Output is an API for batch scripts: data (JSON with --json, else tab-separated lines and a summary) on
stdout; progress (a rich bar, only when stderr is a terminal) and messages on stderr. Exit codes:
0 everything converted or unchanged, 1 some inputs failed (the rest were still done), 2 usage error.
The pipeline loads inside the commands that need it.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from studio.cli import CliContext, err_console, home_option, main, pass_ctx
from studio.errors import ExitCode

_STATUS_VI = {"converted": "đã chuyển", "skipped": "không đổi", "failed": "lỗi"}


def _redis_option(func):  # type: ignore[no-untyped-def]
    return click.option(
        "--redis",
        "redis_url",
        default=None,
        metavar="URL",
        help="Redis URL for the shared queue (default: $STUDIO_REDIS_URL or <home>/queue.toml; "
        "none: the embedded SQLite queue).",
    )(func)


def _convert_options(func):  # type: ignore[no-untyped-def]
    options = [
        click.option(
            "--out",
            "out_dir",
            type=click.Path(path_type=Path, file_okay=False),
            required=True,
            help="Folder for the packages (or audio files).",
        ),
        click.option(
            "--profile", "profile_id", default=None, help="Destination profile (default from settings: loa)."
        ),
        click.option("--voice", "voice_id", default=None, help="Voice id (default from settings: vi-bac)."),
        click.option(
            "--audio-only", is_flag=True, help="Normalized audio + WebVTT/SRT captions, no package."
        ),
        click.option(
            "--key", "key_name", default="", help="Signing key in <home>/keys (default: the issuer's)."
        ),
        click.option("--template", default="", help="Read each notice through this bulletin template."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _options(
    ctx: CliContext,
    out_dir: Path,
    profile_id: str | None,
    voice_id: str | None,
    audio_only: bool,
    key_name: str,
    template: str,
):  # type: ignore[no-untyped-def]
    from studio.convert import ConvertOptions

    settings = ctx.workspace.settings
    return ConvertOptions(
        out_dir=out_dir,
        voice_id=voice_id or settings.default_voice,
        profile_id=profile_id or settings.default_profile,
        audio_only=audio_only,
        key_name=key_name,
        template=template,
    )


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@_convert_options
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes converting in parallel.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input on stdout.")
@home_option
@pass_ctx
def convert(
    ctx: CliContext,
    inputs: tuple[Path, ...],
    out_dir: Path,
    profile_id: str | None,
    voice_id: str | None,
    audio_only: bool,
    key_name: str,
    template: str,
    workers: int,
    as_json: bool,
) -> None:
    """Chuyển mỗi thông báo (txt/md/docx/pdf/json) thành một gói tin đã ký, hoặc âm thanh + phụ đề.

    Unchanged inputs (same content, voice and profile) are skipped. Exit 0: all converted; 1: some
    failed (the rest are still done); 2: usage error.
    """
    import logging

    from studio.convert import FAILED, SKIPPED, ConvertResult, convert_batch, expand_inputs

    # pypdf logs its repairs ("EOF marker not found") on stderr; a corrupt PDF is reported once, as a result.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    paths = expand_inputs(inputs)
    if not paths:
        raise click.UsageError("no convertible input (txt, md, docx, pdf, json) in the given folders")
    options = _options(ctx, out_dir, profile_id, voice_id, audio_only, key_name, template)
    start = time.perf_counter()
    results: list[ConvertResult] = []
    # The bar goes to stderr, so it never mixes with the data on stdout (JSON or the summary).
    progress = _progress(len(paths)) if err_console.is_terminal else None

    def on_result(result: ConvertResult) -> None:
        results.append(result)
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        elif result.status == FAILED:
            message = (
                result.error if result.error.startswith(result.input) else f"{result.input}: {result.error}"
            )
            if progress is not None:
                progress.console.print(message, markup=False, highlight=False, soft_wrap=True)
            else:
                click.echo(message, err=True)  # one line per input, never wrapped
        if progress is not None:
            progress.advance(progress.task_ids[0])

    if progress is not None:
        with progress:
            convert_batch(ctx.workspace, paths, options, workers=workers, on_result=on_result)
    else:
        convert_batch(ctx.workspace, paths, options, workers=workers, on_result=on_result)
    failed = sum(r.status == FAILED for r in results)
    skipped = sum(r.status == SKIPPED for r in results)
    converted = len(results) - failed - skipped
    if not as_json:
        audio_s = sum(r.duration_s or 0.0 for r in results if r.status == "converted")
        click.echo(
            f"converted {converted}\tskipped {skipped}\tfailed {failed}\t"
            f"{audio_s:.1f} s audio\t{time.perf_counter() - start:.2f} s"
        )
    if failed:
        raise SystemExit(int(ExitCode.JOB_FAILED))


def _progress(total: int):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("Chuyển đổi"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
    progress.add_task("convert", total=total)
    return progress


# -- the queue -------------------------------------------------------------------------------------------


def _queue(ctx: CliContext, redis_url: str | None):  # type: ignore[no-untyped-def]
    from studio.jobs.queue import JobQueue, queue_config

    return JobQueue(ctx.workspace, queue_config(ctx.workspace, redis_url=redis_url))


@main.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Jobs run in parallel (one process each).",
)
@click.option("--no-periodic", is_flag=True, help="Do not scan hot folders and schedules (job specs).")
@_redis_option
@home_option
@pass_ctx
def worker(ctx: CliContext, workers: int, no_periodic: bool, redis_url: str | None) -> None:
    """Chạy bộ xử lý công việc (run a job worker) until Ctrl-C.

    On start it re-queues work a crashed worker left unfinished. Ctrl-C lets running jobs finish;
    SIGTERM interrupts them and puts them back in the queue.
    """
    import logging

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(processName)s %(name)s %(levelname)s: %(message)s",
    )
    queue = _queue(ctx, redis_url)
    where = queue.config.redis_url or str(ctx.workspace.home / "queue.db")
    err_console.print(
        f"studio worker: {workers} process(es), queue {queue.config.backend} {where}",
        highlight=False,
        markup=False,
    )
    queue.run_worker(workers=workers, periodic=not no_periodic)


@main.group()
def jobs() -> None:
    """Công việc trong hàng đợi: gửi, liệt kê, xem, chạy lại, huỷ (submit, list, status, retry, cancel)."""


@jobs.command("submit")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder for the packages (or audio files); required with INPUT.",
)
@click.option("--profile", "profile_id", default=None, help="Destination profile (default from settings).")
@click.option("--voice", "voice_id", default=None, help="Voice id (default from settings).")
@click.option("--audio-only", is_flag=True, help="Normalized audio + captions, no package.")
@click.option("--key", "key_name", default="", help="Signing key (default: the issuer's).")
@click.option("--template", default="", help="Read each notice through this bulletin template.")
@click.option("--spec", "spec_id", default=None, help="Run job spec ID (jobs/*.toml) now instead.")
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Wait up to SECONDS for the jobs to finish; exit 1 if any failed.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per job on stdout.")
@_redis_option
@home_option
@pass_ctx
def submit(
    ctx: CliContext,
    inputs: tuple[Path, ...],
    out_dir: Path | None,
    profile_id: str | None,
    voice_id: str | None,
    audio_only: bool,
    key_name: str,
    template: str,
    spec_id: str | None,
    wait_s: float | None,
    as_json: bool,
    redis_url: str | None,
) -> None:
    """Gửi công việc vào hàng đợi: chuyển INPUT... hoặc chạy một tệp công việc (--spec)."""
    from studio.convert import expand_inputs
    from studio.jobs.tasks import convert_key, notice_priority

    if bool(inputs) == bool(spec_id):
        raise click.UsageError("give INPUT... (with --out) or --spec ID, not both")
    queue = _queue(ctx, redis_url)
    queue.ping()
    records = []
    if spec_id:
        records = _submit_spec(queue, spec_id)
    else:
        if out_dir is None:
            raise click.UsageError("--out DIR is required with INPUT...")
        from studio.convert import Converter, output_names

        options = _options(ctx, out_dir, profile_id, voice_id, audio_only, key_name, template)
        converter = Converter(ctx.workspace, options)  # unknown voice/profile/key: fail before queueing
        paths = [p.resolve() for p in expand_inputs(inputs)]
        names = output_names(paths)
        for path in paths:
            job, _new = queue.submit(
                "convert",
                {
                    "input": str(path),
                    "options": options.to_params(),
                    "output_name": names[path],
                    "priority": notice_priority(path),  # khẩn cấp first, ahead of what already waits
                },
                content_key=convert_key(converter, path),
                actor="cli",
            )
            records.append(job)
        converter.close()
    if wait_s is not None:
        records = queue.wait([r.id for r in records], timeout_s=wait_s)
    for job in records:
        _print_job(job, as_json)
    if wait_s is not None and any(j.state != "done" for j in records):
        raise SystemExit(int(ExitCode.JOB_FAILED))


def _submit_spec(queue, spec_id: str) -> list[Any]:  # type: ignore[no-untyped-def]
    import hashlib
    from dataclasses import replace
    from datetime import datetime

    from studio.errors import ConfigError
    from studio.jobs.specs import HotFolderSpec, load_specs
    from studio.jobs.tasks import tick

    specs = load_specs(queue.workspace)
    if spec_id not in specs:
        raise ConfigError(f"job spec {spec_id!r} not found; specs: {', '.join(sorted(specs)) or 'none'}")
    spec = specs[spec_id]
    if isinstance(spec, HotFolderSpec):
        ids = tick(queue, specs={spec_id: replace(spec, enabled=True)})  # run now, even if disabled
        return [queue.get(i) for i in ids]
    now = datetime.now().astimezone()
    key = hashlib.sha256(f"bulletin\0{spec.id}\0manual\0{now.isoformat()}".encode()).hexdigest()
    job, _new = queue.submit(
        "bulletin", {"due": now.isoformat(), "spec": spec.id}, content_key=key, spec=spec.id, actor="cli"
    )
    return [job]


def _print_job(job: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(job.to_dict(), ensure_ascii=False))
        return
    what = job.params.get("input") or job.spec or job.kind
    detail = job.error or job.result.get("output") or job.message
    click.echo(f"{job.id}\t{job.kind}\t{job.state}\t{job.progress:.0%}\t{what}\t{detail}")


@jobs.command("list")
@click.option("--state", default=None, help="queued, running, cancelling, done, failed or cancelled.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="A JSON list on stdout.")
@home_option
@pass_ctx
def list_jobs(ctx: CliContext, state: str | None, limit: int, as_json: bool) -> None:
    """Liệt kê công việc, mới nhất trước (list jobs, newest first)."""
    from studio.jobs.records import JobStore

    with JobStore(ctx.workspace.db_path) as store:
        rows = store.list(state=state, limit=limit)
    if as_json:
        click.echo(json.dumps([j.to_dict() for j in rows], ensure_ascii=False, indent=2))
        return
    for job in rows:
        _print_job(job, False)


@jobs.command("status")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@home_option
@pass_ctx
def status(ctx: CliContext, job_id: int, as_json: bool) -> None:
    """Trạng thái một công việc (state, progress, result or error of one job)."""
    from studio.jobs.records import JobStore

    with JobStore(ctx.workspace.db_path) as store:
        job = store.get(job_id)
    if as_json:
        click.echo(json.dumps(job.to_dict(), ensure_ascii=False, indent=2))
        return
    for key, value in job.to_dict().items():
        if value not in (None, "", {}, []):
            shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
            click.echo(f"{key}\t{shown}")


@jobs.command("retry")
@click.argument("job_id", type=int)
@_redis_option
@home_option
@pass_ctx
def retry(ctx: CliContext, job_id: int, redis_url: str | None) -> None:
    """Chạy lại một công việc lỗi hoặc đã huỷ (re-queue a failed or cancelled job)."""
    queue = _queue(ctx, redis_url)
    queue.ping()
    _print_job(queue.retry(job_id, actor="cli"), False)


@jobs.command("cancel")
@click.argument("job_id", type=int)
@home_option
@pass_ctx
def cancel(ctx: CliContext, job_id: int) -> None:
    """Huỷ một công việc: ngay nếu đang chờ, ở lần kiểm tra tới nếu đang chạy."""
    from studio.jobs.records import JobStore

    with JobStore(ctx.workspace.db_path) as store:
        _print_job(store.cancel(job_id, actor="cli"), False)
