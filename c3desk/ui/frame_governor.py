"""The frame-rate governor shared by the terminal views: painting slows under load, data never.

Views register while shown and report the time they spend painting; the governor lowers their
frame-rate caps when the event loop lags, unfocused tiles first, and spreads out the frames of
unfocused views that fall due together.
"""

from __future__ import annotations

import time
import weakref
from collections import deque

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication

MAX_FPS = 60.0
MIN_FPS = 4.0


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
        self._views: weakref.WeakSet[QObject] = weakref.WeakSet()
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

    def register(self, view: QObject) -> None:
        self._views.add(view)
        if not self._timer.isActive():
            self._last = self._window_start = time.monotonic()
            self._max_lag = self._paint = 0.0
            self._timer.start()

    def unregister(self, view: QObject) -> None:
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
_last_focused: weakref.ref[QObject] | None = None


def frame_governor() -> FrameGovernor:
    """The governor shared by all views of this application."""
    app = QGuiApplication.instance()
    key = id(app)
    gov = _governors.get(key)
    if gov is None:
        _governors.clear()
        gov = _governors[key] = FrameGovernor()
    return gov


def note_focus(view: QObject) -> None:
    """``view`` took the keyboard focus: it is the focused tile until another one takes it."""
    global _last_focused
    _last_focused = weakref.ref(view)


def last_focused() -> QObject | None:
    """The view that had the keyboard focus last, if it still exists."""
    return _last_focused() if _last_focused is not None else None


__all__ = ["MAX_FPS", "MIN_FPS", "FrameGovernor", "frame_governor", "last_focused", "note_focus"]
