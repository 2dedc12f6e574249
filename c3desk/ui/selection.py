"""Mouse selection over the terminal's lines (scrollback and screen), and the text it copies.

Positions are ``(line, col)`` with ``line`` counted over scrollback then screen: scrollback line
``i`` is line ``i``, screen row ``y`` is line ``scrollback_len + y``. Qt-free.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from wcwidth import wcwidth

if TYPE_CHECKING:
    from c3desk.terminal import TerminalModel

Pos = tuple[int, int]

# Characters that belong to a word for double-click selection besides letters and digits:
# enough to take paths, URLs and identifiers whole.
WORD_CHARS = frozenset("_-./~:@%+=?&#,")


class SelectionMode(Enum):
    CHAR = "char"
    WORD = "word"
    LINE = "line"


def text_to_cells(text: str) -> list[str]:
    """A run's text (each wide character once) as cells, ``""`` in a wide character's stub;
    combining characters stay with the cell before them."""
    if text.isascii():
        return list(text)
    cells: list[str] = []
    for ch in text:
        w = wcwidth(ch)
        if w == 0 and cells:
            cells[-1] += ch
        elif w == 2:
            cells.append(ch)
            cells.append("")
        else:
            cells.append(ch)
    return cells


def is_word_char(cell: str) -> bool:
    return bool(cell) and (cell[0].isalnum() or cell[0] in WORD_CHARS)


def word_bounds(cells: list[str], col: int) -> tuple[int, int]:
    """The inclusive column range of the word (or run of blanks/symbols) around ``col``."""
    n = len(cells)
    if n == 0:
        return 0, 0
    col = max(0, min(col, n - 1))
    if cells[col] == "" and col > 0:
        col -= 1

    def kind(c: str) -> int:
        if is_word_char(c):
            return 1
        return 0 if c in (" ", "") else 2

    k = kind(cells[col])
    start = col
    while start > 0 and (kind(cells[start - 1]) == k or (cells[start - 1] == "" and k == 1)):
        start -= 1
    end = col
    while end + 1 < n and (kind(cells[end + 1]) == k or (cells[end + 1] == "" and k == 1)):
        end += 1
    return start, end


@dataclass
class Selection:
    """What the user selected: from ``anchor`` (where the press was) to ``head`` (the mouse)."""

    anchor: Pos
    head: Pos
    mode: SelectionMode = SelectionMode.CHAR

    def ordered(self) -> tuple[Pos, Pos]:
        a, b = self.anchor, self.head
        return (a, b) if a <= b else (b, a)

    def shift(self, delta: int) -> None:
        """Move by ``delta`` lines (when scrollback drops its oldest lines)."""
        self.anchor = (self.anchor[0] + delta, self.anchor[1])
        self.head = (self.head[0] + delta, self.head[1])

    def span(self, line: int, cells: Callable[[int], list[str]]) -> tuple[int, int] | None:
        """Inclusive columns selected on ``line``, or None; ``cells`` gives a line's cells."""
        (l0, c0), (l1, c1) = self.expanded(cells)
        if line < l0 or line > l1:
            return None
        start = c0 if line == l0 else 0
        end = c1 if line == l1 else 1 << 20
        return start, end

    def expanded(self, cells: Callable[[int], list[str]]) -> tuple[Pos, Pos]:
        """The ordered range, grown to whole words or lines in those modes."""
        (l0, c0), (l1, c1) = self.ordered()
        if self.mode is SelectionMode.LINE:
            return (l0, 0), (l1, 1 << 20)
        if self.mode is SelectionMode.WORD:
            c0 = word_bounds(cells(l0), c0)[0]
            c1 = word_bounds(cells(l1), c1)[1]
        return (l0, c0), (l1, c1)

    def text(
        self, cells: Callable[[int], list[str]], wrapped: Callable[[int], bool] | None = None
    ) -> str:
        """The selected text: wide characters once, trailing blanks dropped, lines by ``\\n``;
        a line that soft-wraps into the next (``wrapped``) joins it with nothing between."""
        (l0, c0), (l1, c1) = self.expanded(cells)
        out: list[str] = []
        for line in range(l0, l1 + 1):
            row = cells(line)
            start = c0 if line == l0 else 0
            end = c1 if line == l1 else len(row) - 1
            # A selection starting on a wide character's stub takes the character.
            if 0 < start < len(row) and row[start] == "":
                start -= 1
            piece = "".join(row[start : end + 1])
            joins = line < l1 and wrapped is not None and wrapped(line)
            if not joins and (end >= len(row) - 1 or line != l1):
                piece = piece.rstrip(" ")
            out.append(piece)
            out.append("" if joins else "\n")
        return "".join(out[:-1])


