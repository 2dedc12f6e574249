"""The search panel: a query box over history, its matches with their lines, and the way back to
the match in a session's terminal.

Queries run on the GUI thread: the index answers in milliseconds (benchmarks/search.py), and a
short pause after typing (:data:`TYPING_PAUSE_MS`) keeps a fast typist from asking for every
letter. Activating a match emits :attr:`SearchPanel.matchActivated`; the main window brings the
session into the grid and calls :func:`scroll_to_text` on its terminal view.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from c3desk.core import search
from c3desk.errors import C3Error
from c3desk.ui.terminal_view import TerminalView

TYPING_PAUSE_MS = 200
LIMIT = 200
MatchRole = Qt.ItemDataRole.UserRole + 1
_SPACES = re.compile(r"\s+")
_BOXES = re.compile(r"[\u2500-\u257f\u2580-\u259f]+")


def match_html(match: search.Match) -> str:
    """Two lines: the session (title, status, where) and the matching line, words in bold."""
    parts, last = [], 0
    for start, end in match.spans:
        parts.append(html.escape(match.text[last:start]))
        parts.append(f"<b><u>{html.escape(match.text[start:end])}</u></b>")
        last = end
    parts.append(html.escape(match.text[last:]))
    head = (
        f"<b>{html.escape(match.title or match.session_id[:8])}</b>"
        f" &nbsp;<small>{html.escape(match.status)} · {html.escape(match.place)} · "
        f"{html.escape(match.session_id[:8])}</small>"
    )
    return f"{head}<br><tt>{''.join(parts)}</tt>"


class _HtmlDelegate(QStyledItemDelegate):
    """Paints an item's text as rich text (the matched words in bold)."""

    def _doc(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setHtml(str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        doc.setTextWidth(-1)  # one line each: a long line is cut at the edge (its tooltip has it)
        return doc

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        self.initStyleOption(option, index)
        doc = self._doc(option, index)
        text = option.text
        option.text = ""
        style = option.widget.style() if option.widget else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, option.widget)
        option.text = text
        painter.save()
        rect = option.rect
        painter.translate(rect.topLeft())
        context = QAbstractTextDocumentLayout.PaintContext()
        context.clip = QRectF(0, 0, rect.width(), rect.height())
        painter.setClipRect(context.clip)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        context.palette.setColor(QPalette.ColorRole.Text, option.palette.color(role))
        doc.documentLayout().draw(painter, context)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        self.initStyleOption(option, index)
        doc = self._doc(option, index)
        return QSize(int(doc.idealWidth()), int(doc.size().height()) + 4)


class SearchPanel(QWidget):
    """The query box, a line saying how many matched (or what is wrong), and the matches."""

    matchActivated = Signal(str, str)  # session id, the matching line's text

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchPanel")
        self.query = QLineEdit(self)
        self.query.setObjectName("searchQuery")
        self.query.setPlaceholderText("Search titles, folders, prompts and output…")
        self.query.setClearButtonEnabled(True)
        self.status = QLabel(self)
        self.status.setObjectName("searchStatus")
        self.status.setWordWrap(True)
        self.results = QListWidget(self)
        self.results.setObjectName("searchResults")
        self.results.setItemDelegate(_HtmlDelegate(self.results))
        self.results.setWordWrap(True)
        self.results.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.query)
        layout.addWidget(self.status)
        layout.addWidget(self.results, 1)
        self._timer = QTimer(self, singleShot=True, interval=TYPING_PAUSE_MS)
        self._timer.timeout.connect(self.run)
        self.query.textChanged.connect(lambda _text: self._timer.start())
        self.query.returnPressed.connect(self.run)
        self.results.itemActivated.connect(self._activated)
        self.matches: list[search.Match] = []

    def focus_query(self) -> None:
        self.query.setFocus()
        self.query.selectAll()

    def run(self) -> None:
        """Search now for what the box says."""
        self._timer.stop()
        text = self.query.text()
        self.results.clear()
        self.matches = []
        if not text.strip():
            self.status.setText("")
            return
        try:
            self.matches = search.search(text, LIMIT)
        except C3Error as exc:
            self.status.setText(str(exc))
            return
        count = len(self.matches)
        more = "+" if count >= LIMIT else ""
        self.status.setText(
            f"{count}{more} match{'es' if count != 1 else ''}" if count else "no matches"
        )
        for match in self.matches:
            item = QListWidgetItem(match_html(match))
            item.setData(MatchRole, match)
            item.setToolTip(match.text)
            self.results.addItem(item)

    def _activated(self, item: QListWidgetItem) -> None:
        match: search.Match = item.data(MatchRole)
        self.matchActivated.emit(match.session_id, match.text if match.line is not None else "")


def _norm(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def find_line(view: TerminalView, text: str) -> int | None:
    """The newest line of the view's history and screen that shows ``text`` (the start of it,
    when it wraps), as an index into history followed by the screen; None when it is not there."""
    # The line as a whole first; then its parts between box drawing (a row of the terminal
    # may hold only a part of what was written as one line).
    parts = [_norm(text)] + [_norm(p) for p in _BOXES.split(text)]
    needles = [p[:40] for p in dict.fromkeys(parts) if len(p) >= 4]
    model = view.model
    screen = model.display
    for needle in needles:
        for y in range(len(screen) - 1, -1, -1):
            if needle in _norm(screen[y]):
                return model.scrollback_len + y
        for i in range(model.scrollback_len - 1, -1, -1):
            if needle in _norm(model.scrollback_text(i)):
                return i
    return None


def scroll_to_text(view: TerminalView, text: str) -> bool:
    """Scroll the view so that the newest line showing ``text`` is near its top (or follow the
    output when it is on the screen); False when the terminal no longer holds it."""
    line = find_line(view, text)
    if line is None:
        return False
    model = view.model
    if line >= model.scrollback_len:
        view.scroll_to(0)
    else:
        view.scroll_to(model.scrollback_len - max(0, line - 2))
    return True
