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
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import ClassVar, NamedTuple

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
    QPainterPath,
    QPaintEvent,
    QPen,
    QRegion,
    QResizeEvent,
    QShowEvent,
    QStaticText,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget
from wcwidth import wcwidth

from c3desk.terminal import Run, Style, TerminalModel
from c3desk.ui.keymap import key_to_bytes
from c3desk.ui.palette import DARK, RGB, TerminalPalette, palette_for
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
    "Noto Color Emoji",
    "Symbola",
    "DejaVu Sans",
)

CursorShape = int  # 0 block, 1 underline, 2 bar
_BLOCK, _UNDERLINE, _BAR = 0, 1, 2
_DECSCUSR_SHAPE = {0: _BLOCK, 1: _BLOCK, 2: _BLOCK, 3: _UNDERLINE, 4: _UNDERLINE, 5: _BAR, 6: _BAR}


class _Resolved(NamedTuple):
    """A style turned into what the painter needs."""

    fg: QColor
    bg: QColor | None  # None: the default background (already filled)
    font: int  # index into the view's fonts: bold | italic << 1
    underline: int
    strike: bool


class _CursorSnap(NamedTuple):
    x: int
    y: int
    visible: bool
    shape: CursorShape
    text: str
    style: Style
    wide: bool


# -- box drawing and block elements -------------------------------------------------------------

# Arms of U+2500-U+257F: up, right, down, left; 0 none, 1 light, 2 heavy, 3 double.
_ARMS_TABLE = (
    (0x2500, "0101 0202 1010 2020"),  # ─ ━ │ ┃
    (
        0x250C,  # ┌ .. ╋
        "0110 0210 0120 0220 0011 0012 0021 0022 1100 1200 2100 2200 1001 1002 2001 2002 "
        "1110 1210 2110 1120 2120 2210 1220 2220 1011 1012 2011 1021 2021 2012 1022 2022 "
        "0111 0112 0211 0212 0121 0122 0221 0222 1101 1102 1201 1202 2101 2102 2201 2202 "
        "1111 1112 1211 1212 2111 1121 2121 2112 2211 1122 1221 2212 1222 2122 2221 2222",
    ),
    (
        0x2550,  # ═ .. ╬
        "0303 3030 0310 0130 0330 0013 0031 0033 1300 3100 3300 1003 3001 3003 "
        "1310 3130 3330 1013 3031 3033 0313 0131 0333 1303 3101 3303 1313 3131 3333",
    ),
    (0x2574, "0001 1000 0100 0010 0002 2000 0200 0020 0201 1020 0102 2010"),  # ╴ .. ╿
)
_BOX_ARMS: dict[int, str] = {
    first + i: arms for first, table in _ARMS_TABLE for i, arms in enumerate(table.split())
}
# Dashed lines: code -> (horizontal, heavy, dashes).
_BOX_DASHED: dict[int, tuple[bool, bool, int]] = {
    0x2504: (True, False, 3),
    0x2505: (True, True, 3),
    0x2506: (False, False, 3),
    0x2507: (False, True, 3),
    0x2508: (True, False, 4),
    0x2509: (True, True, 4),
    0x250A: (False, False, 4),
    0x250B: (False, True, 4),
    0x254C: (True, False, 2),
    0x254D: (True, True, 2),
    0x254E: (False, False, 2),
    0x254F: (False, True, 2),
}
# Block elements U+2580-U+259F as eighths (x0, y0, x1, y1) rectangles, or shades.
_QUADS = {"ul": (0, 0, 4, 4), "ur": (4, 0, 8, 4), "ll": (0, 4, 4, 8), "lr": (4, 4, 8, 8)}
_BLOCKS: dict[int, tuple[tuple[int, int, int, int], ...]] = {
    0x2580: ((0, 0, 8, 4),),
    **{0x2580 + i: ((0, 8 - i, 8, 8),) for i in range(1, 9)},  # ▁..█
    **{0x2588 + i: ((0, 0, 8 - i, 8),) for i in range(1, 8)},  # ▉..▏
    0x2590: ((4, 0, 8, 8),),
    0x2594: ((0, 0, 8, 1),),
    0x2595: ((7, 0, 8, 8),),
    0x2596: (_QUADS["ll"],),
    0x2597: (_QUADS["lr"],),
    0x2598: (_QUADS["ul"],),
    0x2599: (_QUADS["ul"], _QUADS["ll"], _QUADS["lr"]),
    0x259A: (_QUADS["ul"], _QUADS["lr"]),
    0x259B: (_QUADS["ul"], _QUADS["ur"], _QUADS["ll"]),
    0x259C: (_QUADS["ul"], _QUADS["ur"], _QUADS["lr"]),
    0x259D: (_QUADS["ur"],),
    0x259E: (_QUADS["ur"], _QUADS["ll"]),
    0x259F: (_QUADS["ur"], _QUADS["ll"], _QUADS["lr"]),
}
_SHADES = {0x2591: 64, 0x2592: 128, 0x2593: 192}
_ARCS = {0x256D: "dr", 0x256E: "dl", 0x256F: "ul", 0x2570: "ur"}
_DIAGONALS = {0x2571: (True, False), 0x2572: (False, True), 0x2573: (True, True)}
# Characters whose runs join into one rectangle per line: horizontal rules.
_HRULES = frozenset("─━═")


