"""`studio bulletin …`: compose, show, render and approve bulletins."""

from __future__ import annotations

import json
from pathlib import Path

import click

from studio.cli import CliContext, home_option, main, pass_ctx


@main.group()
def bulletin() -> None:
    """Bản tin: tạo, xem, dựng âm thanh, duyệt (compose, show, render, approve)."""


@bulletin.command("new")
@click.option("--template", "template_name", required=True, help="Template id: ban-tin, thong-bao, khan-cap, …")
@click.option("--item", "item_ids", type=int, multiple=True, required=True, help="Item id (repeat for several).")
@click.option("--title", default=None, help="Bulletin title (default: template name and date).")
@click.option("--json", "as_json", is_flag=True, help="Print the new bulletin as JSON.")
@home_option
@pass_ctx
def new_cmd(ctx: CliContext, template_name: str, item_ids: tuple[int, ...], title: str | None,
            as_json: bool) -> None:
    """Soạn bản tin nháp từ mẫu và các tin (compose a draft from a template and items)."""
    from studio.compose import new_draft
    from studio.store import Store

    ws = ctx.workspace
    with Store(ws.db_path) as store:
        bulletin_id = new_draft(store, ws.settings, template_name, list(item_ids), title=title,
                                extra_dir=ws.home / "templates", actor="cli")
        stored = store.get_bulletin(bulletin_id)
    if as_json:
        click.echo(json.dumps(_bulletin_json(stored), ensure_ascii=False, indent=2))
    else:
        click.echo(f"{bulletin_id}\t{stored.bulletin.title}")


def _bulletin_json(stored, renders=()) -> dict[str, object]:  # type: ignore[no-untyped-def]
    b = stored.bulletin
    return {
        "id": stored.id, "title": b.title, "template": b.template, "state": stored.state,
        "priority": b.priority.value, "item_ids": list(b.item_ids), "music_bed": b.music_bed,
        "updated_at": stored.updated_at,
        "segments": [{"kind": s.kind, "text": s.text, "duration_s": s.duration_s, "item_id": s.item_id}
                     for s in b.segments],
        "renders": [{"id": r.id, "run": r.run_id, "profile": r.profile, "path": r.path,
                     "duration_s": round(r.duration_s, 3), "integrated_lufs": round(r.integrated_lufs, 2),
                     "true_peak_dbtp": round(r.true_peak_dbtp, 2), "captions": list(r.captions),
                     "synthesized": r.synthesized, "cached": r.cached, "voice": r.voice_id,
                     "created_at": r.created_at} for r in renders],
    }


@bulletin.command("show")
@click.argument("bulletin_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The bulletin, its running order and render history as JSON.")
@home_option
@pass_ctx
def show_cmd(ctx: CliContext, bulletin_id: int, as_json: bool) -> None:
    """Xem bản tin: thứ tự phát, lời đọc, lịch sử dựng (show a bulletin)."""
    from studio.store import Store

    with Store(ctx.workspace.db_path) as store:
        stored = store.get_bulletin(bulletin_id)
        renders = store.renders(bulletin_id)
    if as_json:
        click.echo(json.dumps(_bulletin_json(stored, renders), ensure_ascii=False, indent=2))
        return
    b = stored.bulletin
    click.echo(f"# {b.title}")
    click.echo(f"mẫu: {b.template}\ttrạng thái: {stored.state}\tmức độ: {b.priority.label}\t"
               f"tin: {', '.join(map(str, b.item_ids))}" + (f"\tnhạc nền: {b.music_bed}" if b.music_bed else ""))
    click.echo("")
    for n, s in enumerate(b.segments, start=1):
        if s.kind == "speech":
            origin = f" [tin {s.item_id}]" if s.item_id is not None else ""
            click.echo(f"{n:>3}. lời đọc{origin}: {s.text}")
        elif s.kind == "jingle":
            click.echo(f"{n:>3}. nhạc/tín hiệu: {s.text}")
        else:
            click.echo(f"{n:>3}. nghỉ {s.duration_s:g} s")
    if renders:
        click.echo("")
        click.echo("Lịch sử dựng (render history):")
        for r in renders:
            click.echo(f"  {r.created_at}\t{r.profile}\t{r.duration_s:.1f} s\t{r.integrated_lufs:.1f} LUFS\t"
                       f"{r.true_peak_dbtp:.1f} dBTP\t{r.path}")


@bulletin.command("render")
@click.argument("bulletin_id", type=int)
@click.option("--profile", "profiles", multiple=True,
              help="Destination profile (repeat for several; default from settings): loa, phat-song, web.")
@click.option("--voice", "voice_id", default=None, help="Voice id; default from settings.")
@click.option("-o", "--output-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for the files (default: <workspace>/renders/bulletin-ID/<run>/).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@home_option
@pass_ctx
def render_cmd(ctx: CliContext, bulletin_id: int, profiles: tuple[str, ...], voice_id: str | None,
               output_dir: Path | None, as_json: bool) -> None:
    """Dựng âm thanh bản tin và phụ đề (render audio per profile, with WebVTT and SRT captions)."""
    from studio.cli import err_console
    from studio.produce import render_bulletin
    from studio.store import Store

    ws = ctx.workspace
    with Store(ws.db_path) as store, err_console.status("Đang dựng bản tin…") as status:
        result = render_bulletin(ws, store, bulletin_id, profiles=list(profiles) or [ws.settings.default_profile],
                                 voice_id=voice_id, output_dir=output_dir, actor="cli",
                                 on_progress=lambda frac, what: status.update(f"{what} ({frac:.0%})"))
    p = result.programme
    if as_json:
        click.echo(json.dumps({
            "bulletin": bulletin_id, "run": result.run_id, "folder": str(result.folder),
            "duration_s": round(p.duration_s, 3), "voice": p.voice_id, "sentences": len(p.cues),
            "synthesized": p.synthesized, "cached": p.cached, "fallbacks": list(p.fallbacks),
            "captions": [str(c) for c in result.captions],
            "renditions": [{"profile": r.profile.id, "path": str(r.path),
                            "duration_s": round(r.report.duration_s, 3),
                            "integrated_lufs": round(r.report.integrated_lufs, 2),
                            "true_peak_dbtp": round(r.report.true_peak_dbtp, 2),
                            "target_lufs": r.profile.target_lufs, "ceiling_dbtp": r.profile.true_peak_dbtp}
                           for r in result.renditions]}, ensure_ascii=False, indent=2))
        return
    for r in result.renditions:
        click.echo(f"{r.profile.id}\t{r.path}\t{r.report.duration_s:.2f} s\t{r.report.integrated_lufs:.1f} LUFS\t"
                   f"{r.report.true_peak_dbtp:.1f} dBTP")
    for c in result.captions:
        click.echo(f"captions\t{c}")
    click.echo(f"{p.synthesized} câu mới đọc, {p.cached} câu lấy từ bộ nhớ đệm "
               f"({p.synthesized} sentences synthesized, {p.cached} from cache)", err=True)