# -- over a terminal model's lines --------------------------------------------------------------


def line_cells(model: TerminalModel, line: int) -> list[str]:
    """The cells of ``line`` (scrollback then screen); none past either end."""
    hist = model.scrollback_len
    if line < 0:
        return []
    if line < hist:
        return text_to_cells(model.scrollback_text(line))
    if line - hist < model.rows:
        return [c for c, _ in model.row_cells(line - hist)]
    return []


def line_wrapped(model: TerminalModel, line: int) -> bool:
    """Whether ``line`` (scrollback then screen) soft-wraps into the next one."""
    hist = model.scrollback_len
    if 0 <= line < hist:
        return model.scrollback_wrapped(line)
    if 0 <= line - hist < model.rows:
        return model.row_wrapped(line - hist)
    return False


class MouseSelection:
    """The selection a view shows, and the gestures that make it: a press starts one (a
    press soon after a double click selects lines), a double click selects words, a drag
    moves its head. ``cells`` and ``wrapped`` read the view's lines."""

    def __init__(self, cells: Callable[[int], list[str]], wrapped: Callable[[int], bool]) -> None:
        self._cells = cells
        self._wrapped = wrapped
        self.selection: Selection | None = None
        # The columns painted: the expanded selection, None while nothing is selected.
        self.range: tuple[Pos, Pos] | None = None
        self.selecting = False  # a button is down
        self._last_double = -math.inf

    def press(self, pos: Pos, now: float, double_interval: float) -> None:
        triple = now - self._last_double < double_interval
        mode = SelectionMode.LINE if triple else SelectionMode.CHAR
        self._last_double = -math.inf
        self.selection = Selection(pos, pos, mode)
        self.selecting = True
        if mode is SelectionMode.CHAR:
            self.range = None  # a click without a drag selects nothing
        else:
            self.refresh()

    def double_press(self, pos: Pos, now: float) -> None:
        self.selection = Selection(pos, pos, SelectionMode.WORD)
        self.selecting = True
        self._last_double = now
        self.refresh()

    def drag(self, pos: Pos) -> None:
        if self.selection is not None:
            self.selection.head = pos
            self.refresh()

    def release(self) -> str:
        """End the gesture; the text it selected ("" for a click)."""
        self.selecting = False
        return self.text() if self.range is not None else ""

    def select(self, start: Pos, end: Pos, mode: SelectionMode) -> None:
        self.selection = Selection(start, end, mode)
        self.refresh()

    def clear(self) -> bool:
        """Select nothing; False when nothing was selected."""
        if self.selection is None:
            return False
        self.selection = self.range = None
        return True

    def shift(self, delta: int) -> None:
        """Follow the text when scrollback moves it by ``delta`` lines."""
        if self.selection is not None:
            self.selection.shift(delta)
            self.refresh()

    def text(self) -> str:
        if self.selection is None:
            return ""
        return self.selection.text(self._cells, self._wrapped)

    def refresh(self) -> None:
        """Recompute the range painted (the lines under the selection may have changed)."""
        sel = self.selection
        if sel is None:
            self.range = None
        elif sel.mode is SelectionMode.CHAR and sel.anchor == sel.head:
            self.range = None if self.selecting else sel.expanded(self._cells)
        else:
            self.range = sel.expanded(self._cells)
