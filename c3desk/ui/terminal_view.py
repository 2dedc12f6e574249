"""A QPainter view of a :class:`~c3desk.terminal.TerminalModel`: paints, types, selects, scrolls.

Painting has two stages. A frame tick (coalesced after output: a short debounce with a cap, at
most the view's frame rate) renders only the changed rows into a frame image; ``paintEvent``
blits that image and draws the cursor, the selection and the badges over it. While the program
is inside a synchronized-output block (mode 2026) the tick leaves the frame image alone, so the
last complete frame stays on screen (for at most :attr:`TerminalView.sync_timeout`).

Under load a shared :class:`FrameGovernor` lowers the views' frame rates, unfocused tiles first:
data is never throttled, only painting.

The widget composes its parts: :mod:`c3desk.ui.terminal_paint` (fonts, the frame image, what
is drawn over it), :mod:`c3desk.ui.terminal_input` (keys it keeps, pastes, mouse reports),
:mod:`c3desk.ui.selection` (what the mouse selects and the text it copies) and
:mod:`c3desk.ui.frame_governor`. It keeps the scheduling of frames, scrollback and geometry.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import cast

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QClipboard,
    QFocusEvent,
    QFont,
    QGuiApplication,
    QHideEvent,
    QImage,
    QInputMethodEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QRegion,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from c3desk.terminal import Style, TerminalModel
from c3desk.ui.frame_governor import (
    MAX_FPS,
    MIN_FPS,
    FrameGovernor,
    frame_governor,
    last_focused,
    note_focus,
)
from c3desk.ui.keymap import key_to_bytes
from c3desk.ui.palette import DARK, TerminalPalette, palette_for, resolve_style
from c3desk.ui.selection import MouseSelection, SelectionMode, line_cells, line_wrapped
from c3desk.ui.terminal_input import (
    PASTE_CHUNK,
    KeyCommand,
    MouseReporter,
    PasteQueue,
    double_click_interval,
    key_command,
    paste_bytes,
    sanitize_paste,
    takes_shortcut,
)
from c3desk.ui.terminal_paint import (
    BLOCK,
    FALLBACK_FAMILIES,
    PADDING,
    Colors,
    CursorSnap,
    FrameImage,
    cell_font,
    cursor_rect,
    paint_cursor,
    paint_marker,
    paint_preedit,
    paint_selection,
    rows_region,
    scaled,
    snap_cursor,
)

DEBOUNCE = 0.010  # after output, wait this long for more before painting
CAP = 0.040  # but never more than this after the first unpainted output
TYPING_WINDOW = 0.15  # output this soon after a key press is an echo: paint it at once
RESIZE_DEBOUNCE_MS = 60
BELL_FLASH_MS = 120
BELL_MIN_INTERVAL = 1.0


def _history_deque(model: TerminalModel) -> deque[object] | None:
    history = getattr(getattr(model, "screen", None), "history", None)
    return history if isinstance(history, deque) else None


class TerminalView(QWidget):
    """A terminal: paints a :class:`TerminalModel`, sends keys, pastes and mouse reports.

    ``send(data)`` writes to the session's PTY; ``on_resize(cols, rows)`` resizes it (called
    debounced). Call :meth:`model_changed` after output was fed to the model.
    """

    title_changed = Signal(str)
    bell_rang = Signal()
    grid_resized = Signal(int, int)
    scrolled = Signal(int)  # lines scrolled back; 0 = following the output

    sync_timeout = 0.150

    def __init__(
        self,
        model: TerminalModel,
        send: Callable[[bytes], None],
        on_resize: Callable[[int, int], None] | None = None,
        parent: QWidget | None = None,
        *,
        font_family: str = "DejaVu Sans Mono",
        font_size: float = 10.5,
        theme: str = "dark",
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._send = send
        self._on_resize = on_resize
        self._palette: TerminalPalette = palette_for(theme)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setCursor(Qt.CursorShape.IBeamCursor)

        self._font = cell_font(font_family, font_size)
        self._colors = Colors()
        self._frame = FrameImage()
        self._full = True

        # Frame scheduling.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._pending_since: float | None = None
        self._sync_since: float | None = None
        self._last_frame = 0.0
        self._last_input = -1.0
        self._fps = MAX_FPS
        self._high_priority = False
        self.frames = 0  # frames rendered, for tests and benchmarks
        self._show_now = False  # a timer's frame of the focused tile is painted at once

        # State captured at the last frame (painted until the next one).
        self._cursor = CursorSnap(0, 0, False, BLOCK, " ", Style(), False)
        self._title = ""
        self._bells = model.bell_count
        self._last_flash = -math.inf
        self._flash_until = 0.0
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.timeout.connect(self.update)

        # Scrollback.
        self._scroll = 0
        self._wheel_accum = 0.0
        self._hist_len = model.scrollback_len
        self._hist_last: object | None = self._newest_history()
        self._hist_pushed = int(getattr(model, "lines_pushed", 0))

        # Selection, mouse and input method.
        self._selection = MouseSelection(self._line_cells, self._line_wrapped)
        self._mouse = MouseReporter(self._send)
        self._preedit = ""

        # Resize and paste.
        self._laid_out = False
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._first_fit)
        self._resize_timer = QTimer(self)
        self._resize_timer.setSingleShot(True)
        self._resize_timer.setInterval(RESIZE_DEBOUNCE_MS)
        self._resize_timer.timeout.connect(self._notify_resize)
        self._settle_timer = QTimer(self)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(RESIZE_DEBOUNCE_MS)
        self._settle_timer.timeout.connect(self._settled)
        self._paste = PasteQueue(self._send, self)

    # -- public API ----------------------------------------------------------------------------

    @property
    def model(self) -> TerminalModel:
        return self._model

    @property
    def cell_size(self) -> tuple[int, int]:
        """Width and height of a cell in device-independent pixels."""
        return self._font.cw, self._font.ch

    @property
    def cells_drawn(self) -> int:
        """Cells made so far by the atlas this view draws from (shared by views that draw
        alike): a measure of what painting had to draw rather than copy."""
        atlas = self._frame.atlas
        return atlas.cells_drawn if atlas is not None else 0

    @property
    def rows_painted(self) -> int:
        """Rows composed from the cell atlas so far (tests and benchmarks)."""
        return self._frame.rows_painted

    @property
    def rows_unchanged(self) -> int:
        """Dirty rows whose content was already in the frame image (tests and benchmarks)."""
        return self._frame.rows_unchanged

    @property
    def scroll_offset(self) -> int:
        """Lines scrolled back into history; 0 when following the output."""
        return self._scroll

    @property
    def frame_rate(self) -> float:
        """The rate this view paints at now: its budget, lowered by the governor."""
        cap = frame_governor().cap(self.is_focused_tile)
        return max(MIN_FPS, min(self._fps, cap))

    @property
    def is_focused_tile(self) -> bool:
        """Painted first under load: has (or last had) the focus, or was given high priority."""
        if self._high_priority or self.hasFocus():
            return True
        return last_focused() is self

    def model_changed(self) -> None:
        """New output was fed to the model: schedule a (coalesced) repaint."""
        now = time.monotonic()
        if self._pending_since is None:
            self._pending_since = now
        self._schedule(now)

    def flush(self) -> None:
        """Render pending changes now (still holding a synchronized-output block)."""
        self._timer.stop()
        self._tick(force=True)

    def set_model(self, model: TerminalModel) -> None:
        """Show another model (a continued session); it is resized to this view."""
        self._model = model
        self._scroll = 0
        self._selection.clear()
        self._bells = model.bell_count
        self._hist_len = model.scrollback_len
        self._hist_last = self._newest_history()
        self._hist_pushed = int(getattr(model, "lines_pushed", 0))
        self._title = ""
        self._full = True
        self._fit_model_to_widget(force_notify=True)
        self.model_changed()

    def set_theme(self, theme: str) -> None:
        """Use the "dark" or "light" terminal palette."""
        self._palette = palette_for(theme)
        self._full = True
        self.flush()
        self.update()

    @property
    def palette_colors(self) -> TerminalPalette:
        return self._palette

    def set_font(self, family: str, size: float) -> None:
        """Change the font; the grid size follows the widget."""
        self._font = cell_font(family, size)
        self._full = True
        self._fit_model_to_widget()
        self.updateGeometry()
        self.flush()
        self.update()

    def set_frame_budget(self, fps: float) -> None:
        """Paint at most ``fps`` frames per second (the grid lowers it for small tiles)."""
        self._fps = max(MIN_FPS, min(MAX_FPS, float(fps)))

    def set_priority(self, high: bool) -> None:
        """High for the focused or maximised tile; low ones are slowed first under load."""
        self._high_priority = high

    def scroll_to(self, lines_back: int) -> None:
        """Scroll to ``lines_back`` lines into history (0: follow the output)."""
        # Lines pushed since the last frame are counted now, measured against today's history:
        # the next frame would otherwise add them to this offset too (a search match opened
        # in a tile just made showed lines far above its line).
        self._track_history()
        value = max(0, min(lines_back, self._model.scrollback_len))
        if value != self._scroll:
            self._scroll = value
            self._full = True
            self.scrolled.emit(value)
            self.flush()
            self.update()

    def scroll_lines(self, delta: int) -> None:
        """Scroll back (positive) or forward (negative) by ``delta`` lines."""
        self._track_history()  # from where the view is now, output not yet drawn counted
        self.scroll_to(self._scroll + delta)

    def selected_text(self) -> str:
        return self._selection.text()

    def select(self, start: tuple[int, int], end: tuple[int, int], mode: str = "char") -> None:
        """Select from ``start`` to ``end`` given as (line, col) over scrollback then screen."""
        self._selection.select(start, end, SelectionMode(mode))
        self.update()

    def clear_selection(self) -> None:
        if self._selection.clear():
            self.update()

    def copy(self) -> None:
        """Copy the selection to the clipboard."""
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text, QClipboard.Mode.Clipboard)

    def paste(self, text: str) -> None:
        """Send pasted text: sanitised, bracketed when the program asked, in chunks."""
        data = paste_bytes(text, bool(self._model.modes.bracketed_paste))
        if not data:
            return
        self._scroll_to_bottom()
        self._paste.put(data)

    @property
    def paste_pending(self) -> int:
        """Bytes of paste not yet sent."""
        return self._paste.pending

    @property
    def preedit(self) -> str:
        """The input method's text being composed (drawn at the cursor, not yet sent)."""
        return self._preedit

    @property
    def flashing(self) -> bool:
        return time.monotonic() < self._flash_until

    def grid_size_for(self, width: int, height: int) -> tuple[int, int]:
        """Columns and rows that fit in a widget of this size."""
        cols = max(2, (width - 2 * PADDING) // self._font.cw)
        rows = max(1, (height - 2 * PADDING) // self._font.ch)
        return cols, rows

    def size_for_grid(self, cols: int, rows: int) -> tuple[int, int]:
        """Widget size for a grid of ``cols`` x ``rows`` cells."""
        return cols * self._font.cw + 2 * PADDING, rows * self._font.ch + 2 * PADDING

    def render_to_image(self) -> QImage:
        """The current frame with its overlays, as an image (tests, screenshots)."""
        image = QImage(self.size(), QImage.Format.Format_RGB32)
        self.render(image)
        return image

    # The four font variants and the baseline (benchmarks/render.py draws its reference
    # frames with the view's own fonts).
    @property
    def _fonts(self) -> list[QFont]:
        return self._font.fonts

    @property
    def _ascent(self) -> int:
        return self._font.ascent

    # -- frame scheduling ----------------------------------------------------------------------

    def _schedule(self, now: float) -> None:
        if now - self._last_input < TYPING_WINDOW:
            due = now  # an echo of typing: show it at once
        else:
            since = self._pending_since if self._pending_since is not None else now
            due = min(now + DEBOUNCE, since + CAP)
            due = max(due, self._last_frame + 1.0 / self.frame_rate)
        self._timer.start(max(0, round((due - now) * 1000)))

    def _tick(self, force: bool = False) -> None:
        now = time.monotonic()
        model = self._model
        if model.modes.synchronized_output:
            if self._sync_since is None:
                self._sync_since = now
            held = now - self._sync_since
            if held < self.sync_timeout:
                # Keep the last complete frame; look again when the hold times out.
                self._timer.start(max(1, round((self.sync_timeout - held) * 1000)))
                return
        self._sync_since = None
        if not force and not self.isVisible() and not self._full and self._frame.rows:
            # Nothing is shown: leave the dirty rows to the model until the view is shown.
            self._track_history()
            self._pending_since = None
            return
        if not force:
            waited = now - self._pending_since if self._pending_since is not None else 0.0
            delay = frame_governor().pace(self.is_focused_tile, waited)
            if delay > 0:
                # Others just painted a lot: let the loop breathe (parse, read) first.
                self._timer.start(max(1, round(delay * 1000)))
                return
        self._show_now = not force
        try:
            self._render_frame(now)
        finally:
            self._show_now = False

    # -- rendering -----------------------------------------------------------------------------

    def _newest_history(self) -> object | None:
        history = _history_deque(self._model)
        return history[-1] if history else None

    def _track_history(self) -> int:
        """Lines that went into scrollback since the last frame; keeps the scrolled-back view
        and the selection on the same text."""
        model = self._model
        new_len = model.scrollback_len
        total = getattr(model, "lines_pushed", None)
        if isinstance(total, int):
            # The model counts the lines it ever pushed: no search by identity.
            pushed = total - self._hist_pushed
            self._hist_pushed = total
        else:
            pushed = self._pushed_by_identity(new_len)
        history = _history_deque(model)
        dropped = pushed - (new_len - self._hist_len)
        self._hist_len = new_len
        self._hist_last = history[-1] if history else None
        if pushed and self._scroll:
            self._scroll = min(new_len, self._scroll + pushed)
            self._full = True
        if dropped > 0 and self._selection.selection is not None:
            self._selection.shift(-dropped)
            self.update()
        return pushed

    def _pushed_by_identity(self, new_len: int) -> int:
        """For models without ``lines_pushed``: find the previous newest line from the end."""
        history = _history_deque(self._model)
        if history is None:
            return max(0, new_len - self._hist_len)
        if not history:
            return 0
        if self._hist_last is None:
            return new_len
        if history[-1] is self._hist_last:
            return 0
        for i in range(new_len - 1, -1, -1):
            if history[i] is self._hist_last:
                return new_len - 1 - i
        return new_len

    def _render_frame(self, now: float) -> None:
        t0 = time.perf_counter()
        model = self._model
        frame = self._frame
        self._pending_since = None
        self._last_frame = now
        if frame.ensure(
            self._font, self._palette, self.devicePixelRatioF(), model.cols, model.rows
        ):
            self._full = True
        self._track_history()
        dirty = model.take_dirty()
        rows = frame.rows
        draw: range | list[int]
        if self._full or self._scroll:
            draw = range(rows)
        else:
            draw = sorted(y for y in dirty if 0 <= y < rows)
        region = QRegion()
        if draw:
            changed = frame.draw_rows(model, self._scroll, draw)
            if self._full:
                region = QRegion(self.rect())
            else:
                region = rows_region(changed, self.width(), self._font.ch)
        self._full = False
        old = self._cursor
        self._cursor = snap_cursor(model)
        if old != self._cursor:
            region += self._cursor_rect(old)
            region += self._cursor_rect(self._cursor)
        self._check_title_and_bell(now)
        if not region.isEmpty():
            if not self._show_now or not self.is_focused_tile or not self.isVisible():
                self.update(region)
            else:
                # The tile the user looks at shows its frame now: a posted update can wait
                # behind a busy loop (and the other tiles' paints) for tens of milliseconds.
                self.repaint(region)
        self.frames += 1
        frame_governor().note_paint(time.perf_counter() - t0)

    def _cursor_rect(self, cur: CursorSnap) -> QRect:
        return cursor_rect(cur, self._scroll, self._font)

    def _check_title_and_bell(self, now: float) -> None:
        model = self._model
        title = model.title
        if title != self._title:
            self._title = title
            self.title_changed.emit(title)
        bells = model.bell_count
        if bells != self._bells:
            self._bells = bells
            self.bell_rang.emit()
            if now - self._last_flash >= BELL_MIN_INTERVAL:
                self._last_flash = now
                self._flash_until = now + BELL_FLASH_MS / 1000
                self.update()
                self._flash_timer.start(BELL_FLASH_MS)

    # -- painting ------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        frame = self._frame
        if frame.image.isNull():
            self._render_frame(time.monotonic())
        p = QPainter(self)
        pal = self._palette
        colors = self._colors
        font = self._font
        bg = colors(pal.background)
        fw = frame.cols * font.cw
        fh = frame.rows * font.ch
        exposed = event.rect()
        # The padding and whatever is left past the last whole cell. PySide6 iterates a
        # region's rectangles; its type stubs do not say so.
        outer = QRegion(exposed) - QRegion(PADDING, PADDING, fw, fh)
        for r in cast("Iterable[QRect]", outer):
            p.fillRect(r, bg)
        target = exposed.intersected(QRect(PADDING, PADDING, fw, fh))
        if not target.isEmpty():
            source = target.translated(-PADDING, -PADDING)
            p.drawImage(target, frame.image, scaled(source, frame.image.devicePixelRatioF()))
        p.translate(PADDING, PADDING)
        sel_range = self._selection.range
        if sel_range is not None:
            top_line = self._model.scrollback_len - self._scroll
            paint_selection(p, sel_range, top_line, frame, font, colors(pal.selection, 110))
        cur = self._cursor
        row = cur.y + self._scroll
        if cur.visible and row < frame.rows:
            paint_cursor(
                p,
                cur,
                row,
                font,
                colors(pal.cursor),
                colors(pal.cursor_text),
                self.hasFocus(),
                frame.atlas,
                self._style_font,
            )
        if self._preedit:
            paint_preedit(p, self._preedit, cur.x, row, font, bg, colors(pal.foreground))
        p.resetTransform()
        if self._scroll:
            paint_marker(p, self._scroll, self.width(), self.height(), font, pal, colors)
        if self.flashing:
            p.fillRect(self.rect(), colors(pal.foreground, 48))
        p.end()

    def _style_font(self, style: Style) -> int:
        """The font variant a cell of ``style`` is drawn in."""
        atlas = self._frame.atlas
        look = atlas.look(style) if atlas is not None else resolve_style(style, self._palette)
        return look.font

    # -- geometry ------------------------------------------------------------------------------

    def sizeHint(self) -> QSize:
        w, h = self.size_for_grid(self._model.cols, self._model.rows)
        return QSize(w, h)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if not self._laid_out and self.parentWidget() is not None:
            # A view just added to a layout gets its first resize before the layout gave it a
            # size (a child widget starts at 100x30): fitting the model to that would crush
            # the program's screen to a few cells and back. Fit once the layout has run.
            if not self._fit_timer.isActive():
                self._fit_timer.start()
            return
        # The model and the program are resized together once the size settles: a layout
        # that shrinks a tile for a moment (tiles added one by one) must not cut the
        # screen's last column, which the program, never told, would not redraw.
        self._settle_timer.start()

    def _first_fit(self) -> None:
        self._laid_out = True
        self._fit_model_to_widget()

    def _settled(self) -> None:
        self._fit_model_to_widget(notify_now=True)

    def _fit_model_to_widget(self, force_notify: bool = False, notify_now: bool = False) -> None:
        cols, rows = self.grid_size_for(self.width(), self.height())
        model = self._model
        if (cols, rows) != (model.cols, model.rows):
            model.resize(cols, rows)
            self._scroll = min(self._scroll, model.scrollback_len)
            self._full = True
            self.grid_resized.emit(cols, rows)
            force_notify = True
            self.model_changed()
        if force_notify and self._on_resize is not None:
            if notify_now:
                self._resize_timer.stop()
                self._notify_resize()
            else:
                self._resize_timer.start()

    def _notify_resize(self) -> None:
        if self._on_resize is not None:
            self._on_resize(self._model.cols, self._model.rows)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        frame_governor().register(self)
        self._full = True
        self.model_changed()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        frame_governor().unregister(self)

    # -- keyboard and input method -------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and takes_shortcut(event)
        ):
            event.accept()
            return True
        return super().event(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab and Shift+Tab belong to the program

    def keyPressEvent(self, event: QKeyEvent) -> None:
        command = key_command(event)
        if command is KeyCommand.COPY:
            self.copy()
        elif command is KeyCommand.PASTE:
            self.paste(QGuiApplication.clipboard().text(QClipboard.Mode.Clipboard))
        elif command is KeyCommand.PAGE_UP or command is KeyCommand.PAGE_DOWN:
            page = max(1, self._frame.rows - 1)
            self.scroll_lines(page if command is KeyCommand.PAGE_UP else -page)
        else:
            mods = event.modifiers()
            data = key_to_bytes(event.key(), mods, event.text(), self._model.modes.app_cursor)
            if data:
                self._send_input(data)
            else:
                super().keyPressEvent(event)

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        text = event.commitString()
        if text:
            self._send_input(text.encode("utf-8", "replace"))
        preedit = event.preeditString()
        if preedit != self._preedit:
            # What the input method is composing is drawn at the cursor, not sent.
            self._preedit = preedit
            self.update()
        event.accept()

    def inputMethodQuery(self, query: Qt.InputMethodQuery) -> object:
        if query == Qt.InputMethodQuery.ImCursorRectangle:
            return self._cursor_rect(self._cursor)
        return super().inputMethodQuery(query)

    def _send_input(self, data: bytes) -> None:
        self._last_input = time.monotonic()
        self._scroll_to_bottom()
        self._send(data)

    def _scroll_to_bottom(self) -> None:
        if self._scroll:
            self.scroll_to(0)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        note_focus(self)
        if self._model.modes.focus_events:
            self._send(b"\x1b[I")
        self.update(self._cursor_rect(self._cursor))

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if self._model.modes.focus_events:
            self._send(b"\x1b[O")
        self.update(self._cursor_rect(self._cursor))

    # -- mouse ---------------------------------------------------------------------------------

    def _cell_at(self, pos: QPointF | QPoint) -> tuple[int, int]:
        col = int((pos.x() - PADDING) // self._font.cw)
        row = int((pos.y() - PADDING) // self._font.ch)
        return (
            max(0, min(col, self._frame.cols - 1)),
            max(0, min(row, self._frame.rows - 1)),
        )

    def _line_of_row(self, row: int) -> int:
        return self._model.scrollback_len - self._scroll + row

    def _line_cells(self, line: int) -> list[str]:
        return line_cells(self._model, line)

    def _line_wrapped(self, line: int) -> bool:
        return line_wrapped(self._model, line)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        col, row = self._cell_at(event.position())
        modes = self._model.modes
        if self._mouse.reporting(modes, event):
            self._mouse.press(modes, event, col, row)
            return
        if event.button() == Qt.MouseButton.MiddleButton:
            clip = QGuiApplication.clipboard()
            mode = (
                QClipboard.Mode.Selection if clip.supportsSelection() else QClipboard.Mode.Clipboard
            )
            self.paste(clip.text(mode))
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        pos = (self._line_of_row(row), col)
        self._selection.press(pos, time.monotonic(), double_click_interval())
        self.update()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if (
            self._mouse.reporting(self._model.modes, event)
            or event.button() != Qt.MouseButton.LeftButton
        ):
            self.mousePressEvent(event)
            return
        col, row = self._cell_at(event.position())
        self._selection.double_press((self._line_of_row(row), col), time.monotonic())
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        col, row = self._cell_at(event.position())
        modes = self._model.modes
        if self._mouse.reporting(modes, event):
            self._mouse.move(modes, event, col, row)
            return
        if not self._selection.selecting or self._selection.selection is None:
            return
        if event.position().y() < PADDING and self._scroll < self._model.scrollback_len:
            self.scroll_lines(1)
        elif event.position().y() > self.height() - PADDING and self._scroll:
            self.scroll_lines(-1)
        self._selection.drag((self._line_of_row(row), col))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        col, row = self._cell_at(event.position())
        if self._mouse.release(self._model.modes, event, col, row):
            return
        if self._selection.selecting:
            text = self._selection.release()
            clip = QGuiApplication.clipboard()
            if text and clip.supportsSelection():
                clip.setText(text, QClipboard.Mode.Selection)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if not delta:
            event.ignore()
            return
        col, row = self._cell_at(event.position())
        modes = self._model.modes
        if self._mouse.reporting(modes, event):
            self._mouse.wheel(modes, event, col, row, delta)
            return
        self._wheel_accum += delta / 120 * 3
        lines = int(self._wheel_accum)
        if not lines:
            return
        self._wheel_accum -= lines
        if self._model.alternate_screen:
            # Full-screen programs without mouse reporting scroll with the arrow keys.
            key = Qt.Key.Key_Up if lines > 0 else Qt.Key.Key_Down
            data = key_to_bytes(key, 0, "", modes.app_cursor)
            self._send(data * abs(lines))
            return
        self.scroll_lines(lines)


__all__ = [
    "DARK",
    "FALLBACK_FAMILIES",
    "MAX_FPS",
    "MIN_FPS",
    "PADDING",
    "PASTE_CHUNK",
    "FrameGovernor",
    "TerminalView",
    "frame_governor",
    "sanitize_paste",
]
