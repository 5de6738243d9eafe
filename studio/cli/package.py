"""`studio keys …`, `studio package …`, `studio dispatch` and `studio bulletin approve`.

Exit codes (studio.errors.ExitCode): 0 done; 1 a package failed verification or a delivery failed (the
reason is on stderr, as `reason-slug: message`); 2 bad usage, key or input; 3 an audio/engine failure.
A key's passphrase comes from $STUDIO_KEY_PASSPHRASE, else from a hidden prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from studio.cli import CliContext, err_console, home_option, main, pass_ctx
from studio.cli.bulletin import bulletin
from studio.errors import ExitCode, InputError

PASSPHRASE_ENV = "STUDIO_KEY_PASSPHRASE"


def _passphrase(confirm: bool) -> str:
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    return str(
        click.prompt("Mật khẩu khoá (passphrase)", hide_input=True, confirmation_prompt=confirm, err=True)
    )


def _load_signing_key(ctx: CliContext, name: str):  # type: ignore[no-untyped-def]
    from studio.package.signing import key_paths, load_key, secret_key_is_encrypted

    keys_dir = ctx.workspace.keys_dir
    path = key_paths(keys_dir, name).secret
    passphrase = _passphrase(False) if path.is_file() and secret_key_is_encrypted(path) else None
    return load_key(keys_dir, name, passphrase)


# -- keys -------------------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Khoá ký gói tin (Ed25519, định dạng minisign)."""


@keys.command("new")
@click.argument("name")
@click.option("--emergency", is_flag=True, help="Khoá khẩn cấp: khoá duy nhất được ký gói tin khẩn cấp.")
@click.option(
    "--passphrase/--no-passphrase",
    default=False,
    help=f"Mã hoá khoá bí mật bằng mật khẩu (scrypt, như minisign); lấy từ ${PASSPHRASE_ENV} hoặc hỏi.",
)
@home_option
@pass_ctx
def keys_new(ctx: CliContext, name: str, emergency: bool, passphrase: bool) -> None:
    """Tạo cặp khoá NAME: keys/NAME.key (0600) và keys/NAME.pub (minisign)."""
    from studio.package.signing import generate_key, key_paths

    secret = _passphrase(True) if passphrase else None
    key = generate_key(ctx.workspace.keys_dir, name, emergency=emergency, passphrase=secret)
    paths = key_paths(ctx.workspace.keys_dir, name)
    click.echo(f"{paths.public}\t{key.key_id_hex}\t{key.role}")
    err_console.print(
        f"Khoá bí mật: {paths.secret} (chế độ 0600{', có mật khẩu' if secret else ''}). "
        "Gửi tệp .pub cho bên nhận để ghim (--trust).",
        highlight=False,
    )


@keys.command("export")
@click.argument("name")
@home_option
@pass_ctx
def keys_export(ctx: CliContext, name: str) -> None:
    """In khoá công khai NAME (định dạng minisign) ra stdout."""
    from studio.errors import ConfigError
    from studio.package.signing import PublicKey, key_paths

    path = key_paths(ctx.workspace.keys_dir, name).public
    if not path.is_file():
        raise ConfigError(f"{path}: no public key named {name!r}")
    click.echo(PublicKey.load(path).to_text(), nl=False)


@keys.command("list")
@home_option
@pass_ctx
def keys_list(ctx: CliContext) -> None:
    """Liệt kê khoá trong workspace."""
    from studio.package.signing import PublicKey

    for path in sorted(ctx.workspace.keys_dir.glob("*.pub")):
        key = PublicKey.load(path)
        click.echo(f"{key.name}\t{key.role}\t{key.key_id_hex}\t{path}")


# -- package ------------------------------------------------------------------------------------------


@main.group()
def package() -> None:
    """Gói tin: kiểm tra, liệt kê."""


