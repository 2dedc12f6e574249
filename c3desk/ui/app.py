"""The GUI's composition root: QApplication, the qasync loop, the instance, the window."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path

# qasync ships no type information; the ignore stays harmless once mypy is told so.
import qasync  # type: ignore[import-untyped,unused-ignore]
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from c3desk.config import Paths
from c3desk.control import client as control
from c3desk.control.server import AlreadyRunning
from c3desk.core import settings as cfg
from c3desk.errors import C3Error
from c3desk.runtime import build_instance
from c3desk.ui.icons import app_icon
from c3desk.ui.main_window import MainWindow
from c3desk.ui.theme import apply_theme


def run_gui(paths: Paths, args: argparse.Namespace) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("c3desk")
    app.setOrganizationName("c3desk")
    app.setDesktopFileName("c3desk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the tray may keep the app running
    apply_theme(app, str(cfg.get_settings()["theme"]))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    screenshot = getattr(args, "screenshot", None)
    with loop:
        code: int = loop.run_until_complete(_main(app, paths, screenshot))
        _drain(loop)
        return code


def show_error_dialog(
    text: str, run: Callable[[QMessageBox], object] = QMessageBox.exec
) -> QMessageBox:
    """Show a start-up error in a dialog (the window was started from a menu: nobody reads
    stderr). ``run`` shows it; by default it blocks until the user closes it."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("c3desk")
    app.setWindowIcon(app_icon())
    box = QMessageBox(QMessageBox.Icon.Critical, "c3desk cannot start", text)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    run(box)
    return box


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel and finish what is still pending, as asyncio.run does, before the loop closes."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


async def _main(app: QApplication, paths: Paths, screenshot: str | None) -> int:
    instance = build_instance(paths)
    instance.engine.hold_scheduling()  # until the window knows how big its tiles are
    try:
        await instance.start()
    except AlreadyRunning:
        # The first instance owns the engine: show its window instead.
        with contextlib.suppress(C3Error):
            control.request(paths, {"cmd": "focus"}, timeout=3.0)
        print(f"c3desk is already running on {paths.home}; its window was raised", file=sys.stderr)
        return 0
    done = asyncio.Event()
    settings = QSettings(str(paths.home / "ui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(paths, instance.engine, settings=settings, on_quit=done.set)
    window.show()
    await asyncio.sleep(0.1)  # one round of layout, so the grid has its real size
    window.controller.size_new_sessions()
    instance.engine.release_scheduling()
    # Python signal handlers run only when Python code does: a timer gives them the chance.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    heartbeat = QTimer(interval=250)
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start()
    shot = (
        asyncio.ensure_future(_screenshot(window, Path(screenshot), done)) if screenshot else None
    )
    try:
        await done.wait()
    finally:
        heartbeat.stop()
        if shot is not None:
            shot.cancel()
        window.save_state()
        window.hide()
        await instance.stop(keep_hosted=not window.end_sessions)
    return 0


async def _screenshot(window: MainWindow, path: Path, done: asyncio.Event) -> None:
    """Wait until the visible tiles have drawn (or 20 s), save the window, quit."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        views = [t.view for t in window.grid.tiles if t.isVisible() and t.view is not None]
        if views and all(any(row.strip() for row in v.model.display) for v in views):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(3.5)  # let prompts settle and be detected, as a person would see them
    window.grab().save(str(path))
    done.set()
