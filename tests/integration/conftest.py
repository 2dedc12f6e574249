"""Fixtures the integration tests share."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.tmuxhost import private_tmux

from c3desk.transports.tmux import TmuxHost


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[TmuxHost]:
    """A tmux server of the test's own, killed after it."""
    host = private_tmux(tmp_path)
    try:
        yield host
    finally:
        asyncio.run(host.kill_server())
