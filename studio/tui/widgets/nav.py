"""The section bar at the top of every screen: number keys 1–7, or a click, switch sections."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

SECTIONS: tuple[tuple[str, str], ...] = (
    ("nguon-tin", "Nguồn tin"),
    ("bien-tap", "Biên tập"),
    ("san-xuat", "Sản xuất"),
    ("duyet-phat", "Duyệt & phát"),
    ("cong-viec", "Công việc"),
    ("giong-doc", "Giọng đọc"),
    ("tu-dien", "Từ điển"),
)
"""(mode name, label) in the order of the keys 1–7."""


class NavItem(Static):
    """One section: its key in a block, then its name."""

    def __init__(self, index: int, mode: str, label: str, *, active: bool) -> None:
        # "▌1▐ Nguồn tin": the key in a block; seven of them fit in 76 columns.
        super().__init__(
            f"[reverse]{index}[/] {label}", id=f"nav-{mode}", classes="-active" if active else "", markup=True
        )
        self.mode = mode

    def on_click(self) -> None:
        self.app.switch_mode(self.mode)


class NavBar(Horizontal):
    """The row of sections, the current one highlighted."""

    def __init__(self, current: str) -> None:
        super().__init__(id="nav")
        self.current = current

    def compose(self) -> ComposeResult:
        for index, (mode, label) in enumerate(SECTIONS, start=1):
            yield NavItem(index, mode, label, active=mode == self.current)
