"""The first screen: the workspace's items and packages, in Vietnamese; q quits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.widgets import DataTable, Label

from studio.config import Workspace, open_workspace, shipped_dir
from studio.ingest.items import parse_file
from studio.store import Store
from studio.tui.app import make_app

APP_SIZE = (100, 30)


@pytest.fixture
def stocked(workspace: Workspace) -> Workspace:
    return _stock(workspace)


def _stock(workspace: Workspace) -> Workspace:
    with Store(workspace.db_path) as store:
        for path in sorted((shipped_dir("samples") / "items").glob("*.json")):
            for entry in parse_file(path):
                assert entry.item is not None
                store.add_item(entry.item)
    return workspace


async def test_lists_items_most_urgent_first_and_quits(stocked: Workspace) -> None:
    app = make_app(stocked)
    async with app.run_test(size=APP_SIZE) as pilot:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.screen.query_one("#items", DataTable)
        assert table.row_count == 3
        first = table.get_row_at(0)
        assert "khẩn cấp" in str(first[1]) and "bão số 5" in str(first[4])
        status = str(app.screen.query_one("#status", Label).content)
        assert status.startswith("3 tin, 0 gói tin")
        await pilot.press("q")
    assert app.return_code == 0


def test_home_snapshot(snap_compare, tmp_path: Path) -> None:
    """Header 'studio — Bàn biên tập bản tin', the three sample items (khẩn cấp first, in red), an
    empty package table, the status line, and a footer with 'Tải lại' and 'Thoát'."""
    # A fixed folder, since the status line shows the workspace path.
    home = Path("/tmp/studio-snapshot-home")
    shutil.rmtree(home, ignore_errors=True)
    stocked = _stock(open_workspace(home))

    async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()

    assert snap_compare(make_app(stocked), terminal_size=APP_SIZE, run_before=settle)
