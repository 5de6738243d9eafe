"""Text commands: `studio text normalize` (stdin → spoken form, line for line) and `studio text explain`."""

from __future__ import annotations

import sys

import click

from studio.cli import CliContext, home_option, main, pass_ctx


def _lexicon(ctx: CliContext):  # type: ignore[no-untyped-def]
    from studio.text import load_lexicon

    return load_lexicon(ctx.workspace.lexicon_path)


@main.group()
def text() -> None:
    """Đọc văn bản tiếng Việt (Vietnamese reading front-end)."""


@text.command("normalize")
@click.option("--region", type=click.Choice(["bac", "trung", "nam"]), default=None,
              help="Vùng đọc số (default: the workspace setting).")
@home_option
@pass_ctx
def normalize_cmd(ctx: CliContext, region: str | None) -> None:
    """Đọc UTF-8 từ stdin, ghi dạng đọc ra stdout: đúng một dòng ra cho mỗi dòng vào."""
    from studio.text import normalize

    lexicon = _lexicon(ctx)
    region = region or ctx.workspace.settings.region
    stdin = click.get_binary_stream("stdin")
    out = sys.stdout
    for raw in stdin:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        out.write(normalize(line, region, lexicon) + "\n")
    out.flush()


@text.command("explain")
@click.argument("sentence")
@click.option("--region", type=click.Choice(["bac", "trung", "nam"]), default=None,
              help="Vùng đọc số (default: the workspace setting).")
@click.option("--all", "show_all", is_flag=True, help="Also list tokens read as written.")
@home_option
@pass_ctx
def explain_cmd(ctx: CliContext, sentence: str, region: str | None, show_all: bool) -> None:
    """In bảng token: chữ viết, loại, cách đọc (tab-separated; * marks a changed reading)."""
    from studio.text import explain, normalize

    lexicon = _lexicon(ctx)
    region = region or ctx.workspace.settings.region
    for tok in explain(sentence, region, lexicon):
        if tok.changed or show_all:
            click.echo(f"{tok.text}\t{tok.kind}\t{tok.reading}\t{'*' if tok.changed else ''}")
    click.echo(f"=\t\t{normalize(sentence, region, lexicon)}")
