"""The GUI's composition root: QApplication, the qasync loop, the instance, the window."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

# qasync ships no type information; the ignore stays harmless once mypy is told so.
import qasync  # type: ignore[import-untyped,unused-ignore]
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSettings, Qt, QTimer
from PySide6.QtGui import QImageWriter
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from c3desk.config import Paths
from c3desk.control import client as control
from c3desk.control.server import AlreadyRunning
from c3desk.core import settings as cfg
from c3desk.errors import C3Error
from c3desk.runtime import build_instance
from c3desk.ui.icons import app_icon
from c3desk.ui.main_window import MainWindow
from c3desk.ui.theme import apply_theme

log = logging.getLogger(__name__)


def run_gui(paths: Paths, args: argparse.Namespace) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("c3desk")
    app.setOrganizationName("c3desk")
    app.setDesktopFileName("c3desk")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # the tray may keep the app running
    screenshot = getattr(args, "screenshot", None)
    if screenshot is not None:
        problem = screenshot_problem(Path(screenshot))
        if problem is not None:  # said before the window opens, not after it has drawn
            print(f"c3desk: --screenshot {screenshot!r}: {problem}", file=sys.stderr)
            return 2
    apply_theme(app, str(cfg.get_settings()["theme"]))
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        code: int = loop.run_until_complete(_main(app, paths, screenshot))
        _drain(loop)
        return code


def screenshot_problem(path: Path) -> str | None:
    """Why the window could not be saved to ``path`` (None when it looks possible): its folder
    must exist and take files, its suffix name an image format Qt writes."""
    folder = path.parent
    try:
        if not folder.is_dir():
            return f"the folder {str(folder)!r} does not exist"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"the folder {str(folder)!r} is not writable"
        if path.is_dir():
            return "it is a folder"
    except OSError as exc:  # a name too long, a folder that cannot be looked into
        return str(exc.strerror)
    formats = sorted(bytes(f.data()).decode() for f in QImageWriter.supportedImageFormats())
    suffix = path.suffix.lower().removeprefix(".")
    if suffix not in formats:
        return f"not an image file name: its suffix must be one of {', '.join(formats)}"
    return None


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
    problem = shot.result() if shot is not None and shot.done() and not shot.cancelled() else None
    if problem is not None:
        print(f"c3desk: could not save the window to {screenshot!r}: {problem}", file=sys.stderr)
        return 1
    return 0


async def _screenshot(window: MainWindow, path: Path, done: asyncio.Event) -> str | None:
    """Wait until the visible tiles have drawn (or 20 s), save the window, quit; when the file
    could not be written, why."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    try:
        while loop.time() < deadline:
            views = [t.view for t in window.grid.tiles if t.isVisible() and t.view is not None]
            if views and all(any(row.strip() for row in v.model.display) for v in views):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(3.5)  # let prompts settle and be detected, as a person would see
        return save_widget(window, path)
    except Exception as exc:  # said in one line (the window quits all the same)
        log.exception("saving the window to %s", path)
        return str(exc) or type(exc).__name__
    finally:
        done.set()


def save_widget(widget: QWidget, path: Path) -> str | None:
    """Save what ``widget`` shows to ``path``, in the image format its suffix names; None when
    saved, else why not. The image is made in memory and written by Python: a write that
    fails (a full disk) says why, where Qt's save says only False (and libpng prints a line
    of its own)."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    kind = path.suffix.removeprefix(".").lower()
    # PySide6 wants the format as str at run time (its stubs say bytes).
    if not widget.grab().save(buffer, kind):  # type: ignore[call-overload,unused-ignore]
        return f"Qt could not make a {kind} image"
    try:
        path.write_bytes(bytes(data.data()))
    except OSError as exc:
        return str(exc.strerror or exc)
    return None
