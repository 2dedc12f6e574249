"""Tokens and cost in the window: the usage dialog (a per-day bar chart and a per-session table),
and the short texts the tile headers and the queue dock's tooltips show.

The figures are what the engine summed from the sessions' transcripts
(:mod:`c3desk.core.usage`); this module only reads and draws them. The dialog is not modal; it
reads the database again every few seconds while it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from PySide6.QtCore import QPoint, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QHideEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from c3desk.core import usage
from c3desk.ui.theme import current_theme, theme_colors

PERIODS: Final = (("Last 7 days", 7), ("Last 30 days", 30), ("Last 90 days", 90), ("All", 0))
REFRESH_MS: Final = 5000


# -- the short texts ---------------------------------------------------------------------------


def header_text(totals: usage.Totals | None) -> tuple[str, str]:
    """(label, tooltip) of a tile header's usage: ``12.3k tok · $0.42``; empty before any."""
    if totals is None or totals.total == 0:
        return "", ""
    label = (
        f"{usage.tokens_text(totals.total)} tok · {usage.cost_text(totals.cost, totals.unpriced)}"
    )
    return label, breakdown(totals)


def breakdown(totals: usage.Totals) -> str:
    """The four counts and the cost, one per line (tooltips)."""
    lines = [
        f"Tokens: {totals.total:,} in {totals.messages:,} messages",
        f"  input {totals.input:,}",
        f"  output {totals.output:,}",
        f"  cache write {totals.cache_write:,}",
        f"  cache read {totals.cache_read:,}",
        f"Estimated cost: {usage.cost_text(totals.cost, totals.unpriced)}",
    ]
    if totals.unpriced:
        lines.append(f"No price for {', '.join(totals.unpriced)} (agents.toml [[claude.prices]])")
    return "\n".join(lines)


def queue_tooltip_line(session_id: str) -> str | None:
    """The queue dock tooltip's line for a session (read when the pointer rests on it)."""
    totals = usage.session_totals(session_id)
    if totals is None or totals.total == 0:
        return None
    return f"tokens: {totals.total:,} · cost {usage.cost_text(totals.cost, totals.unpriced)}"


def session_totals(session_id: str) -> usage.Totals | None:
    return usage.session_totals(session_id)


# -- the chart -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    day: str
    value: float
    totals: usage.Totals


def _days(since: date, until: date) -> list[str]:
    return [(since + timedelta(days=n)).isoformat() for n in range((until - since).days + 1)]


class DayChart(QWidget):
    """Bars per day, painted with QPainter: the estimated cost (or tokens), a few grid lines
    with their values, and day labels that thin out when the days are many."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: list[Bar] = []
        self.measure = "cost"
        self.setMinimumSize(QSize(420, 180))
        self.setMouseTracking(True)
        self.setAccessibleName("Tokens and cost per day")

    def set_bars(self, bars: list[Bar], metric: str) -> None:
        self.bars, self.measure = bars, metric
        self.update()

    def _label(self, value: float) -> str:
        if self.measure == "cost":
            return usage.cost_text(value)
        return usage.tokens_text(int(value))

    def _plot(self) -> QRectF:
        fm = QFontMetrics(self.font())
        left = fm.horizontalAdvance(self._label(self._top())) + 12
        return QRectF(left, 8, max(self.width() - left - 8, 10), self.height() - fm.height() - 20)

    def _top(self) -> float:
        """A round ceiling above the largest bar: 1, 2 or 5 times a power of ten."""
        peak = max((b.value for b in self.bars), default=0.0)
        if peak <= 0:
            return 1.0 if self.measure == "cost" else 1000.0
        step = 10 ** len(str(int(peak))) / 10 if peak >= 1 else 1.0
        while step > peak and step > 1e-6:
            step /= 10
        for factor in (1, 2, 5, 10):
            if step * factor >= peak:
                return step * factor
        return peak

    def bar_at(self, point: QPoint) -> Bar | None:
        plot = self._plot()
        if not self.bars or not plot.contains(point.toPointF()):
            return None
        index = int((point.x() - plot.left()) / (plot.width() / len(self.bars)))
        return self.bars[index] if 0 <= index < len(self.bars) else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        bar = self.bar_at(event.position().toPoint())
        if bar is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(
                event.globalPosition().toPoint(), f"{bar.day}\n{breakdown(bar.totals)}", self
            )
        super().mouseMoveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        colors = theme_colors(current_theme())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.fillRect(self.rect(), QColor(colors["base"]))
        plot = self._plot()
        top = self._top()
        fm = QFontMetrics(self.font())
        grid = QPen(QColor(colors["border"]))
        text = QColor(colors["dim_text"])
        for n in range(5):  # grid lines at 0, 1/4 ... of the top
            y = plot.bottom() - plot.height() * n / 4
            painter.setPen(grid)
            painter.drawLine(int(plot.left()), int(y), int(plot.right()), int(y))
            painter.setPen(text)
            label = self._label(top * n / 4)
            painter.drawText(
                QRectF(0, y - fm.height() / 2, plot.left() - 6, fm.height()),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                label,
            )
        if not self.bars:
            painter.setPen(text)
            painter.drawText(plot, int(Qt.AlignmentFlag.AlignCenter), "No token usage recorded")
            painter.end()
            return
        slot = plot.width() / len(self.bars)
        width = max(slot * 0.7, 1.0)
        colour = QColor(colors["accent"])
        every = max(1, int(fm.horizontalAdvance("00-00 ") / max(slot, 1)) + 1)
        for i, bar in enumerate(self.bars):
            x = plot.left() + slot * i + (slot - width) / 2
            height = plot.height() * (bar.value / top) if top > 0 else 0.0
            if bar.value > 0:
                painter.fillRect(
                    QRectF(x, plot.bottom() - max(height, 1.0), width, max(height, 1.0)), colour
                )
            if i % every == 0 or (i == len(self.bars) - 1 and len(self.bars) < 3):
                painter.setPen(text)
                painter.drawText(
                    QRectF(plot.left() + slot * i - 20, plot.bottom() + 4, slot + 40, fm.height()),
                    int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
                    bar.day[5:],
                )
        painter.end()


# -- the dialog ------------------------------------------------------------------------------

COLUMNS: Final = (
    "Session",
    "Title",
    "Status",
    "Input",
    "Output",
    "Cache write",
    "Cache read",
    "Total",
    "Cost",
)


class _Number(QTableWidgetItem):
    """A cell that sorts by its number, not its text."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.value = value
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _Number):
            return self.value < other.value
        return super().__lt__(other)


