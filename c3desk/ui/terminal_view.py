"""A QPainter view of a :class:`~c3desk.terminal.TerminalModel`: paints, types, selects, scrolls.

Painting has two stages. A frame tick (coalesced after output: a short debounce with a cap, at
most the view's frame rate) renders only the changed rows into a frame image; ``paintEvent``
blits that image and draws the cursor, the selection and the badges over it. While the program
is inside a synchronized-output block (mode 2026) the tick leaves the frame image alone, so the
last complete frame stays on screen (for at most :attr:`TerminalView.sync_timeout`).

Under load a shared :class:`FrameGovernor` lowers the views' frame rates, unfocused tiles first:
data is never throttled, only painting.
"""

from __future__ import annotations

import math
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from PySide6.QtCore import (
    QEvent,
    QObject,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QClipboard,
    QColor,
    QFocusEvent,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QInputMethodEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QRegion,
    QResizeEvent,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    import numpy as np

    from c3desk.ui.cell_atlas import CellAtlas, Cells, Styles
from wcwidth import wcwidth

from c3desk.terminal import Style, TerminalModel
from c3desk.ui.keymap import key_to_bytes
from c3desk.ui.palette import DARK, RGB, CellLook, TerminalPalette, palette_for, resolve_style
from c3desk.ui.selection import Selection, SelectionMode, text_to_cells

DEBOUNCE = 0.010  # after output, wait this long for more before painting
CAP = 0.040  # but never more than this after the first unpainted output
MAX_FPS = 60.0
MIN_FPS = 4.0
TYPING_WINDOW = 0.15  # output this soon after a key press is an echo: paint it at once
RESIZE_DEBOUNCE_MS = 60
PASTE_CHUNK = 4096
BELL_FLASH_MS = 120
BELL_MIN_INTERVAL = 1.0
PADDING = 4

FALLBACK_FAMILIES = (
    "DejaVu Sans Mono",
    "Noto Sans Mono",
    "Liberation Mono",
    "Noto Sans Mono CJK SC",
    "Noto Sans CJK SC",
    "WenQuanYi Zen Hei Mono",
    # Text-style symbols (Claude Code's ⏺ ⏸ without U+FE0F) from a text font, in the cell's
    # colour, before the emoji font; real emoji still come from Noto Color Emoji.
    "Symbola",
    "Noto Sans Symbols 2",
    "Noto Sans Symbols",
    "Noto Color Emoji",
    "DejaVu Sans",
)

CursorShape = int  # 0 block, 1 underline, 2 bar
_BLOCK, _UNDERLINE, _BAR = 0, 1, 2
_DECSCUSR_SHAPE = {0: _BLOCK, 1: _BLOCK, 2: _BLOCK, 3: _UNDERLINE, 4: _UNDERLINE, 5: _BAR, 6: _BAR}


class _CursorSnap(NamedTuple):
    x: int
    y: int
    visible: bool
    shape: CursorShape
    text: str
    style: Style
    wide: bool


# -- frame rate governor ------------------------------------------------------------------------


class FrameGovernor(QObject):
    """Lowers the frame rates of views when the event loop is busy, unfocused tiles first.

    It probes the loop's lag with a 50 ms timer and adds up the time views spend painting;
    over each half second it steps the caps down when the loop lags or painting takes more
    than a third of the time, and back up when both are calm. It also paces unfocused views
    (:meth:`pace`) so that frames due at the same moment do not block the loop back to back.
    The focused tile is the view that has (or last had) the keyboard focus, or one given high
    priority with :meth:`TerminalView.set_priority`.
    """

    PROBE_MS = 50
    WINDOW = 0.5
    LAG_HIGH = 0.020
    LAG_LOW = 0.008
    BUSY_HIGH = 0.35
    BUSY_LOW = 0.15
    PACE_WINDOW = 0.030
    PACE_BUDGET = 0.012

    def __init__(self) -> None:
        super().__init__()
        self.cap_focused = MAX_FPS
        self.cap_unfocused = MAX_FPS
        self._views: weakref.WeakSet[TerminalView] = weakref.WeakSet()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(self.PROBE_MS)
        self._timer.timeout.connect(self._probe)
        self._last = 0.0
        self._window_start = 0.0
        self._max_lag = 0.0
        self._paint = 0.0
        self._recent: deque[tuple[float, float]] = deque()
        self._recent_sum = 0.0

    def register(self, view: TerminalView) -> None:
        self._views.add(view)
        if not self._timer.isActive():
            self._last = self._window_start = time.monotonic()
            self._max_lag = self._paint = 0.0
            self._timer.start()

    def unregister(self, view: TerminalView) -> None:
        self._views.discard(view)
        if not self._views:
            self._timer.stop()
            self.cap_focused = self.cap_unfocused = MAX_FPS

    def note_paint(self, seconds: float) -> None:
        self._paint += seconds
        now = time.monotonic()
        recent = self._recent
        recent.append((now, seconds))
        self._recent_sum += seconds
        while recent and recent[0][0] < now - self.PACE_WINDOW:
            self._recent_sum -= recent.popleft()[1]

    def pace(self, focused: bool, waited: float) -> float:
        """How long an unfocused view should wait before painting (0: paint now).

        Frames are spread out: when views painted more than ``PACE_BUDGET`` within the last
        ``PACE_WINDOW``, an unfocused view waits until enough of that leaves the window, so
        nine views due at once do not block the loop back to back. The focused view never
        waits, nor a view whose output has waited for a frame longer than ``1 / MIN_FPS``.
        """
        if focused or waited >= 1.0 / MIN_FPS:
            return 0.0
        now = time.monotonic()
        recent = self._recent
        while recent and recent[0][0] < now - self.PACE_WINDOW:
            self._recent_sum -= recent.popleft()[1]
        if self._recent_sum < self.PACE_BUDGET or not recent:
            return 0.0
        return max(0.002, recent[0][0] + self.PACE_WINDOW - now)

    def cap(self, focused: bool) -> float:
        return self.cap_focused if focused else self.cap_unfocused

    def _probe(self) -> None:
        now = time.monotonic()
        lag = now - self._last - self.PROBE_MS / 1000
        self._last = now
        self._max_lag = max(self._max_lag, lag)
        elapsed = now - self._window_start
        if elapsed < self.WINDOW:
            return
        busy = self._paint / elapsed
        self.adjust(self._max_lag, busy)
        self._window_start = now
        self._max_lag = self._paint = 0.0

    def adjust(self, max_lag: float, busy: float) -> None:
        """One step of the policy, from the window's worst lag and painting's share of time."""
        if max_lag > self.LAG_HIGH or busy > self.BUSY_HIGH:
            if self.cap_unfocused > MIN_FPS:
                self.cap_unfocused = max(MIN_FPS, self.cap_unfocused / 2)
            else:
                self.cap_focused = max(20.0, self.cap_focused / 1.5)
        elif max_lag < self.LAG_LOW and busy < self.BUSY_LOW:
            if self.cap_focused < MAX_FPS:
                self.cap_focused = min(MAX_FPS, self.cap_focused * 1.5)
            else:
                self.cap_unfocused = min(MAX_FPS, self.cap_unfocused * 1.5)


_governors: dict[int, FrameGovernor] = {}
# The view that had the keyboard focus last: it stays the focused tile while the window is
# inactive (the user looks at it), so the governor slows the others first.
_last_focused: weakref.ref[TerminalView] | None = None


def frame_governor() -> FrameGovernor:
    """The governor shared by all views of this application."""
    app = QGuiApplication.instance()
    key = id(app)
    gov = _governors.get(key)
    if gov is None:
        _governors.clear()
        gov = _governors[key] = FrameGovernor()
    return gov


# -- the view -----------------------------------------------------------------------------------


_atlases: dict[tuple[object, ...], CellAtlas] = {}


def _atlas_for(key: tuple[object, ...], make: Callable[[], CellAtlas]) -> CellAtlas:
    """The cell atlas of one way of drawing (font, palette, cell size, pixel ratio): views that
    draw alike share their cells (nine tiles of one agent draw the same ones). A few are kept."""
    atlas = _atlases.get(key)
    if atlas is None:
        if len(_atlases) >= 4:
            _atlases.pop(next(iter(_atlases)))
        atlas = _atlases[key] = make()
    return atlas


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

        self._fonts: list[QFont] = []
        self._cw = self._ch = 1
        self._ascent = 0.0
        self._colors: dict[tuple[int, int, int, int], QColor] = {}
        self._frame = QImage()
        # The frame image's pixels (it is a view on them), and by row: (row, y, col, x).
        self._frame_px: np.ndarray | None = None
        self._frame_rows4: np.ndarray | None = None
        self._atlas: CellAtlas | None = None
        self._frame_cols = self._frame_rows = 0
        self._full = True
        self._set_font(font_family, font_size)

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
        self.rows_painted = 0  # rows composed from the cell atlas
        self.rows_unchanged = 0  # dirty rows whose content was already in the frame
        # What each row of the frame image shows (its text and styles).
        self._shown: list[tuple[str, object] | None] = []

        # State captured at the last frame (painted until the next one).
        self._cursor = _CursorSnap(0, 0, False, _BLOCK, " ", Style(), False)
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

        # Selection and mouse.
        self._selection: Selection | None = None
        self._preedit = ""
        self._sel_range: tuple[tuple[int, int], tuple[int, int]] | None = None
        self._selecting = False
        self._last_double = -math.inf
        self._mouse_button_down = -1
        self._last_report_cell: tuple[int, int] | None = None

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
        self._paste_queue: deque[bytes] = deque()
        self._paste_timer = QTimer(self)
        self._paste_timer.setInterval(0)
        self._paste_timer.timeout.connect(self._paste_next)

    # -- public API ----------------------------------------------------------------------------

    @property
    def model(self) -> TerminalModel:
        return self._model

    @property
    def cell_size(self) -> tuple[int, int]:
        """Width and height of a cell in device-independent pixels."""
        return self._cw, self._ch

    @property
    def cells_drawn(self) -> int:
        """Cells made so far by the atlas this view draws from (shared by views that draw
        alike): a measure of what painting had to draw rather than copy."""
        return self._atlas.cells_drawn if self._atlas is not None else 0

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
        last = _last_focused() if _last_focused is not None else None
        return last is self

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
        self._selection = self._sel_range = None
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
        self._set_font(family, size)
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
        value = max(0, min(lines_back, self._model.scrollback_len))
        if value != self._scroll:
            self._scroll = value
            self._full = True
            self.scrolled.emit(value)
            self.flush()
            self.update()

    def scroll_lines(self, delta: int) -> None:
        """Scroll back (positive) or forward (negative) by ``delta`` lines."""
        self.scroll_to(self._scroll + delta)

    def selected_text(self) -> str:
        if self._selection is None:
            return ""
        return self._selection.text(self._line_cells, self._line_wrapped)

    def select(self, start: tuple[int, int], end: tuple[int, int], mode: str = "char") -> None:
        """Select from ``start`` to ``end`` given as (line, col) over scrollback then screen."""
        self._selection = Selection(start, end, SelectionMode(mode))
        self._update_selection()

    def clear_selection(self) -> None:
        if self._selection is not None:
            self._selection = self._sel_range = None
            self.update()

    def copy(self) -> None:
        """Copy the selection to the clipboard."""
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text, QClipboard.Mode.Clipboard)

    def paste(self, text: str) -> None:
        """Send pasted text: sanitised, bracketed when the program asked, in chunks."""
        clean = sanitize_paste(text)
        if not clean:
            return
        data = clean.encode("utf-8", "replace")
        if self._model.modes.bracketed_paste:
            data = b"\x1b[200~" + data + b"\x1b[201~"
        self._scroll_to_bottom()
        for i in range(0, len(data), PASTE_CHUNK):
            self._paste_queue.append(data[i : i + PASTE_CHUNK])
        if len(self._paste_queue) == 1 and not self._paste_timer.isActive():
            self._paste_next()  # small pastes go out at once
        elif not self._paste_timer.isActive():
            self._paste_timer.start()

    @property
    def paste_pending(self) -> int:
        """Bytes of paste not yet sent."""
        return sum(len(c) for c in self._paste_queue)

    def grid_size_for(self, width: int, height: int) -> tuple[int, int]:
        """Columns and rows that fit in a widget of this size."""
        cols = max(2, (width - 2 * PADDING) // self._cw)
        rows = max(1, (height - 2 * PADDING) // self._ch)
        return cols, rows

    def size_for_grid(self, cols: int, rows: int) -> tuple[int, int]:
        """Widget size for a grid of ``cols`` x ``rows`` cells."""
        return cols * self._cw + 2 * PADDING, rows * self._ch + 2 * PADDING

    def render_to_image(self) -> QImage:
        """The current frame with its overlays, as an image (tests, screenshots)."""
        image = QImage(self.size(), QImage.Format.Format_RGB32)
        self.render(image)
        return image

    # -- fonts and colours ---------------------------------------------------------------------

    def _set_font(self, family: str, size: float) -> None:
        fonts: list[QFont] = []
        metrics = None
        for variant in range(4):
            font = QFont()
            font.setFamilies([family, *[f for f in FALLBACK_FAMILIES if f != family]])
            font.setPointSizeF(size)
            font.setStyleHint(QFont.StyleHint.TypeWriter)
            font.setFixedPitch(True)
            font.setKerning(False)
            font.setBold(bool(variant & 1))
            font.setItalic(bool(variant & 2))
            fonts.append(font)
            if variant == 0:
                metrics = QFontMetricsF(font)
        assert metrics is not None
        advance = metrics.horizontalAdvance("M")
        self._cw = max(1, round(advance))
        self._ch = max(1, math.ceil(metrics.height()))
        # Centre the glyphs vertically in a cell of whole pixels.
        self._ascent = round(metrics.ascent() + (self._ch - metrics.height()) / 2)
        for font in fonts:
            # Letter spacing makes every advance exactly one cell, so a run is one draw call.
            adv = QFontMetricsF(font).horizontalAdvance("M")
            font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, self._cw - adv)
        self._fonts = fonts
        self._full = True

    def _color(self, rgb: RGB, alpha: int = 255) -> QColor:
        key = (*rgb, alpha)
        color = self._colors.get(key)
        if color is None:
            color = self._colors[key] = QColor(rgb[0], rgb[1], rgb[2], alpha)
        return color

    def _look(self, style: Style) -> CellLook:
        if self._atlas is not None:
            return self._atlas.look(style)
        return resolve_style(style, self._palette)

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
        if not force and not self.isVisible() and not self._full and self._frame_rows:
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
        if dropped > 0 and self._selection is not None:
            self._selection.shift(-dropped)
            self._update_selection()
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

    def _ensure_frame(self) -> None:
        """The atlas for how this view draws now, and a frame image of the model's size."""
        # Imported with the first frame: numpy is a tenth of a second of start-up.
        from c3desk.ui import cell_atlas

        dpr = self.devicePixelRatioF()
        key = (
            self._fonts[0].key(),
            self._palette.name,
            self._cw,
            self._ch,
            self._ascent,
            dpr,
        )
        atlas = _atlas_for(
            key,
            lambda: cell_atlas.CellAtlas(
                cell_atlas.GlyphRaster(self._fonts, self._cw, self._ch, round(self._ascent), dpr),
                self._palette,
            ),
        )
        model = self._model
        cols, rows = model.cols, model.rows
        if (
            atlas is not self._atlas
            or cols != self._frame_cols
            or rows != self._frame_rows
            or self._frame.isNull()
        ):
            self._atlas = atlas
            cwp, chp = atlas.cell_size
            px = cell_atlas.frame_array(cols, rows, cwp, chp, self._palette.background)
            image = QImage(
                px.data, cols * cwp, rows * chp, cols * cwp * 4, QImage.Format.Format_RGB32
            )
            image.setDevicePixelRatio(dpr)
            self._frame_px = px
            self._frame_rows4 = px.reshape(rows, chp, cols, cwp)
            self._frame = image
            self._frame_cols, self._frame_rows = cols, rows
            self._shown = [None] * rows
            self._full = True

    def _render_frame(self, now: float) -> None:
        t0 = time.perf_counter()
        model = self._model
        self._pending_since = None
        self._last_frame = now
        self._ensure_frame()
        self._track_history()
        dirty = model.take_dirty()
        rows = self._frame_rows
        if self._full or self._scroll:
            draw = range(rows)
        else:
            draw = sorted(y for y in dirty if 0 <= y < rows)
        region = QRegion()
        if draw:
            changed = self._draw_rows(draw)
            region = QRegion(self.rect()) if self._full else self._rows_region(changed)
        self._full = False
        old = self._cursor
        self._cursor = self._snap_cursor()
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

    def _draw_rows(self, draw: range | list[int]) -> list[int]:
        """Bring rows ``draw`` of the frame image up to date; returns the rows that changed.

        A row that shows what it showed at the last frame (a full-clear redraw of an unchanged
        screen) is left alone: compared text to text and style to style by identity, in C.
        The others are composed from the cell atlas in one batch.
        """
        model = self._model
        atlas = self._atlas
        assert atlas is not None
        shown = self._shown
        changed: list[int] = []
        compose: list[tuple[int, Cells, Styles]] = []
        hist_len = model.scrollback_len
        top_line = hist_len - self._scroll
        row_of = model.row
        join = "".join
        for row in draw:
            line = top_line + row
            cells: Cells
            styles: Styles
            if line < hist_len:
                cells, styles = model.scrollback_cells(line)
                now: tuple[str, object] = (
                    cells if type(cells) is str else join(cells),
                    styles if isinstance(styles, Style) else tuple(styles),
                )
            else:
                cells, styles = row_of(line - hist_len)
                now = (join(cells), tuple(styles))
            seen = shown[row]
            if seen is not None and seen[0] == now[0] and seen[1] == now[1]:
                self.rows_unchanged += 1
                continue
            shown[row] = now
            changed.append(row)
            compose.append((row, cells, styles))
        if compose:
            assert self._frame_rows4 is not None
            atlas.compose(self._frame_rows4, compose)
            self.rows_painted += len(compose)
        return changed

    def _rows_region(self, rows: list[int]) -> QRegion:
        """The widget area of ``rows`` (ascending), one rectangle per consecutive span."""
        region = QRegion()
        start = prev = -2
        for row in [*rows, -2]:
            if row != prev + 1:
                if start >= 0:
                    region += QRect(
                        0, PADDING + start * self._ch, self.width(), (prev - start + 1) * self._ch
                    )
                start = row
            prev = row
        return region

    # -- cursor, title, bell -------------------------------------------------------------------

    def _snap_cursor(self) -> _CursorSnap:
        model = self._model
        c = model.cursor
        modes = model.modes
        shape = _DECSCUSR_SHAPE.get(modes.cursor_shape, _BLOCK)
        y = min(c.y, model.rows - 1)
        text, style = model.cell(c.x, y)
        wide = c.x + 1 < model.cols and model.cell(c.x + 1, y)[0] == ""
        return _CursorSnap(c.x, y, c.visible, shape, text or " ", style, wide)

    def _cursor_rect(self, cur: _CursorSnap) -> QRect:
        row = cur.y + self._scroll
        cells = 2 if cur.wide else 1
        return QRect(
            PADDING + cur.x * self._cw, PADDING + row * self._ch, cells * self._cw, self._ch
        )

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

    @property
    def flashing(self) -> bool:
        return time.monotonic() < self._flash_until

    # -- painting ------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._frame.isNull():
            self._render_frame(time.monotonic())
        p = QPainter(self)
        pal = self._palette
        bg = self._color(pal.background)
        fw = self._frame_cols * self._cw
        fh = self._frame_rows * self._ch
        exposed = event.rect()
        # The padding and whatever is left past the last whole cell.
        outer = QRegion(exposed) - QRegion(PADDING, PADDING, fw, fh)
        for r in outer:
            p.fillRect(r, bg)
        target = exposed.intersected(QRect(PADDING, PADDING, fw, fh))
        if not target.isEmpty():
            source = target.translated(-PADDING, -PADDING)
            p.drawImage(target, self._frame, _scaled(source, self._frame.devicePixelRatioF()))
        p.translate(PADDING, PADDING)
        self._paint_selection(p)
        self._paint_cursor(p)
        if self._preedit:
            self._paint_preedit(p)
        p.resetTransform()
        if self._scroll:
            self._paint_marker(p)
        if self.flashing:
            p.fillRect(self.rect(), self._color(pal.foreground, 48))
        p.end()

    def _paint_selection(self, p: QPainter) -> None:
        if self._sel_range is None:
            return
        (l0, c0), (l1, c1) = self._sel_range
        top_line = self._model.scrollback_len - self._scroll
        color = self._color(self._palette.selection, 110)
        cols = self._frame_cols
        for row in range(self._frame_rows):
            line = top_line + row
            if line < l0 or line > l1:
                continue
            start = c0 if line == l0 else 0
            end = min(c1 if line == l1 else cols - 1, cols - 1)
            if end >= start:
                p.fillRect(
                    start * self._cw, row * self._ch, (end - start + 1) * self._cw, self._ch, color
                )

    def _paint_cursor(self, p: QPainter) -> None:
        cur = self._cursor
        if not cur.visible:
            return
        row = cur.y + self._scroll
        if row >= self._frame_rows:
            return
        pal = self._palette
        cw, ch = self._cw, self._ch
        x, y = cur.x * cw, row * ch
        w = cw * (2 if cur.wide else 1)
        color = self._color(pal.cursor)
        if not self.hasFocus():
            p.setPen(QPen(color, 1))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(x, y, w - 1, ch - 1)
            return
        if cur.shape == _BAR:
            p.fillRect(x, y, max(2, cw // 6), ch, color)
        elif cur.shape == _UNDERLINE:
            t = max(2, ch // 8)
            p.fillRect(x, y + ch - t, w, t, color)
        else:
            p.fillRect(x, y, w, ch, color)
            if cur.text.strip():
                res = self._look(cur.style)
                if self._atlas is not None:
                    # As the cell draws it: geometry where no font has the glyph (⎿, ⏺...).
                    self._atlas.raster.draw_glyph(
                        p, x, y, cur.text, res.font, self._color(pal.cursor_text)
                    )
                else:
                    p.setFont(self._fonts[res.font])
                    p.setPen(self._color(pal.cursor_text))
                    p.drawText(x, y + self._ascent, cur.text)

    def _paint_preedit(self, p: QPainter) -> None:
        """The composition at the cursor, underlined, over what is there."""
        cur = self._cursor
        cw, ch = self._cw, self._ch
        x, y = cur.x * cw, (cur.y + self._scroll) * ch
        cells = sum(2 if wcwidth(c) == 2 else 1 for c in self._preedit)
        pal = self._palette
        p.fillRect(x, y, cells * cw, ch, self._color(pal.background))
        p.setFont(self._fonts[0])
        p.setPen(self._color(pal.foreground))
        p.drawText(QPointF(x, y + self._ascent), self._preedit)
        p.fillRect(x, y + ch - 2, cells * cw, 1, self._color(pal.foreground))

    def _paint_marker(self, p: QPainter) -> None:
        pal = self._palette
        text = f"↑ {self._scroll} lines back · Shift+PgDn"
        font = QFont(self._fonts[0])
        font.setLetterSpacing(QFont.SpacingType.AbsoluteSpacing, 0)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        p.setFont(font)
        m = QFontMetricsF(font)
        w = m.horizontalAdvance(text) + 16
        h = m.height() + 6
        box = QRectF(self.width() - w - 8, 6, w, h)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self._color(pal.marker, 235))
        p.drawRoundedRect(box, 5, 5)
        p.setPen(self._color(pal.marker_text))
        p.drawText(box, int(Qt.AlignmentFlag.AlignCenter), text)
        # A bar down the right edge says "history" even where the badge is not looked at.
        p.fillRect(self.width() - 3, 0, 3, self.height(), self._color(pal.marker))

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

    def hideEvent(self, event: QEvent) -> None:  # type: ignore[override]
        super().hideEvent(event)  # type: ignore[arg-type]
        frame_governor().unregister(self)

    # -- keyboard ------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            mods = event.modifiers()
            ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            # The terminal takes every key but Ctrl+Shift chords other than its own.
            if (mods & ctrl_shift) != ctrl_shift or event.key() in (Qt.Key.Key_C, Qt.Key.Key_V):
                event.accept()
                return True
        return super().event(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab and Shift+Tab belong to the program

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        mods = event.modifiers()
        Mod = Qt.KeyboardModifier
        ctrl_shift = bool(mods & Mod.ControlModifier) and bool(mods & Mod.ShiftModifier)
        if ctrl_shift and key == Qt.Key.Key_C:
            self.copy()
            return
        if ctrl_shift and key == Qt.Key.Key_V:
            self.paste(QGuiApplication.clipboard().text(QClipboard.Mode.Clipboard))
            return
        only_shift = (mods & ~Mod.KeypadModifier) == Mod.ShiftModifier
        if only_shift and key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown):
            page = max(1, self._frame_rows - 1)
            self.scroll_lines(page if key == Qt.Key.Key_PageUp else -page)
            return
        data = key_to_bytes(key, mods, event.text(), self._model.modes.app_cursor)
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

    @property
    def preedit(self) -> str:
        """The input method's text being composed (drawn at the cursor, not yet sent)."""
        return self._preedit

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
        global _last_focused
        _last_focused = weakref.ref(self)
        if self._model.modes.focus_events:
            self._send(b"\x1b[I")
        self.update(self._cursor_rect(self._cursor))

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        if self._model.modes.focus_events:
            self._send(b"\x1b[O")
        self.update(self._cursor_rect(self._cursor))

    # -- paste ---------------------------------------------------------------------------------

    def _paste_next(self) -> None:
        if not self._paste_queue:
            self._paste_timer.stop()
            return
        self._send(self._paste_queue.popleft())
        if self._paste_queue and not self._paste_timer.isActive():
            self._paste_timer.start()
        elif not self._paste_queue:
            self._paste_timer.stop()

    # -- mouse ---------------------------------------------------------------------------------

    def _cell_at(self, pos: QPointF | QPoint) -> tuple[int, int]:
        col = int((pos.x() - PADDING) // self._cw)
        row = int((pos.y() - PADDING) // self._ch)
        return (
            max(0, min(col, self._frame_cols - 1)),
            max(0, min(row, self._frame_rows - 1)),
        )

    def _line_of_row(self, row: int) -> int:
        return self._model.scrollback_len - self._scroll + row

    def _line_wrapped(self, line: int) -> bool:
        """Whether ``line`` (scrollback then screen) soft-wraps into the next one."""
        model = self._model
        hist = model.scrollback_len
        if 0 <= line < hist:
            return model.scrollback_wrapped(line)
        if 0 <= line - hist < model.rows:
            return model.row_wrapped(line - hist)
        return False

    def _line_cells(self, line: int) -> list[str]:
        model = self._model
        hist = model.scrollback_len
        if line < 0:
            return []
        if line < hist:
            cells = text_to_cells(model.scrollback_text(line))
        elif line - hist < model.rows:
            cells = [c for c, _ in model.row_cells(line - hist)]
        else:
            return []
        return cells

    def _reporting(self, event: QMouseEvent | QWheelEvent) -> bool:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        return bool(self._model.modes.mouse_tracking) and not shift

    def _report(self, button: int, col: int, row: int, release: bool, mods: int) -> None:
        code = button | mods
        if self._model.modes.mouse_sgr:
            final = "m" if release else "M"
            self._send(f"\x1b[<{code};{col + 1};{row + 1}{final}".encode())
            return
        if release:
            code = 3 | mods
        if col > 222 or row > 222:
            return  # X10 cannot encode it
        self._send(b"\x1b[M" + bytes([32 + code, 33 + col, 33 + row]))

    @staticmethod
    def _mouse_mods(event: QMouseEvent | QWheelEvent) -> int:
        mods = event.modifiers()
        out = 0
        if mods & Qt.KeyboardModifier.ShiftModifier:
            out |= 4
        if mods & Qt.KeyboardModifier.AltModifier:
            out |= 8
        if mods & Qt.KeyboardModifier.ControlModifier:
            out |= 16
        return out

    _BUTTONS: ClassVar[dict[Qt.MouseButton, int]] = {
        Qt.MouseButton.LeftButton: 0,
        Qt.MouseButton.MiddleButton: 1,
        Qt.MouseButton.RightButton: 2,
    }

    def mousePressEvent(self, event: QMouseEvent) -> None:
        col, row = self._cell_at(event.position())
        if self._reporting(event):
            button = self._BUTTONS.get(event.button())
            if button is not None:
                self._mouse_button_down = button
                self._last_report_cell = (col, row)
                self._report(button, col, row, False, self._mouse_mods(event))
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
        line = self._line_of_row(row)
        triple = time.monotonic() - self._last_double < _double_click_interval()
        mode = SelectionMode.LINE if triple else SelectionMode.CHAR
        self._last_double = -math.inf
        self._selection = Selection((line, col), (line, col), mode)
        self._selecting = True
        if mode is SelectionMode.CHAR:
            self._sel_range = None  # a click without a drag selects nothing
            self.update()
        else:
            self._update_selection()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._reporting(event) or event.button() != Qt.MouseButton.LeftButton:
            self.mousePressEvent(event)
            return
        col, row = self._cell_at(event.position())
        line = self._line_of_row(row)
        self._selection = Selection((line, col), (line, col), SelectionMode.WORD)
        self._selecting = True
        self._last_double = time.monotonic()
        self._update_selection()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        col, row = self._cell_at(event.position())
        if self._reporting(event):
            tracking = self._model.modes.mouse_tracking
            held = self._mouse_button_down >= 0
            if (tracking == 1003 or (tracking == 1002 and held)) and (
                (col, row) != self._last_report_cell
            ):
                self._last_report_cell = (col, row)
                button = self._mouse_button_down if held else 3
                self._report(32 + button, col, row, False, self._mouse_mods(event))
            return
        if not self._selecting or self._selection is None:
            return
        if event.position().y() < PADDING and self._scroll < self._model.scrollback_len:
            self.scroll_lines(1)
        elif event.position().y() > self.height() - PADDING and self._scroll:
            self.scroll_lines(-1)
        self._selection.head = (self._line_of_row(row), col)
        self._update_selection()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        col, row = self._cell_at(event.position())
        if self._reporting(event) and self._mouse_button_down >= 0:
            button = self._BUTTONS.get(event.button(), self._mouse_button_down)
            self._report(button, col, row, True, self._mouse_mods(event))
            self._mouse_button_down = -1
            return
        self._mouse_button_down = -1
        if self._selecting:
            self._selecting = False
            text = self.selected_text() if self._sel_range is not None else ""
            clip = QGuiApplication.clipboard()
            if text and clip.supportsSelection():
                clip.setText(text, QClipboard.Mode.Selection)

    def _update_selection(self) -> None:
        sel = self._selection
        if sel is None:
            self._sel_range = None
        elif sel.mode is SelectionMode.CHAR and sel.anchor == sel.head:
            self._sel_range = None if self._selecting else sel.expanded(self._line_cells)
        else:
            self._sel_range = sel.expanded(self._line_cells)
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if not delta:
            event.ignore()
            return
        col, row = self._cell_at(event.position())
        if self._reporting(event):
            button = 64 if delta > 0 else 65
            for _ in range(max(1, abs(delta) // 120)):
                self._report(button, col, row, False, self._mouse_mods(event))
            return
        self._wheel_accum += delta / 120 * 3
        lines = int(self._wheel_accum)
        if not lines:
            return
        self._wheel_accum -= lines
        if self._model.alternate_screen:
            # Full-screen programs without mouse reporting scroll with the arrow keys.
            key = Qt.Key.Key_Up if lines > 0 else Qt.Key.Key_Down
            data = key_to_bytes(key, 0, "", self._model.modes.app_cursor)
            self._send(data * abs(lines))
            return
        self.scroll_lines(lines)


def _scaled(rect: QRect, dpr: float) -> QRect:
    if dpr == 1.0:
        return rect
    return QRect(
        round(rect.x() * dpr),
        round(rect.y() * dpr),
        round(rect.width() * dpr),
        round(rect.height() * dpr),
    )


def _double_click_interval() -> float:
    hints = QGuiApplication.styleHints()
    return hints.mouseDoubleClickInterval() / 1000 if hints is not None else 0.4


def sanitize_paste(text: str) -> str:
    """Pasted text made safe for a terminal: ESC and the other C0 controls (but Tab and
    newline) and C1 controls removed, newlines (LF, CRLF, CR) sent as CR."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out = text.translate(_PASTE_DROP)
    return out.replace("\n", "\r")


_PASTE_DROP = {c: None for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if c not in (9, 10)}

__all__ = ["DARK", "FrameGovernor", "TerminalView", "sanitize_paste"]