@package.command("verify")
@click.argument("pkg", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--trust",
    "trust",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Khoá công khai được ghim (minisign .pub); lặp lại cho nhiều khoá.",
)
@click.option(
    "--state",
    "state",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Tệp trạng thái ghi các số thứ tự đã thấy (chống phát lại).",
)
@click.option("--json", "as_json", is_flag=True, help="Kết quả JSON trên stdout.")
def package_verify(pkg: Path, trust: tuple[Path, ...], state: Path | None, as_json: bool) -> None:
    """Kiểm tra gói tin PKG: chữ ký, mọi tệp, hạn dùng, số thứ tự. Exit 0 chỉ khi tất cả đạt."""
    from studio.package.signing import PublicKey
    from studio.package.verify import verify_package

    keys = [PublicKey.load(p) for p in trust]
    result = verify_package(pkg, keys, state_file=state)
    m = result.manifest
    if as_json:
        click.echo(
            json.dumps(
                {
                    "status": "ok",
                    "package_id": m.package_id,
                    "issuer": m.issuer,
                    "sequence": m.sequence,
                    "priority": m.priority,
                    "valid_until": m.valid_until,
                    "key": result.key.name,
                    "key_id": result.key.key_id_hex,
                    "role": result.key.role,
                    "manifest_sha256": result.manifest_sha256,
                    "files": len(m.files),
                    "sequence_checked": result.sequence_checked,
                },
                ensure_ascii=False,
            )
        )
    else:
        click.echo(
            f"OK\t{m.package_id}\t{m.issuer}#{m.sequence}\t{m.priority}\t"
            f"{result.key.name} ({result.key.role})"
        )
    if not result.sequence_checked:
        err_console.print("Chú ý: không có --state, chưa kiểm tra số thứ tự (replay).", highlight=False)


@package.command("list")
@click.option("--json", "as_json", is_flag=True)
@home_option
@pass_ctx
def package_list(ctx: CliContext, as_json: bool) -> None:
    """Liệt kê gói tin đã đóng trong kho."""
    from studio.store import Store

    with Store(ctx.workspace.db_path) as store:
        rows = store.packages()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "package_id": p.package_id,
                        "issuer": p.issuer,
                        "sequence": p.sequence,
                        "priority": p.priority.value,
                        "state": p.state,
                        "path": p.path,
                        "note": p.note,
                    }
                    for p in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for p in rows:
        click.echo(f"{p.package_id}\t{p.issuer}#{p.sequence}\t{p.priority.value}\t{p.state}"
                   + (f"\t{p.note}" if p.note else ""))


@package.command("recover")
@click.option("--json", "as_json", is_flag=True, help="Kết quả JSON trên stdout.")
@home_option
@pass_ctx
def package_recover(ctx: CliContext, as_json: bool) -> None:
    """Dọn sau khi bị dừng đột ngột: gói 'building' của tiến trình đã chết và thư mục .staging-* bỏ dở.

    Builds still running in another process are never touched (their lock is held). The same recovery
    runs by itself before every package is built (approve, convert, scheduled bulletins, workers).
    """
    from studio.package.assemble import recover_packages
    from studio.store import Store

    with Store(ctx.workspace.db_path) as store:
        done = recover_packages(ctx.workspace, store)
    if as_json:
        click.echo(json.dumps({"approved": list(done.approved), "failed": list(done.failed),
                               "swept": list(done.swept), "busy": list(done.busy), "errors": list(done.errors)},
                              ensure_ascii=False, indent=2))
    else:
        for what, ids in (("approved", done.approved), ("failed", done.failed), ("swept", done.swept),
                          ("busy", done.busy)):
            for package_id in ids:
                click.echo(f"{what}\t{package_id}")
        for error in done.errors:
            err_console.print(f"[bold red]lỗi:[/] {error}", highlight=False)
    if done.errors:
        raise SystemExit(int(ExitCode.JOB_FAILED))


# -- dispatch -----------------------------------------------------------------------------------------