class UsageDialog(QDialog):
    """Tokens and estimated cost: per day (a chart) and per session (a table)."""

    def __init__(self, parent: QWidget | None = None, *, today: date | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Tokens and cost")
        self.setObjectName("usageDialog")
        self._today = today
        self.period = QComboBox(self)
        for label, days in PERIODS:
            self.period.addItem(label, days)
        self.period.setCurrentIndex(1)
        self.measure = QComboBox(self)
        self.measure.addItem("Cost", "cost")
        self.measure.addItem("Tokens", "tokens")
        self.summary = QLabel(self)
        self.summary.setObjectName("usageSummary")
        self.chart = DayChart(self)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSortingEnabled(True)
        self.note = QLabel(
            "Estimated from the sessions' transcripts at the prices in the agent profile "
            "(agents.toml [[claude.prices]]).",
            self,
        )
        self.note.setWordWrap(True)
        self.note.setObjectName("usageNote")
        top = QHBoxLayout()
        top.addWidget(QLabel("Period:", self))
        top.addWidget(self.period)
        top.addWidget(QLabel("Chart:", self))
        top.addWidget(self.measure)
        top.addStretch(1)
        top.addWidget(self.summary)
        split = QSplitter(Qt.Orientation.Vertical, self)
        split.addWidget(self.chart)
        split.addWidget(self.table)
        split.setSizes([220, 260])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.resize(820, 560)
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        self.measure.currentIndexChanged.connect(lambda _i: self.refresh())
        self._timer = QTimer(self, interval=REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        self.refresh()
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def since(self, today: date | None = None) -> date | None:
        """The period's first day (None: all time), counted back from ``today``."""
        days = int(self.period.currentData() or 0)
        today = today or self._today or date.today()
        return today - timedelta(days=days - 1) if days else None

    def refresh(self) -> None:
        today = self._today or date.today()  # read once: a refresh at midnight keeps its period
        since = self.since(today)
        per_day = dict(usage.by_day(since))
        first = since or (min((date.fromisoformat(d) for d in per_day), default=today))
        metric = str(self.measure.currentData() or "cost")
        bars = []
        for day in _days(first, max(today, first)):
            totals = per_day.get(day, usage.Totals())
            value = totals.cost if metric == "cost" else float(totals.total)
            bars.append(Bar(day, value, totals))
        self.chart.set_bars(bars, metric)
        cost = sum(t.cost for t in per_day.values())
        tokens = sum(t.total for t in per_day.values())
        unpriced = sorted({m for t in per_day.values() for m in t.unpriced})
        self.summary.setText(f"{tokens:,} tokens · {usage.cost_text(cost, unpriced)}")
        self._fill(usage.by_session(since))

    def _fill(self, sessions: list[usage.SessionTotals]) -> None:
        table = self.table
        table.setSortingEnabled(False)
        table.setRowCount(len(sessions))
        for r, s in enumerate(sessions):
            t = s.totals
            cells: list[QTableWidgetItem] = [
                QTableWidgetItem(s.session_id[:8]),
                QTableWidgetItem(s.title),
                QTableWidgetItem(s.status),
                _Number(f"{t.input:,}", t.input),
                _Number(f"{t.output:,}", t.output),
                _Number(f"{t.cache_write:,}", t.cache_write),
                _Number(f"{t.cache_read:,}", t.cache_read),
                _Number(f"{t.total:,}", t.total),
                _Number(usage.cost_text(t.cost, t.unpriced), t.cost),
            ]
            cells[0].setData(Qt.ItemDataRole.UserRole, s.session_id)
            cells[0].setToolTip(s.session_id)
            cells[-1].setToolTip(breakdown(t))
            for c, item in enumerate(cells):
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()


def show_usage(parent: QWidget) -> UsageDialog:
    """Open the window's usage dialog (one per window), or bring it to the front."""
    dialog = parent.findChild(UsageDialog, "usageDialog")
    if isinstance(dialog, UsageDialog) and dialog.isVisible():
        dialog.raise_()
        dialog.activateWindow()
        return dialog
    if not isinstance(dialog, UsageDialog):
        dialog = UsageDialog(parent)
    dialog.show()
    return dialog
