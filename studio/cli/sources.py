"""Source commands: `studio ingest`, `studio items`, `studio hotfolder`.

stdout carries data (one line or one JSON object per entry); messages go to stderr. Exit codes:
0 everything stored (or deliberately skipped), 1 some entries failed (they are stored in state
'error' and the rest went in), 2 bad usage or setup.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from studio.cli import CliContext, home_option, main, pass_ctx


@main.command("ingest")
@click.argument("targets", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry on stdout.")
@home_option
@pass_ctx
def ingest_cmd(ctx: CliContext, targets: tuple[str, ...], as_json: bool) -> None:
    """Nhận tin từ tệp hoặc URL (store source items from files or URLs).

    TARGETS are JSON items, RSS/Atom feeds, CAP 1.2 alerts (.xml), documents (.txt .md .docx .pdf),
    or http(s) URLs of feeds and alerts.
    """
    from studio.errors import ExitCode
    from studio.ingest import ingest, is_url
    from studio.store import Store

    failed = 0
    with Store(ctx.workspace.db_path) as store:
        for target in targets:
            if not is_url(target) and not Path(target).exists():
                outcomes = [_missing(target)]
            else:
                outcomes = ingest(store, target if is_url(target) else Path(target), actor="cli")
            for outcome in outcomes:
                failed += outcome.status == "error"
                _emit(as_json, outcome.as_dict())
    if failed:
        raise SystemExit(int(ExitCode.JOB_FAILED))


def _missing(target: str):  # type: ignore[no-untyped-def]
    from studio.ingest import IngestOutcome

    return IngestOutcome(target, target, "error", message=f"{target}: no such file (and not an http(s) URL)")


def _emit(as_json: bool, record: dict[str, object]) -> None:
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False))
        return
    status = record["status"]
    if status == "error":
        click.echo(f"{record['location']}\tlỗi\t{record['message']}", err=True)
    elif status in ("skipped", "cancelled"):
        label = "bỏ qua" if status == "skipped" else "đã huỷ"
        click.echo(f"{record['location']}\t{label}\t{record['message']}", err=True)
    else:
        label = "đã nhận" if status == "added" else "trùng"
        extra = f"\t{record['message']}" if record["message"] else ""
        click.echo(f"{record['location']}\t{label}\t{record['id']}\t{record['title']}{extra}")


@main.command("items")
@click.option("--state", default=None, help="Chỉ tin ở trạng thái này: new/mới, used/đã dùng, archived/lưu trữ, "
              "error/lỗi.")
@click.option("--priority", default=None, help="thong-thuong, uu-tien or khan-cap (or the Vietnamese words).")
@click.option("--json", "as_json", is_flag=True, help="A JSON list on stdout.")
@home_option
@pass_ctx
def items_cmd(ctx: CliContext, state: str | None, priority: str | None, as_json: bool) -> None:
    """Liệt kê tin trong kho (list stored items)."""
    from studio.models import ItemState, Priority
    from studio.store import Store

    prio = Priority.parse(priority, field_name="--priority") if priority else None
    wanted = ItemState.parse(state, field_name="--state") if state else None
    with Store(ctx.workspace.db_path) as store:
        rows = store.items(state=wanted, priority=prio)
    if as_json:
        click.echo(json.dumps([{
            "id": r.id, "source": r.item.source, "source_id": r.item.source_id, "title": r.item.title,
            "priority": r.item.priority.value, "state": r.state, "state_label": r.state_label,
            "category": r.item.category, "areas": list(r.item.areas),
            "published": r.item.published.isoformat() if r.item.published else None,
            "valid_until": r.item.valid_until.isoformat() if r.item.valid_until else None,
            "error": r.error, "note": r.note} for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        detail = r.error or r.note
        click.echo(f"{r.id}\t{r.item.priority.label}\t{r.state_label}\t{r.item.title}"
                   + (f"\t{detail}" if detail else ""))


@main.command("hotfolder")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), required=False)
@click.option("--watch", is_flag=True, help="Keep scanning until interrupted (Ctrl+C).")
@click.option("--interval", "interval_s", type=float, default=5.0, show_default=True, help="Seconds between scans.")
@click.option("--settle", "settle_s", type=float, default=2.0, show_default=True,
              help="Leave files changed within this many seconds (still being copied).")
@home_option
@pass_ctx
def hotfolder_cmd(ctx: CliContext, folder: Path | None, watch: bool, interval_s: float, settle_s: float) -> None:
    """Nhận tin từ thư mục nóng (ingest files dropped into FOLDER; default: the workspace inbox).

    Each file goes to FOLDER/done/ or FOLDER/failed/ (with a .error.txt); nothing is deleted.
    """
    from threading import Event

    from studio.ingest import hotfolder
    from studio.store import Store

    folder = folder or ctx.workspace.inbox

    def report(result: hotfolder.HotFolderResult) -> None:
        where = "done" if result.ok else "failed"
        click.echo(f"{result.source.name}\t{where}\t{result.moved_to}")

    with Store(ctx.workspace.db_path) as store:
        if not watch:
            for result in hotfolder.process(folder, store, settle_s=settle_s):
                report(result)
            return
        stop = Event()
        try:
            hotfolder.watch(folder, store, interval_s=interval_s, stop=stop, settle_s=settle_s, on_result=report)
        except KeyboardInterrupt:
            stop.set()
