"""The window started from a menu (no terminal on stderr) shows start-up errors in a dialog
(issue 13, defect 6). Real Qt (offscreen): the dialog really opens, a timer closes it."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from c3desk import __main__ as entry
from c3desk.ui.app import show_error_dialog


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """main() sets up logging in this process; leave the root logger as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


class DialogCloser:
    """Closes every message box shown while it watches, and keeps what they said."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, QMessageBox.Icon]] = []
        self.timer = QTimer(interval=20)
        self.timer.timeout.connect(self._close)
        self.timer.start()

    def _close(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, QMessageBox) and widget.isVisible():
                self.seen.append((widget.windowTitle(), widget.text(), widget.icon()))
                widget.reject()

    def stop(self) -> None:
        self.timer.stop()


def test_dialog_shows_the_error(qapp: QApplication) -> None:
    shown: list[QMessageBox] = []
    box = show_error_dialog("cannot write /x/c3desk.db: read-only", run=shown.append)
    assert shown == [box]
    assert box.text() == "cannot write /x/c3desk.db: read-only"
    assert box.icon() == QMessageBox.Icon.Critical
    assert "c3desk" in box.windowTitle()


def test_started_from_a_menu_a_damaged_database_opens_a_dialog(
    qapp: QApplication, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = home / "c3desk.db"
    db.write_bytes(b"not a database at all" * 100)
    assert os.environ.get("QT_QPA_PLATFORM")  # a display for the dialog
    closer = DialogCloser()
    try:
        code = entry.main(["--home", str(home)])  # no command: the window
    finally:
        closer.stop()
    assert code == 1
    err = capsys.readouterr().err  # captured: not a terminal, as from a menu
    assert len(err.strip().splitlines()) == 1 and str(db) in err
    assert len(closer.seen) == 1
    title, text, icon = closer.seen[0]
    assert "c3desk" in title
    assert str(db) in text and "damaged" in text and "no backups" in text
    assert icon == QMessageBox.Icon.Critical


def test_started_from_a_terminal_no_dialog(
    qapp: QApplication, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "c3desk.db").write_bytes(b"not a database at all" * 100)
    primary, secondary = os.openpty()
    terminal = io.TextIOWrapper(os.fdopen(secondary, "wb", buffering=0), write_through=True)
    monkeypatch.setattr("sys.stderr", terminal)
    closer = DialogCloser()
    try:
        assert terminal.isatty()
        assert entry.main(["--home", str(home)]) == 1
    finally:
        closer.stop()
        terminal.close()
        written = os.read(primary, 65536).decode()
        os.close(primary)
    assert closer.seen == []
    assert "damaged" in written
