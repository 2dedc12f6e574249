"""The app's loop in UI tests (asyncio on Qt's event loop, as the window runs it) and the real
window on it. Import only from UI tests: Qt's platform is chosen by tests/ui/conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QSize

from c3desk.config import Paths
from c3desk.runtime import Instance
from c3desk.ui.main_window import MainWindow

DESK = QSize(1500, 940)  # the tests' window: a desktop's


async def until(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Let the Qt and asyncio loop run until ``predicate`` returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_window(
    paths: Paths, tmp_path: Path, qtbot: Any, size: QSize | None = DESK
) -> AsyncIterator[MainWindow]:
    """The real instance (engine and control socket) with its main window, ended afterwards.
    Settings of the window go to ``tmp_path/ui.ini``, not the user's. The window is made
    ``size`` (a desktop's, larger than the offscreen screen: tiles big enough for a prompt
    box); None leaves it as it starts, fitted to its screen."""
    instance = Instance(paths)
    await instance.start()
    settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(paths, instance.engine, settings=settings, on_quit=lambda: None)
    if size is not None and not settings.contains("window/geometry"):
        window.resize(size)
    qtbot.addWidget(window)
    try:
        yield window
    finally:
        await instance.stop()
        window.close()
