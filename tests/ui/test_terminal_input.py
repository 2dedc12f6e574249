"""The terminal view's input rules on their own: keys kept from shortcuts, commands, mouse
report encodings and modes, and pastes sent in chunks over event-loop turns."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QKeyEvent, QMouseEvent
from pytestqt.qtbot import QtBot

from c3desk.terminal import TerminalModel
from c3desk.ui.terminal_input import (
    PASTE_CHUNK,
    KeyCommand,
    MouseReporter,
    PasteQueue,
    key_command,
    mouse_report,
    paste_bytes,
    takes_shortcut,
)

Key = Qt.Key
Mod = Qt.KeyboardModifier
Button = Qt.MouseButton


def key(k: Qt.Key, mods: Qt.KeyboardModifier = Mod.NoModifier) -> QKeyEvent:
    return QKeyEvent(QEvent.Type.KeyPress, k, mods, "")


def mouse(
    kind: QEvent.Type,
    button: Qt.MouseButton = Button.LeftButton,
    mods: Qt.KeyboardModifier = Mod.NoModifier,
) -> QMouseEvent:
    pos = QPointF(1, 1)
    return QMouseEvent(kind, pos, pos, button, button, mods)


CTRL_SHIFT = Mod.ControlModifier | Mod.ShiftModifier


@pytest.mark.parametrize(
    ("k", "mods", "kept"),
    [
        (Key.Key_C, Mod.ControlModifier, True),  # Ctrl+C is the program's interrupt
        (Key.Key_Tab, Mod.NoModifier, True),
        (Key.Key_C, CTRL_SHIFT, True),  # the terminal's own copy and paste
        (Key.Key_V, CTRL_SHIFT, True),
        (Key.Key_T, CTRL_SHIFT, False),  # other Ctrl+Shift chords are the window's
        (Key.Key_Q, CTRL_SHIFT | Mod.AltModifier, False),
    ],
)
def test_terminal_keeps_every_key_but_foreign_ctrl_shift_chords(
    qapp: QObject, k: Qt.Key, mods: Qt.KeyboardModifier, kept: bool
) -> None:
    assert takes_shortcut(key(k, mods)) is kept


@pytest.mark.parametrize(
    ("k", "mods", "command"),
    [
        (Key.Key_C, CTRL_SHIFT, KeyCommand.COPY),
        (Key.Key_V, CTRL_SHIFT, KeyCommand.PASTE),
        (Key.Key_PageUp, Mod.ShiftModifier, KeyCommand.PAGE_UP),
        (Key.Key_PageDown, Mod.ShiftModifier | Mod.KeypadModifier, KeyCommand.PAGE_DOWN),
        (Key.Key_C, Mod.ControlModifier, None),
        (Key.Key_PageUp, Mod.NoModifier, None),  # the program's page keys
        (Key.Key_PageUp, CTRL_SHIFT, None),
    ],
)
def test_key_commands(
    qapp: QObject, k: Qt.Key, mods: Qt.KeyboardModifier, command: KeyCommand | None
) -> None:
    assert key_command(key(k, mods)) is command


def test_mouse_report_encodings() -> None:
    assert mouse_report(0, 4, 2, False, 0, sgr=True) == b"\x1b[<0;5;3M"
    assert mouse_report(2, 4, 2, True, 16, sgr=True) == b"\x1b[<18;5;3m"
    assert mouse_report(1, 4, 2, False, 4, sgr=False) == b"\x1b[M" + bytes([32 + 5, 37, 35])
    # X10 has no release button: 3, with the modifiers.
    assert mouse_report(1, 4, 2, True, 8, sgr=False) == b"\x1b[M" + bytes([32 + 11, 37, 35])
    # Nor cells past 222: nothing is sent; SGR has no such limit.
    assert mouse_report(0, 223, 0, False, 0, sgr=False) == b""
    assert mouse_report(0, 223, 0, False, 0, sgr=True) == b"\x1b[<0;224;1M"


def test_motion_is_reported_per_cell_as_the_mode_asks(qapp: QObject) -> None:
    model = TerminalModel(20, 5, 0)
    sent: list[bytes] = []
    reporter = MouseReporter(sent.append)
    move = mouse(QEvent.Type.MouseMove, Button.NoButton)

    model.feed(b"\x1b[?1002h\x1b[?1006h")  # button-event tracking: drags only
    reporter.move(model.modes, move, 1, 1)
    assert sent == []
    reporter.press(model.modes, mouse(QEvent.Type.MouseButtonPress), 1, 1)
    reporter.move(model.modes, move, 1, 1)  # same cell: no report
    reporter.move(model.modes, move, 2, 1)
    assert reporter.release(model.modes, mouse(QEvent.Type.MouseButtonRelease), 2, 1)
    assert sent == [b"\x1b[<0;2;2M", b"\x1b[<32;3;2M", b"\x1b[<0;3;2m"]

    sent.clear()
    model.feed(b"\x1b[?1003h")  # any-event tracking: motion without a button too
    reporter.move(model.modes, move, 4, 0)
    assert sent == [b"\x1b[<35;5;1M"]
    assert not reporter.release(model.modes, mouse(QEvent.Type.MouseButtonRelease), 4, 0)


def test_shift_keeps_the_mouse_for_the_terminal(qapp: QObject) -> None:
    model = TerminalModel(20, 5, 0)
    model.feed(b"\x1b[?1000h")
    plain = mouse(QEvent.Type.MouseButtonPress)
    shifted = mouse(QEvent.Type.MouseButtonPress, mods=Mod.ShiftModifier)
    assert MouseReporter.reporting(model.modes, plain)
    assert not MouseReporter.reporting(model.modes, shifted)
    model.feed(b"\x1b[?1000l")
    assert not MouseReporter.reporting(model.modes, plain)


def test_paste_bytes_sanitised_and_bracketed() -> None:
    assert paste_bytes("a\x1b[201~b\r\nc", bracketed=True) == b"\x1b[200~a[201~b\rc\x1b[201~"
    assert paste_bytes("\x1b\x07", bracketed=True) == b""  # nothing left: nothing sent


def test_paste_queue_sends_small_at_once_and_large_over_loop_turns(
    qtbot: QtBot, qapp: QObject
) -> None:
    sent: list[bytes] = []
    owner = QObject()
    queue = PasteQueue(sent.append, owner)
    queue.put(b"small")
    assert sent == [b"small"]
    assert queue.pending == 0

    sent.clear()
    data = bytes(range(256)) * (3 * PASTE_CHUNK // 256 + 1)
    queue.put(data)
    assert len(sent) == 0  # nothing before the loop turns
    assert queue.pending == len(data)
    qtbot.waitUntil(lambda: queue.pending == 0, timeout=3000)
    assert b"".join(sent) == data
    assert [len(c) for c in sent[:-1]] == [PASTE_CHUNK] * (len(sent) - 1)
