"""The terminal model: pyte made fast, corrected for Claude Code's output, safe against hostile
output. No Qt here.

Renderer API (what the QPainter view uses)::

    model = TerminalModel(cols, rows, history=10_000)
    model.feed(data: bytes)             # PTY bytes, split anywhere
    model.display -> list[str]          # visible rows as text (pyte.Screen.display semantics)
    model.take_dirty() -> set[int]      # rows changed since the last call (model.dirty: live)
    model.row_runs(y) -> list[Run]      # Run(col, width, text, style)
    model.row_cells(y) / model.cell(x, y) -> (text, Style); "" is a wide character's stub
    model.cursor -> CursorState(x, y, visible)
    model.title, model.title_version
    model.scrollback_len, model.scrollback_runs(i), model.scrollback_text(i)   # 0 = oldest
    model.lines_pushed -> int           # lines ever pushed to scrollback (never decreases)
    model.row_wrapped(y), model.scrollback_wrapped(i) -> bool   # soft wrap into the next line
    model.alternate_screen -> bool
    model.modes -> Modes(bracketed_paste, mouse_tracking (0/1000/1002/1003), mouse_sgr,
                         focus_events, app_cursor, app_keypad, synchronized_output, autowrap,
                         screen_reverse, cursor_shape)
    model.take_answers() -> bytes       # replies to write back to the PTY (fixed numeric only)
    model.bell_count -> int             # increases on BEL
    model.take_notifications() -> list[Notification(source, title, body)]   # OSC 9/99/777
    model.resize(cols, rows)

``Style`` is an immutable, hashable NamedTuple: ``fg``/``bg`` are ``None`` (default), a palette
index 0-255 or an ``(r, g, b)`` tuple; ``bold``, ``dim``, ``italic``, ``underline`` (0-5),
``blink``, ``reverse``, ``strikethrough``. Styles are interned process-wide: equal styles are
one object in every model, so a renderer can key caches by ``id(style)`` (holding the style)
and find run boundaries by identity.

While ``modes.synchronized_output`` is true the program is in the middle of an update: the view
should hold painting until it ends (with a timeout of its own).
"""

from c3desk.terminal.model import CursorState, Modes, Notification, Run, TerminalModel
from c3desk.terminal.style import DEFAULT_STYLE, Color, Style

__all__ = [
    "DEFAULT_STYLE",
    "Color",
    "CursorState",
    "Modes",
    "Notification",
    "Run",
    "Style",
    "TerminalModel",
]