def _merge_rows_of_rects(
    rects: list[tuple[int, int, int, int, int]],
) -> list[tuple[int, int, int, int, int]]:
    """Opaque rectangles on the same rows whose spans touch or overlap become one (the same
    pixels): a light horizontal line is one full-width rectangle, so a run of them is one
    fill instead of two per cell."""
    out: list[tuple[int, int, int, int, int]] = []
    for x, y, w, h, alpha in sorted(rects, key=lambda r: (r[1], r[3], r[4], r[0])):
        if out:
            px, py, pw, ph, pa = out[-1]
            if alpha == 255 and pa == 255 and (py, ph) == (y, h) and x <= px + pw:
                out[-1] = (px, py, max(px + pw, x + w) - px, ph, pa)
                continue
        out.append((x, y, w, h, alpha))
    return out


def is_box_char(ch: str) -> bool:
    """Drawn by geometry (lines and rectangles), not by the font."""
    return "\u2500" <= ch <= "\u259f"


class BoxGlyphs:
    """Geometry for box-drawing and block characters at one cell size, cached per character."""

    def __init__(self, cw: int, ch: int) -> None:
        self.cw, self.ch = cw, ch
        self.light = max(1, round(min(cw, ch) / 9))
        self.heavy = max(self.light + 1, self.light * 2)
        self.gap = max(1, self.light)  # half distance between the lines of a double line
        self._rects: dict[str, list[tuple[int, int, int, int, int]]] = {}

    def _thick(self, weight: int) -> int:
        return self.heavy if weight == 2 else self.light

    def rects(self, char: str) -> list[tuple[int, int, int, int, int]]:
        """Rectangles (x, y, w, h, alpha) relative to the cell; empty for path-drawn glyphs."""
        cached = self._rects.get(char)
        if cached is None:
            cached = self._rects[char] = self._build(ord(char))
        return cached

    def _build(self, code: int) -> list[tuple[int, int, int, int, int]]:
        cw, ch = self.cw, self.ch
        out: list[tuple[int, int, int, int, int]] = []
        if code in _BLOCKS:
            for x0, y0, x1, y1 in _BLOCKS[code]:
                ax, ay = round(cw * x0 / 8), round(ch * y0 / 8)
                bx, by = round(cw * x1 / 8), round(ch * y1 / 8)
                out.append((ax, ay, bx - ax, by - ay, 255))
            return out
        if code in _SHADES:
            return [(0, 0, cw, ch, _SHADES[code])]
        if code in _BOX_DASHED:
            horizontal, heavy, dashes = _BOX_DASHED[code]
            t = self.heavy if heavy else self.light
            length = cw if horizontal else ch
            seg = length / dashes
            for i in range(dashes):
                a = round(i * seg)
                b = round(i * seg + seg * 0.6)
                if horizontal:
                    out.append((a, (ch - t) // 2, max(1, b - a), t, 255))
                else:
                    out.append(((cw - t) // 2, a, t, max(1, b - a), 255))
            return out
        arms = _BOX_ARMS.get(code)
        if arms is None:
            return out
        up, right, down, left = (int(c) for c in arms)
        g = self.gap
        # Centre lines, so that a light line sits at the same place in every glyph.
        lt = self.light
        cx = (cw - lt) // 2 + lt / 2
        cy = (ch - lt) // 2 + lt / 2

        def hline(x0: float, x1: float, yc: float, t: int) -> None:
            top = round(yc - t / 2)
            out.append((round(x0), top, max(1, round(x1) - round(x0)), t, 255))

        def vline(y0: float, y1: float, xc: float, t: int) -> None:
            left_ = round(xc - t / 2)
            out.append((left_, round(y0), t, max(1, round(y1) - round(y0)), 255))

        # Single (light/heavy) arms reach past the centre by half the widest crossing line.
        vmax = max(self._thick(w) if w != 3 else lt for w in (up, down))
        hmax = max(self._thick(w) if w != 3 else lt for w in (left, right))
        vreach = hmax / 2 if (left or right) else 0
        hreach = vmax / 2 if (up or down) else 0
        if up in (1, 2):
            vline(0, cy + (vreach if (left or right) else lt / 2), cx, self._thick(up))
        if down in (1, 2):
            vline(cy - (vreach if (left or right) else lt / 2), ch, cx, self._thick(down))
        if left in (1, 2):
            hline(0, cx + (hreach if (up or down) else lt / 2), cy, self._thick(left))
        if right in (1, 2):
            hline(cx - (hreach if (up or down) else lt / 2), cw, cy, self._thick(right))
        # Double arms: two lines; each stops at the outer or inner line of the crossing arm.
        if up == 3:
            vline(0, cy + (g if not left else -g) + lt / 2, cx - g, lt)
            vline(0, cy + (g if not right else -g) + lt / 2, cx + g, lt)
        if down == 3:
            vline(cy - (g if not left else -g) - lt / 2, ch, cx - g, lt)
            vline(cy - (g if not right else -g) - lt / 2, ch, cx + g, lt)
        if left == 3:
            hline(0, cx + (g if not up else -g) + lt / 2, cy - g, lt)
            hline(0, cx + (g if not down else -g) + lt / 2, cy + g, lt)
        if right == 3:
            hline(cx - (g if not up else -g) - lt / 2, cw, cy - g, lt)
            hline(cx - (g if not down else -g) - lt / 2, cw, cy + g, lt)
        return _merge_rows_of_rects(out)

    def draw_path_glyph(self, p: QPainter, char: str, x: int, y: int, color: QColor) -> bool:
        """Arcs and diagonals, drawn with an antialiased pen; False when not one of them."""
        code = ord(char)
        cw, ch, lt = self.cw, self.ch, self.light
        cx = x + (cw - lt) // 2 + lt / 2
        cy = y + (ch - lt) // 2 + lt / 2
        if code in _ARCS:
            corner = _ARCS[code]
            r = min(cw, ch) / 2
            path = QPainterPath()
            vy = y + ch if corner[0] == "d" else y
            hx = x + cw if corner[1] == "r" else x
            sy = 1 if corner[0] == "d" else -1
            sx = 1 if corner[1] == "r" else -1
            path.moveTo(cx, vy)
            path.lineTo(cx, cy + sy * r)
            path.quadTo(cx, cy, cx + sx * r, cy)
            path.lineTo(hx, cy)
            p.save()
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setBrush(Qt.BrushStyle.NoBrush)
            pen = QPen(color, lt)
            pen.setCapStyle(Qt.PenCapStyle.FlatCap)
            p.setPen(pen)
            p.drawPath(path)
            p.restore()
            return True
        if code in _DIAGONALS:
            rising, falling = _DIAGONALS[code]
            p.save()
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setPen(QPen(color, lt))
            if rising:
                p.drawLine(QPointF(x + cw, y), QPointF(x, y + ch))
            if falling:
                p.drawLine(QPointF(x, y), QPointF(x + cw, y + ch))
            p.restore()
            return True
        return False


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


ROW_CACHE_BYTES = 48 * 1024 * 1024
TEXT_CACHE_SIZE = 16384


class _RenderCaches:
    """What views that draw alike (same font, palette, width) share: rendered rows (nine tiles
    of the same agent redraw the same lines) and prepared text runs (QStaticText: laid out
    once, drawn without shaping)."""

    def __init__(self) -> None:
        self.rows: OrderedDict[object, tuple[QImage, object]] = OrderedDict()
        self.texts: dict[tuple[str, int], QStaticText] = {}


_render_caches: dict[tuple[object, ...], _RenderCaches] = {}


def _caches_for(key: tuple[object, ...]) -> _RenderCaches:
    """One set of caches per way of drawing; a few are kept (views of other sizes)."""
    caches = _render_caches.get(key)
    if caches is None:
        if len(_render_caches) >= 4:
            _render_caches.pop(next(iter(_render_caches)))
        caches = _render_caches[key] = _RenderCaches()
    return caches


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
        self._box = BoxGlyphs(1, 1)
        self._plain: dict[str, bool] = {}
        self._widths: dict[str, int] = {}
        # id(style) -> (resolved, style): styles are interned model-wide, and holding the
        # style keeps its id from being reused while the entry exists.
        self._styles: dict[int, tuple[_Resolved, Style]] = {}
        self._text_dy: list[float] = [0.0] * 4
        # Painter state while rows are drawn (set by _draw_rows).
        self._texts: dict[tuple[str, int], QStaticText] = {}
        self._pen: QColor | None = None
        self._font_index = -1
        self._colors: dict[tuple[int, int, int, int], QColor] = {}
        self._frame = QImage()
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
        self.rows_painted = 0  # rows drawn from their runs (row cache misses)
        self.rows_blitted = 0  # rows copied from the shared row cache
        self.rows_unchanged = 0  # dirty rows whose content was already in the frame
        # What each row of the frame image shows (its cache key), and for which caches.
        self._shown: list[tuple[str, object] | None] = []
        self._shown_for: _RenderCaches | None = None

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
        self._styles.clear()
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
        return self._selection.text(self._line_cells)

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
        self._metrics = [QFontMetricsF(f) for f in fonts]
        # QStaticText is placed by its top-left corner: where the baseline lands at _ascent.
        self._text_dy = [self._ascent - m.ascent() for m in self._metrics]
        self._box = BoxGlyphs(self._cw, self._ch)
        self._plain.clear()
        self._full = True

    def _color(self, rgb: RGB, alpha: int = 255) -> QColor:
        key = (*rgb, alpha)
        color = self._colors.get(key)
        if color is None:
            color = self._colors[key] = QColor(rgb[0], rgb[1], rgb[2], alpha)
        return color

    def _rgb(self, color: object, default: RGB) -> RGB:
        if color is None:
            return default
        if isinstance(color, int):
            return self._palette.color(color)
        return color  # type: ignore[return-value]

    def _resolve(self, style: Style) -> _Resolved:
        pal = self._palette
        fg = self._rgb(style.fg, pal.foreground)
        bg_default = style.bg is None
        bg = self._rgb(style.bg, pal.background)
        if style.reverse:
            fg, bg = bg, fg
            bg_default = False
        if style.dim:
            fg = (
                (fg[0] + bg[0]) // 2,
                (fg[1] + bg[1]) // 2,
                (fg[2] + bg[2]) // 2,
            )
        res = _Resolved(
            self._color(fg),
            None if bg_default else self._color(bg),
            int(style.bold) | int(style.italic) << 1,
            style.underline,
            style.strikethrough,
        )
        if len(self._styles) >= 4096:
            self._styles.clear()
        self._styles[id(style)] = (res, style)
        return res

    def _resolved(self, style: Style) -> _Resolved:
        entry = self._styles.get(id(style))
        if entry is not None and entry[1] is style:
            return entry[0]
        return self._resolve(style)

    def _is_plain(self, ch: str) -> bool:
        """A one-cell character the main font draws at exactly one cell's advance."""
        plain = self._plain.get(ch)
        if plain is None:
            m = self._metrics[0]
            plain = (
                not is_box_char(ch)
                and len(ch) == 1
                and m.inFontUcs4(ord(ch))
                and abs(m.horizontalAdvance(ch) - self._cw) < 0.05
            )
            self._plain[ch] = plain
        return plain

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
        model = self._model
        dpr = self.devicePixelRatioF()
        cols, rows = model.cols, model.rows
        if (
            cols != self._frame_cols
            or rows != self._frame_rows
            or self._frame.devicePixelRatioF() != dpr
            or self._frame.isNull()
        ):
            w, h = cols * self._cw, rows * self._ch
            image = QImage(round(w * dpr), round(h * dpr), QImage.Format.Format_RGB32)
            image.setDevicePixelRatio(dpr)
            self._frame = image
            self._frame_cols, self._frame_rows = cols, rows
            self._shown_for = None
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

    def _render_key(self) -> tuple[object, ...]:
        """What a rendered row depends on besides its runs."""
        font = self._fonts[0]
        return (
            font.key(),
            self._palette.name,
            self._cw,
            self._ch,
            self._frame_cols,
            self._frame.devicePixelRatioF(),
        )

    def _draw_rows(self, draw: range | list[int]) -> list[int]:
        """Bring rows ``draw`` of the frame image up to date.

        A row whose content was drawn before (by any view drawing alike) is blitted from the
        shared row cache; others are painted straight into the frame, then copied into the
        cache. Visible rows are looked up by their cells before any runs are built: building
        runs costs more than blitting a cached row. Styles are interned model-wide, so their
        ids stand for them; an entry holds its styles so no id is reused while it exists.
        """
        model = self._model
        caches = _caches_for(self._render_key())
        if self._shown_for is not caches:
            self._shown_for = caches
            self._shown = [None] * self._frame_rows
        shown = self._shown
        changed: list[int] = []
        cache = caches.rows
        frame = self._frame
        dpr = frame.devicePixelRatioF()
        ch = self._ch
        width = self._frame_cols * self._cw
        limit = 0
        hist_len = model.scrollback_len
        top_line = hist_len - self._scroll
        row_of = getattr(getattr(model, "screen", None), "row", None)
        join = "".join
        p: QPainter | None = None
        try:
            for row in draw:
                line = top_line + row
                runs: list[Run] | None = None
                keep: object = None
                now: tuple[str, object] | None = None
                if line < hist_len:
                    runs = model.scrollback_runs(line)
                    key: object = tuple(runs)
                elif row_of is not None:
                    chars, styles = row_of(line - hist_len)
                    text = join(chars)
                    styles_now = tuple(styles)
                    seen = shown[row]
                    # Compared by identity element by element, in C: cheap when equal.
                    if seen is not None and seen[0] == text and seen[1] == styles_now:
                        # A redraw of what the row already shows (a full-clear redraw of an
                        # unchanged screen): its pixels are right.
                        self.rows_unchanged += 1
                        continue
                    # Styles are interned: their ids stand for them (and hash fast).
                    key = (text, tuple(map(id, styles_now)))
                    keep = styles_now
                    now = (text, styles_now)
                else:
                    runs = model.row_runs(line - hist_len)
                    key = tuple(runs)
                changed.append(row)
                if p is None:
                    p = QPainter(frame)
                    self._texts = caches.texts
                    self._pen = None
                    self._font_index = -1
                entry = cache.get(key)
                top = row * ch
                if entry is not None:
                    cache.move_to_end(key)
                    p.drawImage(0, top, entry[0])
                    shown[row] = now
                    self.rows_blitted += 1
                    continue
                self.rows_painted += 1
                if runs is None:
                    runs = model.row_runs(line - hist_len)
                self._paint_row(p, top, runs)
                shown[row] = now
                cache[key] = (
                    frame.copy(0, round(top * dpr), round(width * dpr), round(ch * dpr)),
                    keep,
                )
                if not limit:
                    limit = max(64, ROW_CACHE_BYTES // max(1, round(width * dpr) * ch * 4))
                while len(cache) > limit:
                    cache.popitem(last=False)
        finally:
            if p is not None:
                p.end()
        return changed

    def _row_rect(self, row: int) -> QRect:
        return QRect(0, PADDING + row * self._ch, self.width(), self._ch)

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

    def _paint_row(self, p: QPainter, top: int, runs: list[Run]) -> None:
        """Draw one line: backgrounds as merged rectangles, then one prepared text per run
        (non-ASCII runs: see :meth:`_draw_complex`), then decorations.

        This is the cold path of painting (rows never drawn before), so it is written for
        few Python operations per run: one pass resolves styles and fills backgrounds while
        collecting the text to draw, a second draws it.
        """
        cw, ch = self._cw, self._ch
        fill = p.fillRect
        fill(0, top, self._frame_cols * cw, ch, self._color(self._palette.background))
        style_get = self._styles.get
        resolve = self._resolve
        texts: list[tuple[int, int, str, _Resolved]] = []
        add = texts.append
        fill_bg: QColor | None = None
        fill_from = fill_to = 0
        for col, width, text, style in runs:
            entry = style_get(id(style))
            res = entry[0] if entry is not None and entry[1] is style else resolve(style)
            bg = res[1]
            if bg is not fill_bg:
                if fill_bg is not None:
                    fill(fill_from * cw, top, (fill_to - fill_from) * cw, ch, fill_bg)
                fill_bg = bg
                fill_from = col
            fill_to = col + width
            if res[3] or res[4] or not text.isspace():
                add((col, width, text, res))
        if fill_bg is not None:
            fill(fill_from * cw, top, (fill_to - fill_from) * cw, ch, fill_bg)
        if not texts:
            return
        static_get = self._texts.get
        text_dy = self._text_dy
        draw = p.drawStaticText
        font_index = self._font_index
        pen = self._pen
        for col, width, text, res in texts:
            fg, _bg, font, underline, strike = res
            if font != font_index:
                font_index = self._font_index = font
                p.setFont(self._fonts[font])
            if fg is not pen:
                pen = self._pen = fg
                p.setPen(fg)
            x = col * cw
            if text.isascii():
                body = text.strip(" ")
                if body:
                    static = static_get((body, font)) or self._prepare_text(body, font)
                    if text[0] == " ":
                        x += (len(text) - len(text.lstrip(" "))) * cw
                    draw(QPointF(x, top + text_dy[font]), static)
                    x = col * cw
            else:
                self._draw_complex(p, x, top, top + round(self._ascent), text, fg)
            if underline or strike:
                self._decorate(p, x, top, width * cw, res)

    def _prepare_text(self, text: str, font: int) -> QStaticText:
        """A run's text laid out once in a font variant; drawn later without shaping."""
        texts = self._texts
        if len(texts) >= TEXT_CACHE_SIZE:
            texts.clear()
        static = QStaticText(text)
        static.setTextFormat(Qt.TextFormat.PlainText)
        static.setPerformanceHint(QStaticText.PerformanceHint.AggressiveCaching)
        static.prepare(QTransform(), self._fonts[font])
        texts[(text, font)] = static
        return static

    def _draw_plain(self, p: QPainter, x: int, top: int, text: str) -> None:
        """Plain one-cell characters at ``x`` in the painter's current font variant."""
        font = self._font_index
        static = self._texts.get((text, font))
        if static is None:
            static = self._prepare_text(text, font)
        p.drawStaticText(QPointF(x, top + self._text_dy[font]), static)

    def _draw_complex(
        self, p: QPainter, x0: int, top: int, baseline: int, text: str, color: QColor
    ) -> None:
        """A run with non-ASCII text: plain stretches in one call, box characters by geometry,
        wide and fallback-font characters one by one at their cells."""
        cw = self._cw
        col = 0
        seg_start = 0
        seg: list[str] = []
        n = len(text)
        i = 0
        widths = self._widths
        while i < n:
            ch = text[i]
            # Combining marks (width 0) follow their base character.
            j = i + 1
            while j < n and (widths.get(text[j]) or _width(widths, text[j])) == 0:
                j += 1
            cluster = text[i:j]
            if len(cluster) == 1 and self._is_plain(ch):
                if not seg:
                    seg_start = col
                seg.append(ch)
                col += 1
                i = j
                continue
            if seg:
                self._draw_plain(p, x0 + seg_start * cw, top, "".join(seg))
                seg = []
            cells = 2 if (widths.get(ch) or _width(widths, ch)) == 2 else 1
            x = x0 + col * cw
            if is_box_char(ch):
                k = j
                if ch in _HRULES:
                    while k < n and text[k] == ch:
                        k += 1
                count = k - i
                for rx, ry, rw, rh, alpha in self._box.rects(ch):
                    fill = color if alpha == 255 else self._color(_rgb_of(color), alpha)
                    if count > 1 and rw == cw - rx and rx == 0:
                        p.fillRect(x, top + ry, rw * count, rh, fill)
                    elif count > 1:
                        for c in range(count):
                            p.fillRect(x + c * cw + rx, top + ry, rw, rh, fill)
                    else:
                        p.fillRect(x + rx, top + ry, rw, rh, fill)
                if not self._box.rects(ch):
                    for c in range(count):
                        self._box.draw_path_glyph(p, ch, x + c * cw, top, color)
                    p.setPen(color)
                col += count
                i = k
                continue
            if ch != " ":
                p.drawText(x, baseline, cluster)
            col += cells
            i = j
        if seg:
            self._draw_plain(p, x0 + seg_start * cw, top, "".join(seg))

    def _decorate(self, p: QPainter, x: int, top: int, width: int, res: _Resolved) -> None:
        ch = self._ch
        t = self._box.light
        color = res.fg
        if res.strike:
            p.fillRect(x, top + ch // 2, width, t, color)
        kind = res.underline
        if not kind:
            return
        y = min(top + ch - t, top + self._ascent + max(1, ch // 12))
        if kind == 1:
            p.fillRect(x, y, width, t, color)
        elif kind == 2:
            p.fillRect(x, y - t - 1, width, t, color)
            p.fillRect(x, y + 1, width, t, color)
        else:
            p.save()
            pen = QPen(color, t)
            if kind == 3:
                p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
                path = QPainterPath()
                amp = max(1.0, ch / 10)
                step = max(2.0, self._cw / 2)
                path.moveTo(x, y)
                k = 0
                xx = float(x)
                while xx < x + width:
                    xx += step
                    path.quadTo(xx - step / 2, y + (amp if k % 2 else -amp), xx, y)
                    k += 1
                p.setPen(pen)
                p.drawPath(path)
            else:
                pen.setStyle(Qt.PenStyle.DotLine if kind == 4 else Qt.PenStyle.DashLine)
                pen.setCapStyle(Qt.PenCapStyle.FlatCap)
                p.setPen(pen)
                p.drawLine(QPointF(x, y + t / 2), QPointF(x + width, y + t / 2))
            p.restore()
            p.setPen(color)

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
                res = self._resolved(cur.style)
                p.setFont(self._fonts[res.font])
                p.setPen(self._color(pal.cursor_text))
                p.drawText(x, y + self._ascent, cur.text)

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
        self._fit_model_to_widget()

    def _first_fit(self) -> None:
        self._laid_out = True
        self._fit_model_to_widget()

    def _fit_model_to_widget(self, force_notify: bool = False) -> None:
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


def _width(cache: dict[str, int], ch: str) -> int:
    """Cells a character takes (wcwidth, as the model uses), with -1 counted as one."""
    w = wcwidth(ch)
    w = 1 if w < 0 else w
    cache[ch] = w
    return w


def _rgb_of(color: QColor) -> RGB:
    return color.red(), color.green(), color.blue()


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

__all__ = ["DARK", "BoxGlyphs", "FrameGovernor", "TerminalView", "sanitize_paste"]
