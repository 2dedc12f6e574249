"""The terminal model a session's view renders: :class:`TerminalModel`."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import compress, islice, repeat
from operator import eq, is_not, sub
from typing import NamedTuple

from c3desk.terminal.screen import FastScreen, HistoryLine
from c3desk.terminal.stream import FastStream
from c3desk.terminal.style import DEFAULT_STYLE, Style


class Run(NamedTuple):
    """Consecutive cells of one style: starting column, width in cells, text, style.

    ``text`` holds each wide character once (it covers two cells).
    """

    col: int
    width: int
    text: str
    style: Style


class CursorState(NamedTuple):
    """Where the cursor is drawn (``x`` is clamped to the last column) and whether it shows."""

    x: int
    y: int
    visible: bool


class Modes(NamedTuple):
    """The modes the view and the input code need."""

    bracketed_paste: bool
    mouse_tracking: int  # 0 (off), 1000 (clicks), 1002 (drag) or 1003 (any motion)
    mouse_sgr: bool  # 1006: SGR mouse encoding
    focus_events: bool  # 1004
    app_cursor: bool  # DECCKM: cursor keys send ESC O A...
    app_keypad: bool
    synchronized_output: bool  # 2026: an update is in progress; hold painting
    autowrap: bool
    screen_reverse: bool
    cursor_shape: int  # DECSCUSR value, 0 = default


class Notification(NamedTuple):
    """A desktop notification the program asked for (OSC 9, 99 or 777), sanitized."""

    source: str
    title: str
    body: str


_new_tuple = tuple.__new__


def _runs(
    cells: str | tuple[str, ...] | list[str], styles: Style | tuple[Style, ...] | list[Style]
) -> list[Run]:
    """Cells grouped into runs of equal style.

    Styles are interned (equal styles are one object), so run boundaries are found by identity
    with C-level iteration only; the rare equal-but-distinct neighbours are merged afterwards.
    """
    if isinstance(styles, Style):
        text = cells if isinstance(cells, str) else "".join(cells)
        return [Run(0, len(cells), text, styles)]
    n = len(styles)
    first = styles[0]
    if first is styles[-1] and styles.count(first) == n:
        text = cells if isinstance(cells, str) else "".join(cells)
        return [Run(0, n, text, first)]
    ends = list(compress(range(1, n), map(is_not, islice(styles, 1, None), styles)))
    starts = [0, *ends]
    ends.append(n)
    run_styles = list(map(styles.__getitem__, starts))
    if any(map(eq, islice(run_styles, 1, None), run_styles)):
        return _merge_equal(cells, starts, ends, run_styles)
    parts = map(cells.__getitem__, map(slice, starts, ends))
    texts = parts if isinstance(cells, str) else map("".join, parts)
    return list(
        map(
            _new_tuple,
            repeat(Run),
            zip(starts, map(sub, ends, starts), texts, run_styles, strict=True),
        )
    )


def _merge_equal(
    cells: str | tuple[str, ...] | list[str],
    starts: list[int],
    ends: list[int],
    run_styles: list[Style],
) -> list[Run]:
    out: list[Run] = []
    a = 0
    for k in range(len(starts)):
        if k + 1 < len(starts) and run_styles[k + 1] == run_styles[k]:
            continue
        b = ends[k]
        out.append(Run(a, b - a, "".join(cells[a:b]), run_styles[k]))
        a = b
    return out


class TerminalModel:
    """A Qt-free terminal: feed it the PTY's bytes, read back what to paint.

    Built on pyte: :class:`~c3desk.terminal.screen.FastScreen` subclasses ``pyte.Screen`` and
    :class:`~c3desk.terminal.stream.FastStream` subclasses ``pyte.ByteStream``.
    """

    def __init__(self, cols: int = 80, rows: int = 24, history: int = 10_000) -> None:
        self.screen = FastScreen(max(1, cols), max(1, rows), history)
        self.stream = FastStream(self.screen)

    # -- input -----------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Consume bytes as read from the PTY (split anywhere)."""
        self.stream.feed(data)

    def resize(self, cols: int, rows: int) -> None:
        """Change the size; every row becomes dirty."""
        self.screen.resize(max(1, rows), max(1, cols))

    def release_caches(self) -> None:
        """Let go of what speeds up parsing (text runs laid out into cells, SGR and control
        sequences seen): a few MB a model after a long stream. For a model whose session has
        ended and that is kept for its last screen; more output would fill them again."""
        self.screen.release_caches()
        self.stream.release_caches()

    # -- geometry and text -----------------------------------------------------------------

    @property
    def cols(self) -> int:
        return int(self.screen.columns)

    @property
    def rows(self) -> int:
        return int(self.screen.lines)

    @property
    def display(self) -> list[str]:
        """Visible rows as text, padded to ``cols``; wide characters take their stub cell."""
        return self.screen.display

    @property
    def dirty(self) -> set[int]:
        """Rows changed since the last :meth:`take_dirty` (live set; do not modify)."""
        return self.screen.dirty

    def take_dirty(self) -> set[int]:
        """Rows changed since the last call, and forget them."""
        dirty: set[int] = self.screen.dirty
        self.screen.dirty = set()
        return dirty

    def row(self, y: int) -> tuple[list[str], list[Style]]:
        """Visible row ``y`` as the screen holds it: one text and one style per cell (``""``
        is a wide character's second cell). Live lists: read them, do not keep or change."""
        return self.screen.row(y)

    def row_runs(self, y: int) -> list[Run]:
        """Visible row ``y`` as style runs."""
        chars, styles = self.screen.row(y)
        return _runs(chars, styles)

    def row_cells(self, y: int) -> list[tuple[str, Style]]:
        """Visible row ``y`` cell by cell: (text, style); ``""`` is a wide character's stub."""
        chars, styles = self.screen.row(y)
        return list(zip(chars, styles, strict=True))

    def cell(self, x: int, y: int) -> tuple[str, Style]:
        """One visible cell: (text, style)."""
        chars, styles = self.screen.row(y)
        return chars[x], styles[x]

    @property
    def cursor(self) -> CursorState:
        c = self.screen.cursor
        return CursorState(min(c.x, self.cols - 1), c.y, not c.hidden)

    @property
    def cursor_style(self) -> Style:
        """The style new text is drawn with."""
        return self.screen.style

    # -- scrollback ------------------------------------------------------------------------

    @property
    def scrollback_len(self) -> int:
        return len(self.screen.history)

    @property
    def lines_pushed(self) -> int:
        """Lines ever pushed into scrollback (never decreases, also when old lines are dropped
        or the scrollback is cleared): a view follows history by the difference."""
        return self.screen.lines_pushed

    def scrollback_text(self, i: int) -> str:
        """Scrollback line ``i`` (0 = oldest) as text."""
        cells = self.screen.history[i][0]
        return cells if isinstance(cells, str) else "".join(cells)

    def scrollback_runs(self, i: int) -> list[Run]:
        """Scrollback line ``i`` (0 = oldest) as style runs; its width is the width it had."""
        cells, styles = self.screen.history[i]
        return _runs(cells, styles)

    def scrollback_cells(self, i: int) -> HistoryLine:
        """Scrollback line ``i`` (0 = oldest) as stored: its cells (a string when every cell
        holds one character, else one text per cell) and its styles (one per cell, or one
        style for the whole line). Its width is the width it had."""
        return self.screen.history[i]

    def iter_scrollback(self) -> Iterator[HistoryLine]:
        """The raw scrollback lines, oldest first."""
        return iter(self.screen.history)

    def clear_scrollback(self) -> None:
        self.screen.history.clear()
        self.screen.history_wrapped.clear()

    def scrollback_wrapped(self, i: int) -> bool:
        """Whether scrollback line ``i`` (0 = oldest) soft-wrapped into the next line: copy
        joins the two without a newline."""
        return self.screen.history_wrapped[i]

    def row_wrapped(self, y: int) -> bool:
        """Whether visible row ``y`` soft-wraps into the next one (its text ran past the last
        column and continued there); cleared when the row is erased whole or replaced."""
        return self.screen.row_wrapped(y)

    # -- state for the view and input ------------------------------------------------------

    @property
    def title(self) -> str:
        return str(self.screen.title)

    @property
    def title_version(self) -> int:
        """Bumped whenever the title changes."""
        return self.screen.title_version

    @property
    def alternate_screen(self) -> bool:
        return self.screen.alternate

    @property
    def modes(self) -> Modes:
        s = self.screen
        return Modes(
            bracketed_paste=s.bracketed_paste,
            mouse_tracking=s.mouse_tracking,
            mouse_sgr=s.mouse_sgr,
            focus_events=s.focus_events,
            app_cursor=s.app_cursor,
            app_keypad=s.app_keypad,
            synchronized_output=s.synchronized_output,
            autowrap=s._autowrap,
            screen_reverse=s.screen_reverse,
            cursor_shape=s.cursor_shape,
        )

    @property
    def bell_count(self) -> int:
        """Bells so far; the view flashes when it moves."""
        return self.screen.bell_count

    def take_answers(self) -> bytes:
        """Bytes the program asked for (DA, CPR, DSR, DECRQM replies), to write to the PTY."""
        out = bytes(self.screen.answers)
        self.screen.answers.clear()
        return out

    def take_notifications(self) -> list[Notification]:
        """Notification requests since the last call."""
        out = [Notification(*n) for n in self.screen.notifications]
        self.screen.notifications.clear()
        return out


__all__ = ["DEFAULT_STYLE", "CursorState", "Modes", "Notification", "Run", "TerminalModel"]
