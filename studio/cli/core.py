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
    from studio.speech import speak  # deferred: loads numpy/engines

    ws = ctx.workspace
    rendered = speak(ws, text, voice_id or ws.settings.default_voice, output)
    click.echo(f"{output}\t{rendered.duration_s:.2f} s\t{rendered.voice_id}")
