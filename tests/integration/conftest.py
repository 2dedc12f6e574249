"""Fixtures of the integration tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.cli import Headless


@pytest.fixture
def headless(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts a headless instance on ``home`` (fake agents quick, their config in tmp_path);
    whatever it started ends with the test."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    runner = Headless(home)
    yield runner.start
    runner.close()
