"""TUI fixtures (see helpers.py): the fake voice, sample items, a fixed date, no audio output."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.config import Workspace
from tests.tui.helpers import prepare_workspace, stock


@pytest.fixture
def workspace(_isolated_home: Path) -> Workspace:
    return prepare_workspace(_isolated_home)


@pytest.fixture
def stocked(workspace: Workspace) -> Workspace:
    stock(workspace)
    return workspace


@pytest.fixture
def snapshot_workspace(stocked: Workspace) -> Workspace:
    """Nothing on screen shows the workspace path, so each snapshot test gets its own folder: the
    threads of one test's app can never touch the next test's files."""
    return stocked
