"""The GUI's composition root: builds the application and its window on one qasync loop."""

from __future__ import annotations

import argparse
import asyncio
import sys

import qasync
from PySide6.QtWidgets import QApplication

from c3desk.config import Paths
from c3desk.ui.main_window import MainWindow


def run_gui(paths: Paths, args: argparse.Namespace) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("c3desk")
    app.setDesktopFileName("c3desk")
    window = MainWindow(paths)
    window.show()

    async def until_closed() -> None:
        closed = asyncio.Event()
        app.lastWindowClosed.connect(closed.set)
        await closed.wait()

    qasync.run(until_closed())
    return 0