@main.command("dispatch")
@click.argument("pkg", required=False)
@click.option("--all", "all_", is_flag=True, help="Mọi gói tin trong outbox chưa gửi tới đích này.")
@click.option(
    "--to",
    "to",
    default=None,
    help="http(s)://… (POST) hoặc một thư mục (spool). Mặc định: <workspace>/spool.",
)
@click.option("--attempts", default=6, show_default=True, help="Số lần thử HTTP.")
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, help="Thời gian chờ mỗi lần (giây).")
@home_option
@pass_ctx
def dispatch_cmd(
    ctx: CliContext, pkg: str | None, all_: bool, to: str | None, attempts: int, timeout_s: float
) -> None:
    """Gửi gói tin PKG (thư mục hoặc mã gói) hoặc --all: spool thư mục hoặc HTTP POST."""
    from studio.dispatch.http import RetryPolicy, post_package
    from studio.dispatch.outbox import list_packages, mark_dispatched, spool_package, workspace_keys
    from studio.errors import StudioError
    from studio.store import Store

    if bool(pkg) == all_:
        raise InputError("give one package (PKG) or --all", title="Thiếu gói tin")
    ws = ctx.workspace
    target = to or str(ws.home / "spool")
    is_http = target.startswith(("http://", "https://"))
    spool_dir = None if is_http else Path(target.removeprefix("file://")).expanduser()
    trusted = workspace_keys(ws.keys_dir)
    if pkg:
        candidate = Path(pkg)
        packages = [candidate if candidate.is_dir() else ws.outbox / pkg]
        if not packages[0].is_dir():
            raise InputError(f"{pkg}: neither a package folder nor a package id in {ws.outbox}")
    else:
        packages = list_packages(ws.outbox)
    failed = 0
    with Store(ws.db_path) as store:
        for path in packages:
            ledger_target = target if is_http else f"file:{spool_dir}"
            if all_ and store.delivered(path.name, ledger_target):
                # A run killed between the delivery log and the state update left the row behind.
                mark_dispatched(store, path.name, ledger_target)
                continue
            try:
                if is_http:
                    delivery = post_package(
                        path,
                        target,
                        trusted=trusted,
                        store=store,
                        policy=RetryPolicy(attempts=attempts, timeout_s=timeout_s),
                    )
                else:
                    assert spool_dir is not None
                    delivery = spool_package(path, spool_dir, trusted=trusted, store=store)
            except StudioError as exc:
                failed += 1
                err_console.print(f"[bold red]{path.name}:[/] {exc.message}", highlight=False)
                continue
            if delivery.status == "failed":
                failed += 1
                err_console.print(f"[bold red]{delivery.package_id}:[/] {delivery.error}", highlight=False)
            click.echo(f"{delivery.package_id}\t{delivery.status}\t{delivery.attempts}\t{delivery.target}")
    if failed:
        raise SystemExit(int(ExitCode.JOB_FAILED))


# -- bulletin approve -----------------------------------------------------------------------------------


@bulletin.command("approve")
@click.argument("bulletin_id", type=int)
@click.option("--key", "key_name", required=True, help="Tên khoá ký của người duyệt (keys/NAME.key).")
@click.option("--voice", "voice_id", default=None, help="Giọng đọc; mặc định theo cài đặt.")
@click.option(
    "--profile",
    "profiles",
    multiple=True,
    help="Bản dựng: loa, phat-song, web, bang-tin (lặp lại; mặc định tất cả).",
)
@click.option(
    "--area", "areas", multiple=True, help="Mã đơn vị hành chính đích (2 hoặc 5 chữ số; legacy:MÃ)."
)
@click.option("--valid-hours", default=24.0, show_default=True, help="Hạn dùng tối đa của gói tin (giờ).")
@home_option
@pass_ctx
def bulletin_approve(
    ctx: CliContext,
    bulletin_id: int,
    key_name: str,
    voice_id: str | None,
    profiles: tuple[str, ...],
    areas: tuple[str, ...],
    valid_hours: float,
) -> None:
    """Duyệt bản tin ID: dựng, ký bằng khoá NAME và đưa gói tin vào outbox."""
    from datetime import timedelta

    from studio.package.assemble import approve_bulletin
    from studio.store import Store

    if valid_hours <= 0:
        raise InputError(f"--valid-hours {valid_hours}: must be positive")
    ws = ctx.workspace
    key = _load_signing_key(ctx, key_name)
    with Store(ws.db_path) as store, err_console.status("Đang dựng bản tin…") as status:
        result = approve_bulletin(ws, store, bulletin_id, key, voice_id=voice_id, profiles=profiles or None,
                                  areas=areas, valid_for=timedelta(hours=valid_hours),
                                  on_progress=lambda f, what: status.update(f"{what} ({f:.0%})"))
    m = result.manifest
    if result.earlier:
        err_console.print(f"Bản tin {bulletin_id} đã được duyệt với cùng nội dung, giọng đọc và từ điển: dùng lại "
                          f"gói số {m.sequence} (không ký gói thứ hai).", highlight=False)
    click.echo(f"{result.path}\t{m.issuer}#{m.sequence}\t{m.priority}\tsha256:{result.manifest_sha256}")
