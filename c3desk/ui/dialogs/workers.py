"""The Workers dialog: the workers with their status, and the form that adds or edits one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QDir, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from c3desk.core import workers as core_workers
from c3desk.core.views import dialogs as views
from c3desk.core.views.dialogs import WorkerRow
from c3desk.errors import C3Error
from c3desk.ui.dialogs.common import FieldError, not_default, route_error, set_buddy, with_error
from c3desk.ui.theme import current_theme, theme_colors

WORKER_COLUMNS: Final = ("Name", "Type", "Status", "Address", "Max sessions", "Last heartbeat")


# What the form shows for a new worker: the defaults of core.workers.add_worker.
_BLANK: Final = WorkerRow(
    name="",
    type="remote",
    status="disconnected",
    host=None,
    port=22,
    user=None,
    key_path=None,
    max_sessions=2,
    last_heartbeat=None,
)


def _address(worker: WorkerRow) -> str:
    if worker.local:
        return "this computer"
    host = worker.host or ""
    user = f"{worker.user}@" if worker.user else ""
    port = f":{worker.port}" if worker.port not in (None, 22) else ""
    return f"{user}{host}{port}"


class WorkerForm(QGroupBox):
    """The add/edit form of the Workers dialog: SSH details and the session limit."""

    _ROUTES: Final = (
        ("worker name", "name"),
        ("a worker named", "name"),
        ("host", "host"),
        ("port", "port"),
        ("user", "user"),
        ("key file", "key"),
        ("max sessions", "max_sessions"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editing: str | None = None  # the worker's name, None when adding
        self.key_picker: QFileDialog | None = None
        self.name_edit = QLineEdit()
        self.host_edit = QLineEdit()
        self.host_edit.setPlaceholderText("host name or address")
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("optional: your user name by default")
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("optional: ~/.ssh/id_ed25519")
        self.key_button = QPushButton("Browse…")
        self.max_spin = QSpinBox()
        self.max_spin.setRange(1, 64)
        self.errors: dict[str, FieldError] = {
            n: FieldError() for n in ("name", "host", "port", "user", "key", "max_sessions")
        }
        self.errors["general"] = FieldError()
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.key_button)
        form = QFormLayout()
        form.addRow("&Name:", with_error(self.name_edit, self.errors["name"]))
        form.addRow("&Host:", with_error(self.host_edit, self.errors["host"]))
        form.addRow("P&ort:", with_error(self.port_spin, self.errors["port"]))
        form.addRow("&User:", with_error(self.user_edit, self.errors["user"]))
        form.addRow("&Key file:", with_error(key_row, self.errors["key"]))
        form.addRow("&Max sessions:", with_error(self.max_spin, self.errors["max_sessions"]))
        for widget in (
            self.name_edit,
            self.host_edit,
            self.port_spin,
            self.user_edit,
            self.key_edit,
            self.max_spin,
        ):
            set_buddy(form, widget)
        self.save_button = QPushButton("&Save")
        self.cancel_button = QPushButton("Cancel")
        not_default(self.save_button, self.cancel_button, self.key_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.errors["general"], 1)
        buttons.addStretch(0)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        self.key_button.clicked.connect(self.browse_key)
        self.name_edit.returnPressed.connect(self.save_button.click)
        self.host_edit.returnPressed.connect(self.save_button.click)

    def start(self, worker: WorkerRow | None) -> None:
        """Fill the form for ``worker`` (edit) or empty (add) and show it."""
        self.clear_errors()
        self.editing = worker.name if worker is not None else None
        local = worker is not None and worker.local
        self.setTitle(
            "Add a worker"
            if worker is None
            else f"Edit {worker.name}" + (" (only its session limit can change)" if local else "")
        )
        shown = worker if worker is not None else _BLANK
        self.name_edit.setText(shown.name)
        self.host_edit.setText(shown.host or "")
        self.port_spin.setValue(shown.port or 22)
        self.user_edit.setText(shown.user or "")
        self.key_edit.setText(shown.key_path or "")
        self.max_spin.setValue(shown.max_sessions)
        for widget in (self.name_edit, self.host_edit, self.user_edit, self.key_edit):
            widget.setReadOnly(local)
        self.port_spin.setReadOnly(local)
        self.port_spin.setEnabled(not local)
        self.key_button.setEnabled(not local)
        if local:
            self.host_edit.setText("this computer")
        self.show()
        (self.max_spin if local else self.name_edit).setFocus()

    def clear_errors(self) -> None:
        for label in self.errors.values():
            label.show_error(None)

    def show_error(self, exc: C3Error) -> None:
        field = route_error(str(exc), self._ROUTES, "general")
        self.errors[field].show_error(str(exc))

    def values(self) -> dict[str, Any]:
        """The form as keyword arguments for add_worker/update_worker (empty text: None)."""
        return {
            "name": self.name_edit.text(),
            "host": self.host_edit.text(),
            "port": self.port_spin.value(),
            "user": self.user_edit.text().strip() or None,
            "key_path": self.key_edit.text().strip() or None,
            "max_sessions": self.max_spin.value(),
        }

    def browse_key(self) -> None:
        """Open the key file picker without blocking; the choice fills the key field."""
        if self.key_picker is None:
            picker = QFileDialog(self, "Choose the SSH private key")
            picker.setFileMode(QFileDialog.FileMode.ExistingFile)
            picker.setOption(QFileDialog.Option.DontResolveSymlinks, True)
            picker.setFilter(picker.filter() | QDir.Filter.Hidden)
            picker.fileSelected.connect(self.key_edit.setText)
            self.key_picker = picker
        ssh = Path.home() / ".ssh"
        if ssh.is_dir():
            self.key_picker.setDirectory(str(ssh))
        self.key_picker.open()


class WorkersDialog(QDialog):
    """The workers with their status and last heartbeat; add, edit and remove them.

    ``workersChanged()`` follows every stored change.
    """

    workersChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Workers")
        self.resize(760, 440)
        self.confirm_box: QMessageBox | None = None
        self.table = QTableWidget(0, len(WORKER_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(WORKER_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.add_button = QPushButton("&Add…")
        self.edit_button = QPushButton("&Edit…")
        self.remove_button = QPushButton("&Remove")
        self.close_button = QPushButton("Close")
        not_default(self.add_button, self.edit_button, self.remove_button, self.close_button)
        self.error = FieldError()
        self.form = WorkerForm()
        self.form.hide()

        side = QVBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            side.addWidget(button)
        side.addStretch(1)
        side.addWidget(self.close_button)
        top = QHBoxLayout()
        top.addWidget(self.table, 1)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.form)

        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.remove_button.clicked.connect(self.remove)
        self.close_button.clicked.connect(self.reject)
        self.form.save_button.clicked.connect(self.save)
        self.form.cancel_button.clicked.connect(self.form.hide)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit())
        self.refresh()

    def refresh(self) -> None:
        """Reload the table from the database, keeping the selected worker selected."""
        selected = self.selected_name()
        workers = views.workers()
        self.table.setRowCount(len(workers))
        for row, w in enumerate(workers):
            cells = (
                w.name,
                w.type,
                w.status,
                _address(w),
                str(w.max_sessions),
                w.last_heartbeat or "never",
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, w.name)
                if column == 2:
                    item.setForeground(QColor(_status_color(w.status)))
                self.table.setItem(row, column, item)
            if selected is not None and w.name == selected:
                self.table.selectRow(row)
        self._selection_changed()

    def selected_name(self) -> str | None:
        items = self.table.selectedItems()
        data = items[0].data(Qt.ItemDataRole.UserRole) if items else None
        return data if isinstance(data, str) else None

    def select(self, name: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == name:
                self.table.selectRow(row)
                return

    def _selected_worker(self) -> WorkerRow | None:
        name = self.selected_name()
        return views.worker(name) if name is not None else None

    def _selection_changed(self) -> None:
        worker = self._selected_worker()
        self.edit_button.setEnabled(worker is not None)
        self.remove_button.setEnabled(worker is not None and not worker.local)
        self.remove_button.setToolTip(
            "The local worker cannot be removed" if worker is not None and worker.local else ""
        )

    def add(self) -> None:
        self.error.show_error(None)
        self.form.start(None)

    def edit(self) -> None:
        self.error.show_error(None)
        worker = self._selected_worker()
        if worker is None:
            self.error.show_error("select a worker to edit")
            return
        self.form.start(worker)

    def save(self) -> None:
        """Store the form (add or edit); errors stay next to their fields."""
        self.form.clear_errors()
        values = self.form.values()
        name = values.pop("name")
        try:
            if self.form.editing is None:
                worker = core_workers.add_worker(name, **values)
            else:
                current = views.worker(self.form.editing)
                if current is not None and current.local:
                    worker = core_workers.update_worker(
                        self.form.editing, max_sessions=values["max_sessions"]
                    )
                else:
                    worker = core_workers.update_worker(
                        self.form.editing, new_name=name.strip() or None, **values
                    )
        except C3Error as exc:
            self.form.show_error(exc)
            return
        self.form.hide()
        self.refresh()
        self.select(str(worker.name))
        self.workersChanged.emit()

    def remove(self) -> None:
        """Ask (without blocking) whether to remove the selected worker."""
        self.error.show_error(None)
        name = self.selected_name()
        if name is None:
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove worker",
            f"Remove the worker {name!r}? Its queued sessions will run on any worker.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Remove")

        def answered(button: QAbstractButton) -> None:
            if box.standardButton(button) == QMessageBox.StandardButton.Yes:
                self.remove_now(name)

        box.buttonClicked.connect(answered)
        box.finished.connect(box.deleteLater)
        self.confirm_box = box
        box.open()

    def remove_now(self, name: str) -> bool:
        """Remove worker ``name`` at once; show why not when the core refuses."""
        try:
            core_workers.remove_worker(name)
        except C3Error as exc:
            self.error.show_error(str(exc))
            return False
        if self.form.editing == name:
            self.form.hide()
        self.refresh()
        self.workersChanged.emit()
        return True


def _status_color(status: str) -> str:
    colors = theme_colors(current_theme())
    return {"connected": colors["completed"], "error": colors["failed"]}.get(
        status, colors["dim_text"]
    )


__all__ = ["WORKER_COLUMNS", "WorkerForm", "WorkersDialog"]
