"""Fixtures for the audio tests: a CLI runner that keeps stderr apart."""

from __future__ import annotations

import pytest
from click.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    """CliRunner with stdout and stderr separated (click 8.1 needs mix_stderr=False; 8.2 always does)."""
    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()
