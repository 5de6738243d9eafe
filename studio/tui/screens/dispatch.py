"""Duyệt & phát: approve (sign) the current bulletin with a key, which builds its package into the
outbox; dispatch a package to the spool folder; see each package's state and deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Label, ProgressBar, Static
from textual.worker import get_current_worker

from studio.models import Priority
from studio.store import Store, StoredBulletin, StoredPackage
from studio.tui.dialogs.choice import ChoiceDialog
from studio.tui.dialogs.passphrase import PassphraseDialog
from studio.tui.messages import RenderProgress
from studio.tui.screens.base import DeskScreen

PACKAGE_STATES = {"building": "đang đóng", "approved": "đã duyệt", "dispatched": "đã gửi", "failed": "lỗi"}
ROLES = {"routine": "thường", "emergency": "khẩn cấp"}
JOB = "Duyệt & đóng gói"


@dataclass
class DispatchLoaded:
    stored: StoredBulletin | None
    packages: list[StoredPackage]
    deliveries: dict[str, list[dict[str, Any]]]
    keys: list[Any]
    """studio.package.signing.PublicKey of each key pair whose secret half is here."""


class DispatchScreen(DeskScreen):
    """Approve, package, dispatch."""

    SECTION = "duyet-phat"
    AUTO_FOCUS = "#packages"
    BINDINGS = [
        Binding("k", "approve", "Duyệt & đóng gói"),
        Binding("s", "dispatch", "Gửi đi"),
        Binding("t", "new_key", "Tạo khoá"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: DispatchLoaded | None = None

    def body(self) -> ComposeResult:
        yield Static("", id="dispatch-summary")
        with Horizontal(id="dispatch-actions"):
            yield Button("Duyệt & đóng gói (k)", id="approve", variant="primary", compact=True)
            yield Button("Gửi đi (s)", id="dispatch", compact=True)
            yield Button("Tạo khoá (t)", id="new-key", compact=True)
        yield ProgressBar(id="progress", total=1.0, show_eta=False)
        yield DataTable(id="packages", cursor_type="row", zebra_stripes=True)
        yield Static("", id="package-detail")
        yield Label("", id="status")

    def on_mount(self) -> None:
        table = self.query_one("#packages", DataTable)
        for label, width in (("Số", 4), ("Mức độ", 12), ("Trạng thái", 10), ("Gửi", 4), ("Gói tin", 44)):
            table.add_column(label, width=width)

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def load(self) -> None:
        from studio.package.signing import PublicKey

        ws = self.studio.workspace
        with Store(ws.db_path) as store:
            bid = self.studio.desk.bulletin_id
            stored = store.get_bulletin(bid) if bid is not None else None
            packages = store.packages()
            deliveries: dict[str, list[dict[str, Any]]] = {}
            for d in store.deliveries():
                deliveries.setdefault(d["package_id"], []).append(d)
        keys = [
            PublicKey.load(p.with_suffix(".pub"))
            for p in sorted(ws.keys_dir.glob("*.key"))
            if p.with_suffix(".pub").is_file()
        ]
        self.app.call_from_thread(self.loaded, DispatchLoaded(stored, packages, deliveries, keys))

    def loaded(self, state: DispatchLoaded) -> None:
        self.state = state
        summary = self.query_one("#dispatch-summary", Static)
        if state.stored is None:
            summary.update("Chưa có bản tin để duyệt. Tạo ở mục 1 Nguồn tin (n).")
        else:
            b = state.stored.bulletin
            urgent = b.priority is Priority.KHAN_CAP
            keys = (
                ", ".join(f"{k.name} ({ROLES.get(k.role, k.role)})" for k in state.keys)
                or "chưa có (t để tạo)"
            )
            summary.update(
                f"Bản tin số {state.stored.id}: [b]{b.title}[/] · {b.priority.label}"
                + (" — cần khoá khẩn cấp" if urgent else "")
                + f"\nKhoá ký: {keys}"
            )
        table = self.query_one("#packages", DataTable)
        keep = table.cursor_row
        table.clear()
        for pkg in state.packages:
            sent = sum(1 for d in state.deliveries.get(pkg.package_id, []) if d["status"] == "delivered")
            table.add_row(
                str(pkg.sequence),
                pkg.priority.label,
                PACKAGE_STATES.get(pkg.state, pkg.state),
                str(sent),
                pkg.package_id,
                key=pkg.package_id,
            )
        if state.packages:
            table.move_cursor(row=min(keep, len(state.packages) - 1))
        self.query_one("#approve", Button).disabled = state.stored is None
        self.query_one("#dispatch", Button).disabled = not state.packages
        self.show_detail()
        self.query_one("#status", Label).update(
            f"{len(state.packages)} gói tin · k duyệt và đóng gói bản tin · s gửi gói đang chọn"
            if state.packages
            else "Chưa có gói tin · k để duyệt và đóng gói bản tin đang soạn"
        )

    def current_package(self) -> StoredPackage | None:
        table = self.query_one("#packages", DataTable)
        if self.state is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((p for p in self.state.packages if p.package_id == key), None)

    @on(DataTable.RowHighlighted, "#packages")
    def show_detail(self) -> None:
        pkg = self.current_package()
        detail = self.query_one("#package-detail", Static)
        if pkg is None or self.state is None:
            detail.update("")
            return
        lines = [f"Gói {pkg.package_id} · {PACKAGE_STATES.get(pkg.state, pkg.state)}"]
        for d in self.state.deliveries.get(pkg.package_id, [])[-3:]:
            what = {"delivered": "đã tới", "retry": "thử lại", "failed": "không tới"}.get(
                d["status"], d["status"]
            )
            lines.append(f"  {what} {d['target']}" + (f" ({d['error']})" if d.get("error") else ""))
        if len(lines) == 1:
            lines.append("  chưa gửi (s để gửi)")
        detail.update("\n".join(lines))

    # -- approve --------------------------------------------------------------------------------------

    @on(Button.Pressed, "#approve")
    def action_approve(self) -> None:
        state = self.state
        if state is None or state.stored is None:
            self.notify("Chưa có bản tin để duyệt.", severity="warning")
            return
        urgent = state.stored.bulletin.priority is Priority.KHAN_CAP
        usable = [k for k in state.keys if not urgent or k.role == "emergency"]
        if not usable:
            self.notify(
                "Bản tin khẩn cấp cần khoá khẩn cấp: nhấn t để tạo."
                if urgent
                else "Chưa có khoá ký: nhấn t để tạo.",
                severity="warning",
            )
            return
        options = [(k.name, f"{k.name} — khoá {ROLES.get(k.role, k.role)} {k.key_id_hex}") for k in usable]
        self.app.push_screen(ChoiceDialog("Ký duyệt bằng khoá nào?", options), self.key_chosen)

    def key_chosen(self, name: str | None) -> None:
        if name is None:
            return
        from studio.package.signing import key_paths, secret_key_is_encrypted

        if secret_key_is_encrypted(key_paths(self.studio.workspace.keys_dir, name).secret):
            self.app.push_screen(
                PassphraseDialog(name), lambda p: p is not None and self.start_approve(name, p)
            )
        else:
            self.start_approve(name, None)

    def start_approve(self, key_name: str, passphrase: str | None) -> None:
        assert self.state is not None and self.state.stored is not None
        self.query_one("#approve", Button).disabled = True
        self.query_one("#status", Label).update("Đang duyệt và đóng gói…")
        self.approve(self.state.stored.id, key_name, passphrase)

    @work(thread=True, exclusive=True, group="approve", exit_on_error=False, name=JOB)
    def approve(self, bulletin_id: int, key_name: str, passphrase: str | None) -> None:
        from studio.package.assemble import ALL_PROFILES, approve_bulletin
        from studio.package.signing import load_key

        app, ws = self.studio, self.studio.workspace
        cancel = get_current_worker().cancelled_event
        key = load_key(ws.keys_dir, key_name, passphrase)
        profiles = tuple(p for p in app.desk.profiles_for(bulletin_id) if p in ALL_PROFILES)
        with Store(ws.db_path) as store:
            # Speech comes from the cache when this bulletin was rendered in Sản xuất.
            result = approve_bulletin(
                ws, store, bulletin_id, key, registry=app.voice_registry(),
                voice_id=app.desk.voice_for(bulletin_id, ws.settings.default_voice), profiles=profiles,
                actor=f"tui (key {key.name})", cancel=cancel,
                on_progress=lambda f, w: self.post_message(RenderProgress(f, w)))
        self.app.call_from_thread(self.approved, result.path, result.manifest.sequence)

    @on(RenderProgress)
    def progressed(self, message: RenderProgress) -> None:
        self.query_one("#progress", ProgressBar).update(progress=message.fraction)
        self.query_one("#status", Label).update(f"{message.what} ({message.fraction:.0%})")
        self.studio.job_progress[JOB] = (message.fraction, message.what)

    def approved(self, path: Path, sequence: int) -> None:
        self.studio.job_progress.pop(JOB, None)
        self.notify(f"Gói số {sequence} đã ký và nằm trong outbox. Nhấn s để gửi.", title="Đã duyệt")
        self.load()

    # -- dispatch -------------------------------------------------------------------------------------

    @on(Button.Pressed, "#dispatch")
    def action_dispatch(self) -> None:
        pkg = self.current_package()
        if pkg is None:
            self.notify("Chưa có gói tin để gửi: nhấn k để duyệt và đóng gói.", severity="warning")
            return
        if pkg.state not in ("approved", "dispatched"):
            self.notify(
                f"Gói {pkg.package_id} đang ở trạng thái {PACKAGE_STATES.get(pkg.state, pkg.state)}: "
                "không gửi được.",
                severity="warning",
            )
            return
        self.query_one("#status", Label).update("Đang kiểm tra chữ ký và gửi…")
        self.dispatch(pkg.package_id, Path(pkg.path))

    @work(thread=True, exclusive=True, group="dispatch", exit_on_error=False, name="Gửi gói tin")
    def dispatch(self, package_id: str, path: Path) -> None:
        from studio.dispatch.outbox import spool_package, workspace_keys

        ws = self.studio.workspace
        with Store(ws.db_path) as store:
            delivery = spool_package(
                path, ws.home / "spool", trusted=workspace_keys(ws.keys_dir), store=store
            )
        status = {"delivered": "đã tới", "already-delivered": "đã có sẵn ở"}.get(
            delivery.status, delivery.status
        )
        self.app.call_from_thread(
            self.notify, f"Gói {package_id} {status} {delivery.target}.", title="Đã gửi"
        )
        self.app.call_from_thread(self.load)

    # -- keys -----------------------------------------------------------------------------------------

    @on(Button.Pressed, "#new-key")
    def action_new_key(self) -> None:
        options = [
            ("routine", "Khoá duyệt thường (tin thông thường, ưu tiên)"),
            ("emergency", "Khoá khẩn cấp (chỉ dùng cho tin khẩn cấp)"),
        ]
        self.app.push_screen(ChoiceDialog("Tạo khoá ký mới", options), self.role_chosen)

    def role_chosen(self, role: str | None) -> None:
        if role is not None:
            self.new_key(role)

    @work(thread=True, exclusive=True, group="keys", exit_on_error=False)
    def new_key(self, role: str) -> None:
        from studio.package.signing import generate_key

        keys_dir = self.studio.workspace.keys_dir
        base = "khan-cap" if role == "emergency" else "duyet"
        name, n = base, 1
        while (keys_dir / f"{name}.key").exists() or (keys_dir / f"{name}.pub").exists():
            n += 1
            name = f"{base}-{n}"
        key = generate_key(keys_dir, name, emergency=role == "emergency")
        self.app.call_from_thread(
            self.notify,
            f"Khoá {key.name} ({ROLES[role]}), mã {key.key_id_hex}, ở {keys_dir}.",
            title="Đã tạo khoá",
        )
        self.app.call_from_thread(self.load)
