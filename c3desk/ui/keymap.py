"""Qt key events to the bytes xterm sends, as a pure function so it can be tested from a table."""

from __future__ import annotations

from PySide6.QtCore import Qt

Key = Qt.Key
Mod = Qt.KeyboardModifier

ESC = b"\x1b"
CSI = b"\x1b["
SS3 = b"\x1bO"

# Cursor keys and Home/End: final byte; SS3 in application cursor mode, CSI otherwise.
_CURSOR: dict[int, bytes] = {
    Key.Key_Up.value: b"A",
    Key.Key_Down.value: b"B",
    Key.Key_Right.value: b"C",
    Key.Key_Left.value: b"D",
    Key.Key_Home.value: b"H",
    Key.Key_End.value: b"F",
}

# Keys sent as CSI n ~.
_TILDE: dict[int, bytes] = {
    Key.Key_Insert.value: b"2",
    Key.Key_Delete.value: b"3",
    Key.Key_PageUp.value: b"5",
    Key.Key_PageDown.value: b"6",
    Key.Key_F5.value: b"15",
    Key.Key_F6.value: b"17",
    Key.Key_F7.value: b"18",
    Key.Key_F8.value: b"19",
    Key.Key_F9.value: b"20",
    Key.Key_F10.value: b"21",
    Key.Key_F11.value: b"23",
    Key.Key_F12.value: b"24",
}

# F1-F4: SS3 P..S, or CSI 1;m P..S with modifiers.
_PF: dict[int, bytes] = {
    Key.Key_F1.value: b"P",
    Key.Key_F2.value: b"Q",
    Key.Key_F3.value: b"R",
    Key.Key_F4.value: b"S",
}

# Ctrl with a non-letter, as xterm: Ctrl+Space/2/@ NUL, Ctrl+[ ESC, and so on.
_CTRL_SYMBOL: dict[int, bytes] = {
    Key.Key_Space.value: b"\x00",
    Key.Key_At.value: b"\x00",
    Key.Key_2.value: b"\x00",
    Key.Key_BracketLeft.value: b"\x1b",
    Key.Key_3.value: b"\x1b",
    Key.Key_Backslash.value: b"\x1c",
    Key.Key_4.value: b"\x1c",
    Key.Key_BracketRight.value: b"\x1d",
    Key.Key_5.value: b"\x1d",
    Key.Key_AsciiCircum.value: b"\x1e",
    Key.Key_6.value: b"\x1e",
    Key.Key_Underscore.value: b"\x1f",
    Key.Key_Minus.value: b"\x1f",
    Key.Key_7.value: b"\x1f",
    Key.Key_Slash.value: b"\x1f",
    Key.Key_Question.value: b"\x7f",
    Key.Key_8.value: b"\x7f",
}


def _mods(modifiers: Qt.KeyboardModifier | int) -> tuple[bool, bool, bool]:
    m = modifiers.value if isinstance(modifiers, Mod) else int(modifiers)
    return (
        bool(m & Mod.ShiftModifier.value),
        bool(m & Mod.AltModifier.value),
        bool(m & Mod.ControlModifier.value),
    )


def _param(shift: bool, alt: bool, ctrl: bool) -> int:
    """xterm's modifier parameter: 1 + Shift(1) + Alt(2) + Ctrl(4); 1 means none."""
    return 1 + shift + 2 * alt + 4 * ctrl


def key_to_bytes(
    key: int | Qt.Key, modifiers: Qt.KeyboardModifier | int, text: str, app_cursor: bool = False
) -> bytes:
    """The bytes xterm sends for a key press; ``b""`` when the key sends nothing.

    ``text`` is the event's text (what the input method produced); ``app_cursor`` is DECCKM.
    Shift+Enter sends ``ESC CR``, which Claude Code reads as a newline in its prompt.
    """
    k = key.value if isinstance(key, Key) else int(key)
    shift, alt, ctrl = _mods(modifiers)
    param = _param(shift, alt, ctrl)

    if k in (Key.Key_Return.value, Key.Key_Enter.value):
        return ESC + b"\r" if (shift or alt) else b"\r"
    if k == Key.Key_Backspace.value:
        body = b"\x08" if ctrl else b"\x7f"
        return ESC + body if alt else body
    if k == Key.Key_Backtab.value or (k == Key.Key_Tab.value and shift):
        return CSI + b"Z"
    if k == Key.Key_Tab.value:
        return ESC + b"\t" if alt else b"\t"
    if k == Key.Key_Escape.value:
        return ESC + ESC if alt else ESC

    final = _CURSOR.get(k)
    if final is not None:
        if param != 1:
            return CSI + b"1;" + str(param).encode() + final
        return (SS3 if app_cursor else CSI) + final
    number = _TILDE.get(k)
    if number is not None:
        if param != 1:
            return CSI + number + b";" + str(param).encode() + b"~"
        return CSI + number + b"~"
    final = _PF.get(k)
    if final is not None:
        if param != 1:
            return CSI + b"1;" + str(param).encode() + final
        return SS3 + final

    if ctrl:
        body = b""
        if Key.Key_A.value <= k <= Key.Key_Z.value:
            body = bytes([k - Key.Key_A.value + 1])
        elif k in _CTRL_SYMBOL:
            body = _CTRL_SYMBOL[k]
        elif text and len(text) == 1 and ord(text) < 0x20:
            body = text.encode()
        if body:
            return ESC + body if alt else body
        return b""

    if not text:
        return b""
    # Qt may hand control characters as text for keys handled above; never send them raw.
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return b""
    data = text.encode("utf-8", "replace")
    return ESC + data if alt else data
