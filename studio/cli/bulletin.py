"""`studio bulletin …`: compose, show, render and approve bulletins."""

from __future__ import annotations

import click

from studio.cli import main


@main.group()
def bulletin() -> None:
    """Bản tin: tạo, xem, dựng âm thanh, duyệt (compose, show, render, approve)."""
