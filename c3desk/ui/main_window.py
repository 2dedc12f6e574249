"""The main window. For now: the queue as a read-only table, refreshed from the database."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMainWindow, QTableWidget, QTableWidgetItem

from c3desk.config import Paths
from c3desk.core import sessions as sess

COLUMNS = ("position", "title", "status", "working_directory", "needs_input")


class MainWindow(QMainWindow):
    def __init__(self, paths: Paths) -> None:
        super().__init__()
        self.paths = paths
        self.setWindowTitle("c3desk")
        self.resize(1100, 700)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels([c.replace("_", " ") for c in COLUMNS])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.setCentralWidget(self.table)
        self.refresh()
        self._timer = QTimer(self, interval=1000, timeout=self.refresh)
        self._timer.start()

    def refresh(self) -> None:
        rows = [sess.as_dict(s) for s in sess.list_sessions()]
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, key in enumerate(COLUMNS):
                value = row[key]
                self.table.setItem(r, c, QTableWidgetItem("" if value is None else str(value)))
