"""Core commands: say, demo. (ingest and items live in studio.cli.sources.)"""

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
