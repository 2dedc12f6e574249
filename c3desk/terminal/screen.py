"""A pyte :class:`~pyte.screens.Screen` with compact rows, fast bulk writes and the corrections
c3desk needs (alternate screen, scrollback inside margins, SU/SD/REP/HPA, wide-character wrap).

Rows are two parallel lists per line: the cell texts (``""`` marks the stub cell right of a wide
character, exactly like pyte's ``Char(data="")``) and the cells' :class:`Style` objects. Writing a
run of text is one slice assignment per list instead of one ``Char`` per cell. Cursor motion,
margins, tab stops, save/restore and mode bookkeeping are pyte's own methods.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from itertools import islice
from typing import Any, cast

import pyte
from pyte import modes as mo
from pyte.screens import wcwidth

from c3desk.terminal.style import DEFAULT_STYLE, Style, apply_sgr, blank_style, intern_style

#: A scrollback line: the cells as one string when every cell holds exactly one character (else a
#: tuple of cell texts), and one style for the whole line when uniform (else a tuple of styles).
HistoryLine = tuple[str | tuple[str, ...], Style | tuple[Style, ...]]

_MAX_SAVEPOINTS = 32
_MAX_ANSWER_BYTES = 64 * 1024
_LAYOUT_CACHE_SIZE = 4096
_SGR_CACHE_SIZE = 8192
_TITLE_MAX = 256
#: pyte's cap on a numeric parameter.
MAX_COUNT = 9999
_SGR_SPLIT = re.compile(r"\x1b\[([0-9;:]*)m")

# Private modes handled here rather than kept in pyte's mode set.
_MOUSE_MODES = (1000, 1002, 1003)
_ANSI_MODES = frozenset({mo.IRM, mo.LNM, mo.DECOM, mo.DECAWM})


_RGB_SGR = re.compile(r"([34])8;2;(\d+);(\d+);(\d+)")


#: Longest text one cell keeps: its character and combining marks (xterm keeps a few marks, not
#: all); further marks are dropped, so a run of a million marks costs linear time and the cell
#: stays small for the renderer.
CELL_TEXT_MAX = 16
#: Runs longer than this are laid out without being cached: the cache is bounded in bytes too.
_LAYOUT_CACHE_RUN = 256


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _attach(cell: str, marks: str) -> str:
    """``cell`` with zero-width ``marks`` joined (NFC), within :data:`CELL_TEXT_MAX`."""
    room = CELL_TEXT_MAX - len(cell)
    if room <= 0:
        return cell
    return _nfc(cell + marks[:room])


class _WrappedRow(list[str]):
    """A row's cell texts, for a row whose text continues on the next line (soft wrap).

    Rows are plain lists; the few that wrapped are swapped for this subclass so the flag moves
    with the row when it scrolls, and goes away when the row is replaced or erased whole.
    """

    __slots__ = ()


def is_wrapped(chars: list[str] | tuple[str, ...] | str) -> bool:
    """Whether a row (as held by the screen) soft-wraps into the next one."""
    return type(chars) is _WrappedRow


class FastScreen(pyte.Screen):  # type: ignore[misc, unused-ignore]
    """pyte's Screen with compact rows and c3desk's corrections; see the module docstring."""

    # pyte's attributes this class relies on (typed here too for when pyte is seen as untyped).
    lines: int
    columns: int
    title: str
    tabstops: set[int]
    mode: set[int]
    dirty: set[int]

    def __init__(self, columns: int, lines: int, history: int = 10_000) -> None:
        self._history_size = max(0, history)
        self.history: deque[HistoryLine] = deque(maxlen=self._history_size)
        # Whether each scrollback line soft-wrapped into the next (parallel to history).
        self.history_wrapped: deque[bool] = deque(maxlen=self._history_size)
        self._chars: list[list[str]] = []
        self._styles: list[list[Style]] = []
        self._other: tuple[list[list[str]], list[list[Style]]] | None = None
        self._layout_cache: dict[str, tuple[str, list[str], int]] = {}
        # (params, id(style)) -> (style, result). Holding the source style in the entry keeps
        # its id from being reused while the entry exists, and ids hash far faster than tuples.
        self._sgr_cache: dict[tuple[str, int], tuple[Style, Style]] = {}
        self.answers = bytearray()
        self.lines_pushed = 0
        self.bell_count = 0
        self.title_version = 0
        self.notifications: deque[tuple[str, str, str]] = deque(maxlen=32)
        super().__init__(columns, lines)

    # -- state -----------------------------------------------------------------------------

    def _blank_rows(self) -> tuple[list[list[str]], list[list[Style]]]:
        return (
            [[" "] * self.columns for _ in range(self.lines)],
            [[DEFAULT_STYLE] * self.columns for _ in range(self.lines)],
        )

    def reset(self) -> None:
        """Reset like pyte (RIS), and also leave the alternate screen and clear the modes.

        Scrollback is kept, as xterm does.
        """
        self.mode = set()
        self._autowrap = True
        self._irm = False
        super().reset()
        self.title_version += 1
        self.style = DEFAULT_STYLE
        self._chars, self._styles = self._blank_rows()
        self._other = None
        self.alternate = False
        self.app_cursor = False
        self.app_keypad = False
        self.bracketed_paste = False
        self.mouse_tracking = 0
        self.mouse_sgr = False
        self.focus_events = False
        self.synchronized_output = False
        self.screen_reverse = False
        self.cursor_shape = 0
        self._translate: str | None = None
        self._sync_flags()

    def _sync_flags(self) -> None:
        self._autowrap = mo.DECAWM in self.mode
        self._irm = mo.IRM in self.mode
        self._all_rows = frozenset(range(self.lines))

    @property
    def style(self) -> Style:
        """The style new text is drawn with (pyte keeps it in ``cursor.attrs``)."""
        return cast(Style, self.cursor.attrs)

    @style.setter
    def style(self, value: Style) -> None:
        self.cursor.attrs = value  # type: ignore[assignment, unused-ignore]

    @property
    def display(self) -> list[str]:
        """The visible rows as text, as :attr:`pyte.Screen.display` means it."""
        return ["".join(row) for row in self._chars]

    @property
    def buffer(self) -> Any:
        """Not kept: rows are compact lists (see :meth:`row`). pyte's sparse buffer is unused."""
        return _NoBuffer()

    @buffer.setter
    def buffer(self, _value: Any) -> None:
        pass  # pyte's __init__ assigns its sparse buffer; we keep rows in lists instead.

    def row(self, y: int) -> tuple[list[str], list[Style]]:
        """The live cell texts and styles of visible row ``y`` (do not modify)."""
        return self._chars[y], self._styles[y]

    # -- output ----------------------------------------------------------------------------

    def write_process_input(self, data: str) -> None:
        """Queue an answer for the program, bounded so a flood of queries cannot grow memory."""
        if len(self.answers) < _MAX_ANSWER_BYTES:
            self.answers += data.encode("ascii", "ignore")

    def bell(self, *args: Any) -> None:
        """Count bells; the view flashes when the count moves."""
        self.bell_count += 1

    def set_title(self, param: str) -> None:
        """Set the title with control characters removed, at most 256 characters."""
        clean = "".join(c for c in param[: _TITLE_MAX * 4] if c.isprintable())[:_TITLE_MAX]
        if clean != self.title:
            self.title = clean
            self.title_version += 1

    def set_icon_name(self, param: str) -> None:
        """Icon names are not shown; ignored."""

    def report_device_attributes(self, mode: int = 0, **kwargs: bool) -> None:
        """DA1: a VT220 with ANSI colour."""
        if mode == 0 and not kwargs.get("private"):
            self.write_process_input("\x1b[?62;22c")

    def report_secondary_attributes(self) -> None:
        """DA2: a fixed identity."""
        self.write_process_input("\x1b[>1;10;0c")

    def report_device_status(self, mode: int = 0, private: bool = False) -> None:
        """DSR 5 (status) and 6 (cursor position); numbers only."""
        if mode == 5 and not private:
            self.write_process_input("\x1b[0n")
        elif mode == 6:
            x = min(self.cursor.x, self.columns - 1) + 1
            y = self.cursor.y + 1
            if mo.DECOM in self.mode and self.margins is not None:
                y -= self.margins.top
            self.write_process_input(f"\x1b[?{y};{x};1R" if private else f"\x1b[{y};{x}R")

    def report_mode(self, mode: int, private: bool) -> None:
        """DECRQM: whether a mode is set (1), reset (2) or unknown (0)."""
        state = self._mode_state(mode, private)
        prefix = "?" if private else ""
        self.write_process_input(f"\x1b[{prefix}{mode};{state}$y")

    def _mode_state(self, mode: int, private: bool) -> int:
        if not private:
            if mode in (4, 20):
                return 1 if mode in self.mode else 2
            return 0
        flags = {
            1: self.app_cursor,
            5: self.screen_reverse,
            6: mo.DECOM in self.mode,
            7: self._autowrap,
            25: not self.cursor.hidden,
            47: self.alternate,
            1047: self.alternate,
            1049: self.alternate,
            1000: self.mouse_tracking == 1000,
            1002: self.mouse_tracking == 1002,
            1003: self.mouse_tracking == 1003,
            1004: self.focus_events,
            1006: self.mouse_sgr,
            2004: self.bracketed_paste,
            2026: self.synchronized_output,
        }
        if mode not in flags:
            return 0
        return 1 if flags[mode] else 2

    def notify(self, source: str, title: str, body: str) -> None:
        """Record a desktop notification request (OSC 9/99/777), sanitized and bounded."""

        def clean(text: str) -> str:
            return "".join(c for c in text[:2048] if c.isprintable())[:512]

        self.notifications.append((source, clean(title), clean(body)))

    # -- modes -----------------------------------------------------------------------------

    def set_mode(self, *modes: int, **kwargs: Any) -> None:
        """Set modes; the private modes a renderer or input needs are kept as attributes."""
        self._change_modes(modes, True, bool(kwargs.get("private")))

    def reset_mode(self, *modes: int, **kwargs: Any) -> None:
        """Reset modes; see :meth:`set_mode`."""
        self._change_modes(modes, False, bool(kwargs.get("private")))

    def _change_modes(self, modes: tuple[int, ...], on: bool, private: bool) -> None:
        rest: list[int] = []
        if private:
            for m in modes:
                if not self._private_mode(m, on):
                    rest.append(m)
        else:
            # Only the ANSI modes pyte means (and the shifted ones its restore_cursor passes):
            # a bare CSI 96 h must not reach pyte's DECCOLM resize.
            rest = [m for m in modes if m in _ANSI_MODES]
        if rest:
            if on:
                super().set_mode(*rest, private=private)
            else:
                super().reset_mode(*rest, private=private)
        self._sync_flags()

    def _private_mode(self, m: int, on: bool) -> bool:
        """Apply a private mode we handle ourselves; False hands it to pyte."""
        if m in _MOUSE_MODES:
            # One mouse mode at a time; resetting any of them turns reporting off (xterm).
            self.mouse_tracking = m if on else 0
        elif m == 1006:
            self.mouse_sgr = on
        elif m == 1004:
            self.focus_events = on
        elif m == 2004:
            self.bracketed_paste = on
        elif m == 2026:
            self.synchronized_output = on
        elif m == 1:
            self.app_cursor = on
        elif m == 66:
            self.app_keypad = on
        elif m == 5:
            if on != self.screen_reverse:
                self.screen_reverse = on
                self.dirty.update(range(self.lines))
        elif m == 1049:
            if on:
                self.save_cursor()
                self._enter_alternate(clear=True)
            else:
                self._leave_alternate(clear=False)
                self.restore_cursor()
        elif m == 1047:
            if on:
                self._enter_alternate(clear=False)
            else:
                self._leave_alternate(clear=True)
        elif m == 47:
            if on:
                self._enter_alternate(clear=False)
            else:
                self._leave_alternate(clear=False)
        elif m == 1048:
            if on:
                self.save_cursor()
            else:
                self.restore_cursor()
        elif m in (3, 12, 1005, 1015):
            pass  # 132 columns, blinking cursor, other mouse encodings: not honoured.
        else:
            return False
        return True

    def _enter_alternate(self, clear: bool) -> None:
        if not self.alternate:
            main = (self._chars, self._styles)
            if self._other is None:
                self._chars, self._styles = self._blank_rows()
            else:
                self._chars, self._styles = self._other
            self._other = main
            self.alternate = True
        if clear:
            self._chars, self._styles = self._blank_rows()
        self.dirty.update(range(self.lines))

    def _leave_alternate(self, clear: bool) -> None:
        if not self.alternate:
            return
        alt = self._blank_rows() if clear else (self._chars, self._styles)
        assert self._other is not None
        self._chars, self._styles = self._other
        self._other = alt
        self.alternate = False
        self.dirty.update(range(self.lines))

    def define_charset(self, code: str, mode: str) -> None:
        """Honour ``ESC ( 0`` (DEC line drawing) and ``ESC ( B`` for G0, as xterm does in UTF-8."""
        if mode == "(" and code in ("0", "B"):
            self.g0_charset = pyte.charsets.MAPS[code]
            self._translate = None if code == "B" else self.g0_charset

    def save_cursor(self) -> None:
        """DECSC, with the stack bounded."""
        super().save_cursor()
        del self.savepoints[:-_MAX_SAVEPOINTS]

    def restore_cursor(self) -> None:
        """DECRC; the charset translation follows the restored G0. Visibility is not part of
        the saved state (xterm), so a program that hid the cursor around 1049 cannot leave it
        hidden by restoring."""
        hidden = self.cursor.hidden
        super().restore_cursor()
        self.cursor.hidden = hidden
        self._translate = None if self.g0_charset is pyte.charsets.LAT1_MAP else self.g0_charset
        self._sync_flags()

    # -- SGR -------------------------------------------------------------------------------

    def select_graphic_rendition(self, *attrs: int) -> None:
        """pyte's entry point; c3desk's stream calls :meth:`sgr` with the raw parameters."""
        self.sgr(";".join(str(a) for a in attrs))

    def sgr(self, params: str) -> None:
        """Apply an SGR parameter string (``;`` and ``:`` forms), with a transition cache."""
        current: Style = self.cursor.attrs  # type: ignore[assignment, unused-ignore]
        hit = self._sgr_cache.get((params, id(current)))
        self.cursor.attrs = hit[1] if hit is not None else self._sgr_miss(params, current)  # type: ignore[assignment, unused-ignore]

    def _sgr_miss(self, params: str, current: Style) -> Style:
        cache = self._sgr_cache
        if len(cache) >= _SGR_CACHE_SIZE:
            cache.clear()
        rgb = _RGB_SGR.fullmatch(params)
        if rgb is not None and max(len(rgb[2]), len(rgb[3]), len(rgb[4])) <= 3:
            # A lone truecolour change, the commonest miss: skip the general parser.
            color = (int(rgb[2]), int(rgb[3]), int(rgb[4]))
            if max(color) > 255:
                new = current
            elif rgb[1] == "3":
                new = tuple.__new__(Style, (color, *current[1:]))
            else:
                new = tuple.__new__(Style, (current[0], color, *current[2:]))
        else:
            new = apply_sgr(current, params)
        # Equal styles share one object (in every model), so the transition cache (keyed by
        # identity) settles and renderers can key their caches by identity.
        new = intern_style(new)
        cache[(params, id(current))] = (current, new)
        return new

    # -- drawing ---------------------------------------------------------------------------

    def release_caches(self) -> None:
        """Empty the layout and SGR caches (see :meth:`TerminalModel.release_caches`)."""
        self._layout_cache.clear()
        self._sgr_cache.clear()

    def _layout(self, data: str) -> tuple[str, list[str], int]:
        """Split a run into cells: wide characters get a ``""`` stub, zero-width characters join
        the previous cell. Returns (zero-width prefix, cells, cell count)."""
        cached = self._layout_cache.get(data)
        if cached is not None:
            return cached
        if len(self._layout_cache) >= _LAYOUT_CACHE_SIZE:
            self._layout_cache.clear()
        lead: list[str] = []
        cells: list[str] = []
        for ch in data:
            w = wcwidth(ch)
            if w == 1:
                cells.append(ch)
            elif w == 2:
                cells.append(ch)
                cells.append("")
            elif w == 0:
                if cells:
                    j = len(cells) - 1
                    if cells[j] == "" and j:
                        j -= 1
                    cells[j] = _attach(cells[j], ch)
                elif len(lead) < CELL_TEXT_MAX:
                    lead.append(ch)
            # Negative width (unprintable) is dropped; the rest of the run is kept.
        result = ("".join(lead), cells, len(cells))
        if len(data) <= _LAYOUT_CACHE_RUN:
            self._layout_cache[data] = result
        return result

    def draw(self, data: str) -> None:
        """Write a run of printable text at the cursor, wrapping like pyte (plus wide-char wrap)."""
        if self._translate is not None:
            data = data.translate(self._translate)
        cells: str | list[str]
        if data.isascii():
            cells = data
            n = len(data)
        else:
            lead, cells, n = self._layout(data)
            if lead:
                self._combine(lead)
            if not n:
                return
        self._put(cells, None)

    def draw_styled(self, run: str) -> None:
        """Draw printable text interleaved with plain SGR sequences (``CSI [0-9;:]* m``) as one
        write: the common shape of highlighted output, one slice per row instead of a call per
        word. The tokenizer guarantees every ``CSI`` in ``run`` is such an SGR."""
        pieces = run.split("\x1b[")
        cursor = self.cursor
        style: Style = cursor.attrs  # type: ignore[assignment, unused-ignore]
        get = self._sgr_cache.get
        miss = self._sgr_miss
        first = pieces[0]
        if self._translate is None and run.isascii():
            # Every character is one cell: the cells are the texts joined.
            texts = [first]
            styles = [style] * len(first)
            for piece in islice(pieces, 1, None):
                params, _, text = piece.partition("m")
                if params == "0" or not params:
                    style = DEFAULT_STYLE  # a reset, the commonest SGR, needs no lookup
                else:
                    hit = get((params, id(style)))
                    style = hit[1] if hit is not None else miss(params, style)
                if text:
                    texts.append(text)
                    styles += [style] * len(text)
            cursor.attrs = style  # type: ignore[assignment, unused-ignore]
            self._put("".join(texts), styles)
            return
        cells: list[str] = []
        styles = []
        for k, piece in enumerate(pieces):
            if k:
                params, _, text = piece.partition("m")
                hit = get((params, id(style)))
                style = hit[1] if hit is not None else miss(params, style)
            else:
                text = first
            if not text:
                continue
            if self._translate is not None:
                text = text.translate(self._translate)
            if text.isascii():
                cells += text
                styles += [style] * len(text)
                continue
            lead, more, n = self._layout(text)
            if lead:
                if cells:
                    j = len(cells) - 1
                    if cells[j] == "" and j:
                        j -= 1
                    cells[j] = _attach(cells[j], lead)
                else:
                    self._combine(lead)
            cells += more
            styles += [style] * n
        cursor.attrs = style  # type: ignore[assignment, unused-ignore]
        self._put(cells, styles)

    def _put(self, cells: str | list[str], styles: list[Style] | None) -> None:
        """Write cells at the cursor with their own styles, or (``None``) the cursor's style."""
        n = len(cells)
        if not n:
            return
        cursor = self.cursor
        x = cursor.x
        end = x + n
        cols = self.columns
        if end <= cols and not self._irm:
            y = cursor.y
            chars = self._chars[y]
            if chars[x] == "" and x:
                chars[x - 1] = " "
            chars[x:end] = cells
            if styles is None:
                self._styles[y][x:end] = [cursor.attrs] * n  # type: ignore[list-item, unused-ignore]
            else:
                self._styles[y][x:end] = styles
            if end < cols and chars[end] == "":
                chars[end] = " "
            cursor.x = end
            self.dirty.add(y)
            return
        self._draw_wrapping(cells, n, styles)

    def _draw_wrapping(
        self, cells: str | list[str], n: int, run_styles: list[Style] | None
    ) -> None:
        cursor = self.cursor
        cols = self.columns
        i = 0
        while i < n:
            x = cursor.x
            if x >= cols:
                if not self._autowrap:
                    self._draw_at_margin(cells, n, run_styles)
                    return
                self.dirty.add(cursor.y)
                self._mark_wrapped(cursor.y)
                cursor.x = 0
                self.linefeed()
                x = 0
            left = n - i
            take = left if left <= cols - x else cols - x
            wrap_early = False
            if take < left and cells[i + take] == "":
                # A wide character straddles the right edge: it moves whole to the next line.
                take -= 1
                wrap_early = True
                if take == 0 and x == 0:
                    i += 2  # one column cannot hold it at all
                    continue
            y = cursor.y
            if self._irm:
                self.insert_characters(take)
            chars = self._chars[y]
            styles = self._styles[y]
            if chars[x] == "" and x:
                chars[x - 1] = " "
            end = x + take
            chars[x:end] = cells[i : i + take]
            styles[x:end] = [self.style] * take if run_styles is None else run_styles[i : i + take]
            if end < cols and chars[end] == "":
                chars[end] = " "
            if wrap_early:
                chars[end] = " "
                styles[end] = blank_style(self.style)
                end = cols
            cursor.x = end
            self.dirty.add(y)
            i += take

    def _mark_wrapped(self, y: int) -> None:
        """Row ``y`` soft-wraps: its text continues on the next line."""
        chars = self._chars[y]
        if type(chars) is not _WrappedRow:
            self._chars[y] = _WrappedRow(chars)

    def _unwrap(self, y: int) -> None:
        chars = self._chars[y]
        if type(chars) is _WrappedRow:
            self._chars[y] = list(chars)

    def row_wrapped(self, y: int) -> bool:
        """Whether visible row ``y`` soft-wraps into the next one."""
        return type(self._chars[y]) is _WrappedRow

    def _draw_at_margin(
        self, cells: str | list[str], n: int, run_styles: list[Style] | None
    ) -> None:
        """Without autowrap the last glyph of the overflow lands in the last column(s)."""
        cursor = self.cursor
        cols = self.columns
        chars = self._chars[cursor.y]
        styles = self._styles[cursor.y]
        if cells[n - 1] == "" and n >= 2 and cols >= 2:
            x = cols - 2
            glyph: list[str] = [cells[n - 2], ""]
        else:
            x = cols - 1
            glyph = [cells[n - 1]] if cells[n - 1] else [" "]
        if chars[x] == "" and x:
            chars[x - 1] = " "
        chars[x:cols] = glyph
        style = self.style if run_styles is None else run_styles[n - 1]
        styles[x:cols] = [style] * len(glyph)
        cursor.x = cols
        self.dirty.add(cursor.y)

    def _combine(self, marks: str) -> None:
        """Attach zero-width characters to the cell before the cursor (pyte's rule)."""
        cursor = self.cursor
        if cursor.x >= self.columns and self._autowrap:
            self.dirty.add(cursor.y)
            self._mark_wrapped(cursor.y)
            cursor.x = 0
            self.linefeed()
        x, y = cursor.x, cursor.y
        if x:
            row = self._chars[y]
        elif y:
            row = self._chars[y - 1]
            x = self.columns
            y -= 1
        else:
            return
        j = x - 1
        if row[j] == "" and j:
            j -= 1
        row[j] = _attach(row[j], marks)
        self.dirty.add(y)

    def repeat(self, count: int = 0) -> None:
        """REP: repeat the character before the cursor ``count`` times (bounded by the screen)."""
        x, y = self.cursor.x, self.cursor.y
        if not x:
            return
        row = self._chars[y]
        j = x - 1
        if row[j] == "" and j:
            j -= 1
        glyph = row[j]
        if not glyph or glyph == "":
            return
        count = min(count or 1, self.columns * self.lines)
        self.draw(glyph * count if len(glyph) == 1 else "".join([glyph] * count))

    # -- scrolling -------------------------------------------------------------------------

    def _region(self) -> tuple[int, int]:
        margins = self.margins
        if margins is None:
            return 0, self.lines - 1
        return margins.top, margins.bottom

    def _push_history(self, chars: list[str], styles: list[Style]) -> None:
        """Keep a row that left the screen; ``chars`` and ``styles`` are no longer on screen."""
        self.lines_pushed += 1
        self.history_wrapped.append(type(chars) is _WrappedRow)
        text = "".join(chars)
        n = len(chars)
        cells: str | tuple[str, ...] = (
            text if len(text) == n and (text.isascii() or "" not in chars) else tuple(chars)
        )
        first = styles[0]
        # Identity probes first: a full count over a multi-coloured row costs more than the row.
        if first is styles[-1] and first is styles[n >> 1] and styles.count(first) == n:
            self.history.append((cells, first))
        else:
            self.history.append((cells, tuple(styles)))

    def _scroll_up(self, top: int, bottom: int, count: int) -> None:
        count = min(count, bottom - top + 1)
        rows_c, rows_s = self._chars, self._styles
        keep = top == 0 and not self.alternate and self._history_size > 0
        cols = self.columns
        for _ in range(count):
            old_c = rows_c.pop(top)
            old_s = rows_s.pop(top)
            if keep:
                self._push_history(old_c, old_s)
            rows_c.insert(bottom, [" "] * cols)
            rows_s.insert(bottom, [DEFAULT_STYLE] * cols)
        if top == 0 and bottom == self.lines - 1:
            self.dirty |= self._all_rows
        else:
            self.dirty.update(range(top, bottom + 1))

    def _scroll_down(self, top: int, bottom: int, count: int) -> None:
        count = min(count, bottom - top + 1)
        rows_c, rows_s = self._chars, self._styles
        cols = self.columns
        for _ in range(count):
            rows_c.pop(bottom)
            rows_s.pop(bottom)
            rows_c.insert(top, [" "] * cols)
            rows_s.insert(top, [DEFAULT_STYLE] * cols)
        self.dirty.update(range(top, bottom + 1))

    def index(self) -> None:
        """IND/LF: at the bottom margin scroll the region; lines leaving the top of the screen
        go to scrollback."""
        cursor = self.cursor
        margins = self.margins
        if margins is None:
            y = cursor.y
            if y != self.lines - 1:
                cursor.y = y + 1
                return
            if self.alternate or not self._history_size:
                self._scroll_up(0, y, 1)
                return
            # The common case, inline: the whole screen scrolls one line into scrollback.
            rows_c, rows_s = self._chars, self._styles
            old_c = rows_c.pop(0)
            old_s = rows_s.pop(0)
            cols = self.columns
            rows_c.append([" "] * cols)
            rows_s.append([DEFAULT_STYLE] * cols)
            self._push_history(old_c, old_s)
            dirty = self.dirty
            if len(dirty) < y + 1:
                dirty |= self._all_rows
            return
        top, bottom = margins
        if cursor.y == bottom:
            self._scroll_up(top, bottom, 1)
        else:
            cursor.y = min(cursor.y + 1, bottom)

    def linefeed(self) -> None:
        """LF (pyte semantics: CR too only under LNM)."""
        self.index()
        if mo.LNM in self.mode:
            self.cursor.x = 0

    def crlf(self) -> None:
        """CR followed by LF, as one step."""
        self.cursor.x = 0
        self.index()

    def next_line(self) -> None:
        """NEL: CR and index."""
        self.crlf()

    def reverse_index(self) -> None:
        """RI: at the top margin scroll the region down."""
        cursor = self.cursor
        top, bottom = self._region()
        if cursor.y == top:
            self._scroll_down(top, bottom, 1)
        else:
            cursor.y = max(cursor.y - 1, top)

    def scroll_up(self, count: int = 0) -> None:
        """SU (``CSI n S``): scroll the region up, cursor unmoved."""
        top, bottom = self._region()
        self._scroll_up(top, bottom, count or 1)

    def scroll_down(self, count: int = 0) -> None:
        """SD (``CSI n T``): scroll the region down, cursor unmoved."""
        top, bottom = self._region()
        self._scroll_down(top, bottom, count or 1)

    def insert_lines(self, count: int | None = None) -> None:
        """IL, as pyte: inside the margins only, then carriage return."""
        top, bottom = self._region()
        y = self.cursor.y
        if top <= y <= bottom:
            self._scroll_down(y, bottom, count or 1)
            self.dirty.update(range(y, self.lines))
            self.cursor.x = 0

    def delete_lines(self, count: int | None = None) -> None:
        """DL, as pyte: inside the margins only, then carriage return."""
        top, bottom = self._region()
        y = self.cursor.y
        if top <= y <= bottom:
            n = min(count or 1, bottom - y + 1)
            rows_c, rows_s = self._chars, self._styles
            cols = self.columns
            for _ in range(n):
                rows_c.pop(y)
                rows_s.pop(y)
                rows_c.insert(bottom, [" "] * cols)
                rows_s.insert(bottom, [DEFAULT_STYLE] * cols)
            self.dirty.update(range(y, self.lines))
            self.cursor.x = 0

    # -- erasing ---------------------------------------------------------------------------

    def _split_wide(self, chars: list[str], x: int) -> None:
        """Blank both halves of a wide character cut by a boundary at column ``x``."""
        if 0 < x < len(chars) and chars[x] == "":
            chars[x - 1] = " "
            chars[x] = " "

    def _erase(self, y: int, start: int, stop: int) -> None:
        cols = self.columns
        stop = min(stop, cols)
        if start >= stop:
            return
        chars = self._chars[y]
        self._split_wide(chars, start)
        self._split_wide(chars, stop)
        style = blank_style(self.style)
        chars[start:stop] = [" "] * (stop - start)
        self._styles[y][start:stop] = [style] * (stop - start)
        if start == 0 and stop == cols:
            self._unwrap(y)
        self.dirty.add(y)

    def erase_characters(self, count: int | None = None) -> None:
        """ECH."""
        x = self.cursor.x
        self._erase(self.cursor.y, x, x + min(count or 1, self.columns))

    def erase_in_line(self, how: int = 0, private: bool = False) -> None:
        """EL 0/1/2."""
        x, y = self.cursor.x, self.cursor.y
        if how == 0:
            self._erase(y, x, self.columns)
        elif how == 1:
            self._erase(y, 0, x + 1)
        elif how == 2:
            self._erase(y, 0, self.columns)

    def erase_in_display(self, how: int = 0, *args: Any, **kwargs: Any) -> None:
        """ED 0/1/2; ED 3 clears the scrollback only (xterm), not the screen."""
        y = self.cursor.y
        if how == 0:
            rows = range(y + 1, self.lines)
        elif how == 1:
            rows = range(y)
        elif how == 2:
            rows = range(self.lines)
        elif how == 3:
            self.history.clear()
            self.history_wrapped.clear()
            return
        else:
            return
        cols = self.columns
        style = blank_style(self.style)
        for r in rows:
            self._chars[r] = [" "] * cols
            self._styles[r] = [style] * cols
        self.dirty.update(rows)
        if how in (0, 1):
            self.erase_in_line(how)

    def insert_characters(self, count: int | None = None) -> None:
        """ICH: shift the rest of the line right."""
        x, y = self.cursor.x, self.cursor.y
        cols = self.columns
        if x >= cols:
            return
        n = min(count or 1, cols - x)
        chars, styles = self._chars[y], self._styles[y]
        self._split_wide(chars, x)
        chars[x:x] = [" "] * n
        styles[x:x] = [blank_style(self.style)] * n
        if chars[cols] == "":
            chars[cols - 1] = " "
        del chars[cols:]
        del styles[cols:]
        self.dirty.add(y)

    def delete_characters(self, count: int | None = None) -> None:
        """DCH: shift the rest of the line left."""
        x, y = self.cursor.x, self.cursor.y
        cols = self.columns
        if x >= cols:
            return
        n = min(count or 1, cols - x)
        chars, styles = self._chars[y], self._styles[y]
        self._split_wide(chars, x)
        self._split_wide(chars, x + n)
        del chars[x : x + n]
        del styles[x : x + n]
        chars.extend([" "] * n)
        styles.extend([blank_style(self.style)] * n)
        self.dirty.add(y)

    def alignment_display(self) -> None:
        """DECALN: fill the screen with E."""
        for y in range(self.lines):
            self._chars[y] = ["E"] * self.columns
            self._styles[y] = [DEFAULT_STYLE] * self.columns
        self.dirty.update(range(self.lines))

    # -- tabs ------------------------------------------------------------------------------

    def tab(self) -> None:
        """HT: next tab stop, or the last column (pyte's rule)."""
        x = self.cursor.x
        stops = [s for s in self.tabstops if s > x]
        self.cursor.x = min(stops) if stops else self.columns - 1

    def back_tab(self, count: int = 0) -> None:
        """CBT: previous tab stop(s), or column 0."""
        for _ in range(min(count or 1, self.columns)):
            x = self.cursor.x
            stops = [s for s in self.tabstops if s < x]
            self.cursor.x = max(stops) if stops else 0

    def forward_tab(self, count: int = 0) -> None:
        """CHT: next tab stop(s)."""
        for _ in range(min(count or 1, self.columns)):
            self.tab()

    # -- size ------------------------------------------------------------------------------

    def resize(self, lines: int | None = None, columns: int | None = None) -> None:
        """Resize; rows leaving the top go to scrollback (main screen) so the cursor row stays."""
        lines = max(1, lines or self.lines)
        columns = max(1, columns or self.columns)
        if lines == self.lines and columns == self.columns:
            return
        old_lines = self.lines
        buffers = [(self._chars, self._styles, not self.alternate)]
        if self._other is not None:
            buffers.append((self._other[0], self._other[1], self.alternate))
        shift = 0
        if lines < old_lines:
            shift = max(0, self.cursor.y - (lines - 1))
        for chars_rows, style_rows, is_main in buffers:
            if lines < old_lines:
                for _ in range(shift):
                    c, s = chars_rows.pop(0), style_rows.pop(0)
                    if is_main and self._history_size:
                        self._push_history(c, s)
                del chars_rows[lines:]
                del style_rows[lines:]
            while len(chars_rows) < lines:
                chars_rows.append([" "] * self.columns)
                style_rows.append([DEFAULT_STYLE] * self.columns)
            for c, s in zip(chars_rows, style_rows, strict=True):
                if columns < self.columns:
                    if c[columns] == "":
                        c[columns - 1] = " "
                    del c[columns:]
                    del s[columns:]
                else:
                    c.extend([" "] * (columns - self.columns))
                    s.extend([DEFAULT_STYLE] * (columns - self.columns))
        old_columns = self.columns
        self.lines, self.columns = lines, columns
        self.cursor.y = max(0, min(self.cursor.y - shift, lines - 1))
        self.cursor.x = min(self.cursor.x, columns - 1)
        if columns > old_columns:
            self.tabstops.update(range(max(8, -(-old_columns // 8) * 8), columns, 8))
        self.tabstops = {t for t in self.tabstops if t < columns}
        self.margins = None
        self._sync_flags()
        self.dirty.clear()  # no stale rows past the new bottom
        self.dirty.update(range(lines))


class _NoBuffer(dict[int, Any]):
    """Placeholder for pyte's sparse buffer, which this screen does not keep."""
