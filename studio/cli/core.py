"""Core commands: say, demo, items."""

from __future__ import annotations

from pathlib import Path

import click

from studio.cli import CliContext, home_option, main, pass_ctx


@main.command()
@click.argument("text")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="WAV file to write.")
@click.option("--voice", "voice_id", default=None, help="Voice id (see voices/); default from settings.")
@home_option
@pass_ctx
def say(ctx: CliContext, text: str, output: Path, voice_id: str | None) -> None:
    """Đọc TEXT thành tệp âm thanh (speak TEXT into a WAV file)."""
    from studio.produce import speak  # deferred: loads numpy and the engines

    ws = ctx.workspace
    rendered = speak(ws, text, voice_id or ws.settings.default_voice, output)
    click.echo(f"{output}\t{rendered.duration_s:.2f} s\t{rendered.voice_id}")


@main.command()
@click.option("--voice", "voice_id", default=None, help="Voice id; default from settings (vi-bac).")
@home_option
@pass_ctx
def demo(ctx: CliContext, voice_id: str | None) -> None:
    """Chạy thử toàn bộ quy trình trên dữ liệu mẫu (ingest → bulletin → speech → package)."""
    from rich.table import Table

    from studio.cli import err_console
    from studio.demo import run_demo

    ws = ctx.workspace
    with err_console.status("Đang dựng bản tin mẫu…") as status:
        result = run_demo(ws, voice_id=voice_id,
                          on_progress=lambda frac, what: status.update(f"{what} ({frac:.0%})"))
    table = Table(title="studio demo", show_header=False)
    table.add_column("", no_wrap=True)
    table.add_column("", overflow="fold")
    table.add_row("Tin đã nhận (items)", str(result.items_ingested))
    table.add_row("Tin trong bản tin", str(result.items_in_bulletin))
    table.add_row("Giọng đọc (voice)", result.voice_id)
    table.add_row("Thời lượng (duration)", f"{result.duration_s:.1f} s")
    for r in result.renditions:
        table.add_row(f"{r.profile.id}: {r.path.name}",
                      f"{r.report.integrated_lufs:.1f} LUFS, {r.report.true_peak_dbtp:.1f} dBTP "
                      f"(mục tiêu {r.profile.target_lufs:g} LUFS, ≤ {r.profile.true_peak_dbtp:g} dBTP)")
    table.add_row("Gói tin (package)", str(result.package_path))
    from rich.console import Console

    Console().print(table)


@main.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry on stdout.")
@home_option
@pass_ctx
def ingest_cmd(ctx: CliContext, paths: tuple[Path, ...], as_json: bool) -> None:
    """Nhận tin từ tệp JSON (store source items from JSON files)."""
    from studio.errors import ExitCode, StudioError
    from studio.ingest.items import parse_file
    from studio.store import Store

    failed = 0
    with Store(ctx.workspace.db_path) as store:
        for path in paths:
            try:
                entries = parse_file(path)
            except StudioError as exc:
                entries = []
                failed += 1
                _emit(as_json, {"input": str(path), "status": "error", "error": exc.message})
            for entry in entries:
                if entry.item is None:
                    failed += 1
                    _emit(as_json, {"input": entry.location, "status": "error", "error": entry.error})
                    continue
                item_id, created = store.add_item(entry.item)
                _emit(as_json, {"input": entry.location, "status": "added" if created else "duplicate",
                                "id": item_id, "priority": entry.item.priority.value, "title": entry.item.title})
    if failed:
        raise SystemExit(int(ExitCode.JOB_FAILED))


def _emit(as_json: bool, record: dict[str, object]) -> None:
    import json

    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False))
    elif record["status"] == "error":
        click.echo(f"{record['input']}\tlỗi\t{record['error']}", err=True)
    else:
        click.echo(f"{record['input']}\t{record['status']}\t{record['id']}\t{record['title']}")


@main.command("items")
@click.option("--state", default=None, help="Only items in this state (new, used, …).")
@click.option("--priority", default=None, help="thong-thuong, uu-tien or khan-cap.")
@click.option("--json", "as_json", is_flag=True, help="A JSON list on stdout.")
@home_option
@pass_ctx
def items_cmd(ctx: CliContext, state: str | None, priority: str | None, as_json: bool) -> None:
    """Liệt kê tin trong kho (list stored items)."""
    import json

    from studio.models import Priority
    from studio.store import Store

    prio = Priority.parse(priority, field_name="--priority") if priority else None
    with Store(ctx.workspace.db_path) as store:
        rows = store.items(state=state, priority=prio)
    if as_json:
        click.echo(json.dumps([{"id": r.id, "source": r.item.source, "source_id": r.item.source_id,
                                "title": r.item.title, "priority": r.item.priority.value, "state": r.state,
                                "published": r.item.published.isoformat() if r.item.published else None}
                               for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r.id}\t{r.item.priority.label}\t{r.state}\t{r.item.title}")
