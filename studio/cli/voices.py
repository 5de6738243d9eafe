"""Voice and speech-cache commands: `studio voices list|test|import`, `studio cache stats|clear`.

Data (tables, JSON) goes to stdout; messages to stderr. Engines load only inside the commands that
speak, so `voices list` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from studio.cli import CliContext, err_console, home_option, main, pass_ctx

TEST_SENTENCE = ("Đây là giọng đọc thử của đài truyền thanh. Kính mời bà con chú ý lắng nghe "
                 "bản tin hôm nay.")


def _registry(ctx: CliContext):  # type: ignore[no-untyped-def]
    from studio.tts.registry import VoiceRegistry

    return VoiceRegistry(ctx.workspace.voices_dir)


@main.group()
def voices() -> None:
    """Giọng đọc: liệt kê, thử, nhập giọng Piper (voices: list, test, import)."""


@voices.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array on stdout.")
@home_option
@pass_ctx
def list_voices(ctx: CliContext, as_json: bool) -> None:
    """Liệt kê giọng đọc (id, tên, bộ đọc, vùng, trực tuyến/ngoại tuyến, đã cài hay chưa)."""
    reg = _registry(ctx)
    rows = []
    for profile in reg.profiles():
        status = reg.status(profile)
        rows.append({
            "id": profile.id, "name": profile.name, "engine": profile.engine, "region": profile.region,
            "online": profile.online, "installed": status.installed, "reason": status.reason,
            "fallback": profile.fallback, "attribution": profile.attribution,
        })
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        mode = "trực tuyến" if row["online"] else "ngoại tuyến"
        state = "đã cài" if row["installed"] else "chưa cài"
        click.echo(f"{row['id']}\t{row['name']}\t{row['engine']}\t{row['region']}\t{mode}\t{state}")
    for row in rows:
        if not row["installed"]:
            err_console.print(f"{row['id']}: {row['reason']}", highlight=False, markup=False)


@voices.command("test")
@click.argument("voice_id")
@click.option("--text", default=TEST_SENTENCE, show_default=False,
              help="Câu đọc thử (default: a standard sentence).")
@click.option("--fallback/--no-fallback", default=False,
              help="Allow the voice's offline fallback (default: test the voice itself).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@home_option
@pass_ctx
def test_voice(ctx: CliContext, voice_id: str, text: str, fallback: bool, as_json: bool) -> None:
    """Đọc thử một câu chuẩn; in thời lượng và hệ số thời gian thực (RTF), không ghi tệp."""
    from studio.tts.cache import synthesize_cached  # deferred: loads numpy and the engine

    reg = _registry(ctx)
    profile = reg.get(voice_id)  # unknown id: ConfigError listing the voices, before any engine loads
    if not profile.online and reg.status(profile).installed:
        # Load the library or model first so the factor measures speaking, not loading.
        synthesize_cached(reg, voice_id, "xin chào", None, allow_fallback=False)
    start = time.perf_counter()
    rendered = synthesize_cached(reg, voice_id, text, None, allow_fallback=fallback)
    wall_s = time.perf_counter() - start
    rtf = wall_s / rendered.duration_s if rendered.duration_s else float("inf")
    result = {
        "voice": rendered.voice_id, "engine": rendered.engine, "fallback_from": rendered.fallback_from,
        "duration_s": round(rendered.duration_s, 3), "wall_s": round(wall_s, 4), "rtf": round(rtf, 5),
        "sample_rate": rendered.sample_rate, "sentences": len(rendered.timings),
        "notes": list(rendered.notes),
    }
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    speed = f"{1 / rtf:.0f}× thời gian thực" if rtf > 0 else "∞"
    click.echo(f"{rendered.voice_id}\t{rendered.engine}\t{rendered.duration_s:.2f} s\t"
               f"{wall_s:.3f} s\tRTF {rtf:.4f} ({speed})")
    for note in rendered.notes:
        err_console.print(note, highlight=False, markup=False)


@voices.command("import")
@click.argument("model", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The voice config (default: MODEL.json beside the model).")
@click.option("--id", "voice_id", default=None, help="Voice id (default: piper-<model name>).")
@click.option("--name", default=None, help="Tên hiển thị tiếng Việt.")
@click.option("--region", type=click.Choice(["bac", "trung", "nam"]), default=None, help="Reading region.")
@click.option("--attribution", default=None, help="Attribution the voice's licence asks for.")
@click.option("--fallback", default=None, help="Voice used when this one fails (default vi-bac).")
@click.option("--force", is_flag=True, help="Replace a workspace voice with the same id.")
@home_option
@pass_ctx
def import_piper(ctx: CliContext, model: Path, config_path: Path | None, voice_id: str | None,
                 name: str | None, region: str | None, attribution: str | None, fallback: str | None,
                 force: bool) -> None:
    """Nhập giọng Piper X.onnx (+ X.onnx.json) vào workspace, kiểm tra và ghi hồ sơ giọng."""
    from studio.errors import ConfigError
    from studio.tts.piper import default_voice_id, import_voice

    reg = _registry(ctx)
    wanted = voice_id or default_voice_id(model)
    template = None
    if wanted in reg.ids():
        existing = reg.get(wanted)
        if existing.engine != "piper":
            raise ConfigError(f"voice id {wanted!r} is already a {existing.engine} voice; "
                              "choose another --id")
        template = existing
    if fallback:
        reg.get(fallback)  # unknown fallback: ConfigError listing the voices
    imported = import_voice(model, ctx.workspace.voices_dir, config_path=config_path, voice_id=wanted,
                            name=name, region=region, attribution=attribution, fallback=fallback,
                            force=force, template=template)
    click.echo(json.dumps({
        "id": imported.profile.id, "profile": str(imported.profile_path), "model": str(imported.model_path),
        "config": str(imported.config_path), "sha256": imported.sha256,
        "sample_rate": imported.info.sample_rate, "espeak_voice": imported.info.espeak_voice,
        "attribution": imported.profile.attribution,
    }, ensure_ascii=False, indent=2))
    err_console.print(f"Đã nhập giọng {imported.profile.id}: studio voices test {imported.profile.id}",
                      highlight=False, markup=False)


@main.group()
def cache() -> None:
    """Bộ nhớ đệm giọng đọc (speech cache)."""


@cache.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@home_option
@pass_ctx
def cache_stats(ctx: CliContext, as_json: bool) -> None:
    """Số đoạn, dung lượng và giới hạn của bộ nhớ đệm giọng đọc."""
    from studio.tts.cache import SpeechCache

    stats = SpeechCache(ctx.workspace.cache_dir / "speech").stats()
    data = {
        "folder": str(stats.folder), "entries": stats.entries, "bytes": stats.total_bytes,
        "max_bytes": stats.max_bytes,
        "by_engine": {k: {"entries": n, "bytes": b} for k, (n, b) in stats.by_engine.items()},
        "oldest_used": stats.oldest_used, "newest_used": stats.newest_used,
    }
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{stats.folder}\t{stats.entries} clips\t{stats.total_bytes / 1e6:.1f} MB "
               f"of {stats.max_bytes / 1e6:.0f} MB")
    for engine, (n, b) in stats.by_engine.items():
        click.echo(f"  {engine}\t{n} clips\t{b / 1e6:.1f} MB")


@cache.command("clear")
@home_option
@pass_ctx
def cache_clear(ctx: CliContext) -> None:
    """Xoá mọi đoạn trong bộ nhớ đệm giọng đọc."""
    from studio.tts.cache import SpeechCache

    removed = SpeechCache(ctx.workspace.cache_dir / "speech").clear()
    click.echo(f"{removed}")
    err_console.print(f"Đã xoá {removed} đoạn.", highlight=False, markup=False)
