"""Named keys a user can send to a session (`c3desk send --key NAME`)."""

from __future__ import annotations

from collections.abc import Mapping

KEYS: Mapping[str, bytes] = {
    "enter": b"\r",
    "esc": b"\x1b",
    "tab": b"\t",
    "shift-tab": b"\x1b[Z",
    "backspace": b"\x7f",
    "up": b"\x1b[A",
    "down": b"\x1b[B",
    "right": b"\x1b[C",
    "left": b"\x1b[D",
    "ctrl-c": b"\x03",
    "ctrl-d": b"\x04",
}
APP_CURSOR = {"up": b"\x1bOA", "down": b"\x1bOB", "right": b"\x1bOC", "left": b"\x1bOD"}
