"""What a terminal view sends to its program: keys it keeps, pastes, mouse reports.

The view decides what an event means for itself (copy, paste, scroll back, select); this
module holds the rules and encodings: which key chords the terminal takes from the window's
shortcuts, how pasted text is made safe and sent in chunks, and how mouse events are reported
(xterm modes 1000, 1002 and 1003, SGR or X10 encoding).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from enum import Enum

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QKeyEvent, QMouseEvent, QWheelEvent

from c3desk.terminal import Modes

PASTE_CHUNK = 4096

_CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def takes_shortcut(event: QKeyEvent) -> bool:
    """Whether the terminal keeps this key from the window's shortcuts: every key but Ctrl+Shift
    chords other than its own (copy and paste)."""
    mods = event.modifiers()
    return (mods & _CTRL_SHIFT) != _CTRL_SHIFT or event.key() in (Qt.Key.Key_C, Qt.Key.Key_V)


class KeyCommand(Enum):
    """A key the view handles itself instead of sending it."""

    COPY = "copy"
    PASTE = "paste"
    PAGE_UP = "page_up"
    PAGE_DOWN = "page_down"


def key_command(event: QKeyEvent) -> KeyCommand | None:
    key = event.key()
    mods = event.modifiers()
    Mod = Qt.KeyboardModifier
    ctrl_shift = bool(mods & Mod.ControlModifier) and bool(mods & Mod.ShiftModifier)
    if ctrl_shift and key == Qt.Key.Key_C:
        return KeyCommand.COPY
    if ctrl_shift and key == Qt.Key.Key_V:
        return KeyCommand.PASTE
    only_shift = (mods & ~Mod.KeypadModifier) == Mod.ShiftModifier
    if only_shift and key == Qt.Key.Key_PageUp:
        return KeyCommand.PAGE_UP
    if only_shift and key == Qt.Key.Key_PageDown:
        return KeyCommand.PAGE_DOWN
    return None


# -- paste --------------------------------------------------------------------------------------


def sanitize_paste(text: str) -> str:
    """Pasted text made safe for a terminal: ESC and the other C0 controls (but Tab and
    newline) and C1 controls removed, newlines (LF, CRLF, CR) sent as CR."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = text.translate(_PASTE_DROP)
    return out.replace("\n", "\r")


_PASTE_DROP = {c: None for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in (9, 10)}


def paste_bytes(text: str, bracketed: bool) -> bytes:
    """What a paste of ``text`` sends (empty when nothing is left of it)."""
    clean = sanitize_paste(text)
    if not clean:
        return b""
    data = clean.encode("utf-8", "replace")
    return b"\x1b[200~" + data + b"\x1b[201~" if bracketed else data


class PasteQueue:
    """Sends a paste in chunks, one per event-loop turn, so a large paste does not block
    the loop (nor the program's output) while it goes out."""

    def __init__(self, send: Callable[[bytes], None], parent: QObject) -> None:
        self._send = send
        self._queue: deque[bytes] = deque()
        self._timer = QTimer(parent)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._next)

    @property
    def pending(self) -> int:
        """Bytes not yet sent."""
        return sum(len(c) for c in self._queue)

    def put(self, data: bytes) -> None:
        for i in range(0, len(data), PASTE_CHUNK):
            self._queue.append(data[i : i + PASTE_CHUNK])
        if len(self._queue) == 1 and not self._timer.isActive():
            self._next()  # small pastes go out at once
        elif not self._timer.isActive():
            self._timer.start()

    def _next(self) -> None:
        if not self._queue:
            self._timer.stop()
            return
        self._send(self._queue.popleft())
        if self._queue and not self._timer.isActive():
            self._timer.start()
        elif not self._queue:
            self._timer.stop()


# -- mouse --------------------------------------------------------------------------------------


BUTTONS: dict[Qt.MouseButton, int] = {
    Qt.MouseButton.LeftButton: 0,
    Qt.MouseButton.MiddleButton: 1,
    Qt.MouseButton.RightButton: 2,
}


def mouse_mods(event: QMouseEvent | QWheelEvent) -> int:
    """The modifier bits of a mouse report."""
    mods = event.modifiers()
    out = 0
    if mods & Qt.KeyboardModifier.ShiftModifier:
        out |= 4
    if mods & Qt.KeyboardModifier.AltModifier:
        out |= 8
    if mods & Qt.KeyboardModifier.ControlModifier:
        out |= 16
    return out


def mouse_report(button: int, col: int, row: int, release: bool, mods: int, sgr: bool) -> bytes:
    """The report of a button (with its modifier bits) at a cell; empty where X10 cannot
    encode the cell."""
    code = button | mods
    if sgr:
        final = "m" if release else "M"
        return f"\x1b[<{code};{col + 1};{row + 1}{final}".encode()
    if release:
        code = 3 | mods
    if col > 222 or row > 222:
        return b""
    return b"\x1b[M" + bytes([32 + code, 33 + col, 33 + row])


class MouseReporter:
    """Mouse events reported to a program that asked for them; Shift keeps the mouse for
    the terminal (selection)."""

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send
        self.button_down = -1
        self._last_cell: tuple[int, int] | None = None

    @staticmethod
    def reporting(modes: Modes, event: QMouseEvent | QWheelEvent) -> bool:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        return bool(modes.mouse_tracking) and not shift

    def _report(
        self, modes: Modes, button: int, col: int, row: int, release: bool, mods: int
    ) -> None:
        data = mouse_report(button, col, row, release, mods, bool(modes.mouse_sgr))
        if data:
            self._send(data)

    def press(self, modes: Modes, event: QMouseEvent, col: int, row: int) -> None:
        button = BUTTONS.get(event.button())
        if button is not None:
            self.button_down = button
            self._last_cell = (col, row)
            self._report(modes, button, col, row, False, mouse_mods(event))

    def move(self, modes: Modes, event: QMouseEvent, col: int, row: int) -> None:
        tracking = modes.mouse_tracking
        held = self.button_down >= 0
        if (tracking == 1003 or (tracking == 1002 and held)) and ((col, row) != self._last_cell):
            self._last_cell = (col, row)
            button = self.button_down if held else 3
            self._report(modes, 32 + button, col, row, False, mouse_mods(event))

    def release(self, modes: Modes, event: QMouseEvent, col: int, row: int) -> bool:
        """Report the release of the button pressed; False when none was reported down."""
        down = self.button_down
        self.button_down = -1
        if down < 0 or not self.reporting(modes, event):
            return False
        button = BUTTONS.get(event.button(), down)
        self._report(modes, button, col, row, True, mouse_mods(event))
        return True

    def wheel(self, modes: Modes, event: QWheelEvent, col: int, row: int, delta: int) -> None:
        button = 64 if delta > 0 else 65
        for _ in range(max(1, abs(delta) // 120)):
            self._report(modes, button, col, row, False, mouse_mods(event))


def double_click_interval() -> float:
    """The platform's double-click interval, in seconds."""
    hints = QGuiApplication.styleHints()
    return hints.mouseDoubleClickInterval() / 1000 if hints is not None else 0.4


__all__ = [
    "PASTE_CHUNK",
    "KeyCommand",
    "MouseReporter",
    "PasteQueue",
    "double_click_interval",
    "key_command",
    "mouse_report",
    "paste_bytes",
    "sanitize_paste",
    "takes_shortcut",
]
