"""UI tests run offscreen; the platform must be chosen before Qt is imported."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture
def loop(qapp: object) -> Iterator[asyncio.AbstractEventLoop]:
    """asyncio on Qt's event loop (qasync), as the window runs it; closed after the test."""
    import qasync  # imports Qt: only once the platform is chosen

    qapp.setQuitOnLastWindowClosed(False)  # type: ignore[attr-defined]  # the tray may keep it
    qt_loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(qt_loop)
    yield qt_loop
    asyncio.set_event_loop(None)
    qt_loop.close()
