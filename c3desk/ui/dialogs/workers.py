"""The Workers dialog: the workers with their status, and the form that adds or edits one.

Test does what ``c3desk worker check`` does, in a thread of its own (a connection attempt may
take up to a minute and the GUI's loop must not wait for it); its outcome comes back to the GUI
thread through a queued signal. An unknown host key opens the host-key dialog, where the user
compares the fingerprint before trusting it; an encrypted key file opens a passphrase prompt.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from PySide6.QtCore import QDir, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from c3desk import clock
from c3desk.config import resolve_home
from c3desk.core import workers as core_workers
from c3desk.core.engine import Engine, EngineEvent
from c3desk.core.views import dialogs as views
from c3desk.core.views import workers as vw
from c3desk.core.views.dialogs import WorkerRow
from c3desk.core.views.workers import CheckResult, Removal
from c3desk.errors import C3Error
from c3desk.transports.ssh_login import PASSPHRASES
from c3desk.ui.dialogs.common import FieldError, not_default, route_error, set_buddy, with_error
from c3desk.ui.dialogs.host_key import HostKeyDialog
from c3desk.ui.theme import current_theme, theme_colors

log = logging.getLogger(__name__)

WORKER_COLUMNS: Final = ("Name", "Status", "Reason", "Active", "Address", "Last heartbeat")
COLUMN_STATUS: Final = 1
COLUMN_REASON: Final = 2
COLUMN_LOAD: Final = 3  # active/limit
COLUMN_HEARTBEAT: Final = 5


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


class PassphraseDialog(QDialog):
    """Asks once for the passphrase of an encrypted key file (typed text hidden), with the
    choice to keep it in the system keyring. ``given(passphrase, save)`` on OK; the Workers
    dialog remembers it and answers with :meth:`show_error` when saving it failed."""

    given = Signal(str, bool)

    def __init__(
        self, worker: str, key_path: Path, wrong: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.key_path = key_path
        self.setWindowTitle(f"Passphrase for {worker}")
        text = (
            f"The key file {key_path} of the worker {worker} is encrypted. "
            "Enter its passphrase to log in:"
        )
        if wrong:
            text = f"That passphrase did not unlock {key_path}. Enter it again:"
        self.prompt = QLabel(text)
        self.prompt.setWordWrap(True)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setObjectName("passphraseEdit")
        self.save_check = QCheckBox("&Save in the system keyring")
        self.save_check.setToolTip(
            "Otherwise c3desk keeps it in memory only and asks again after a restart"
        )
        self.error = FieldError()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.prompt)
        layout.addWidget(self.edit)
        layout.addWidget(self.save_check)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self.edit.textChanged.connect(lambda text: self.ok_button.setEnabled(bool(text)))
        self.buttons.accepted.connect(self._given)
        self.buttons.rejected.connect(self.reject)

    def _given(self) -> None:
        if not self.edit.text():
            return
        self.error.show_error(None)
        self.given.emit(self.edit.text(), self.save_check.isChecked())

    def show_error(self, message: str) -> None:
        self.error.show_error(message)


class RemoveWorkerDialog(QDialog):
    """Asked before removing a worker that has queued sessions: where do they go?

    ``chosen(reassign_to, drop)``: ``reassign_to`` a worker's name, ``"any"`` (whichever worker is
    free) or "" when they are dropped from the queue (``drop`` True).
    """

    chosen = Signal(str, bool)

    def __init__(self, removal: Removal, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Remove worker")
        self.removal = removal
        n = removal.queued
        sessions = f"{n} queued session{'s' if n != 1 else ''}"
        them = "them" if n != 1 else "it"
        self.question = QLabel(
            f"The worker {removal.worker!r} has {sessions} waiting for it. "
            f"What should happen to {them}?"
        )
        self.question.setWordWrap(True)
        self.any_radio = QRadioButton(f"Run {them} on &whichever worker is free")
        self.move_radio = QRadioButton("&Wait for the worker")
        self.move_combo = QComboBox()
        self.move_combo.addItems(list(removal.others))
        self.drop_radio = QRadioButton(f"&Drop {them} from the queue")
        self.any_radio.setChecked(True)
        self.move_radio.setEnabled(bool(removal.others))
        self.move_combo.setEnabled(False)
        self.move_radio.toggled.connect(self.move_combo.setEnabled)
        move_row = QHBoxLayout()
        move_row.addWidget(self.move_radio)
        move_row.addWidget(self.move_combo, 1)
        note = "Sessions that have finished keep their history."
        self.note = QLabel(note)
        self.note.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.remove_button = self.buttons.addButton(
            "&Remove worker", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._chosen)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addWidget(self.any_radio)
        layout.addLayout(move_row)
        layout.addWidget(self.drop_radio)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(440)

    def _chosen(self) -> None:
        if self.drop_radio.isChecked():
            self.chosen.emit("", True)
        elif self.move_radio.isChecked() and self.move_combo.currentText():
            self.chosen.emit(self.move_combo.currentText(), False)
        else:
            self.chosen.emit("any", False)
        self.accept()


class _Relay(QObject):
    """Carries a finished test from its thread to the GUI thread (a queued signal)."""

    finished = Signal(object, object)  # Target, CheckResult or the exception it raised


class WorkersDialog(QDialog):
    """The workers with their status, reason, load and last heartbeat; add, edit, test and
    remove them.

    ``workersChanged()`` follows every stored change (and a trusted key or a given passphrase:
    the worker may connect now). With an ``engine`` the table shows each connection's reason and
    follows its status changes; ``home`` is the data folder (c3desk's known_hosts is there).
    """

    workersChanged = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        engine: Engine | None = None,
        home: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Workers")
        self.resize(900, 460)
        self.engine = engine
        self.home = home if home is not None else resolve_home()
        self.confirm_box: QMessageBox | None = None
        self.remove_dialog: RemoveWorkerDialog | None = None
        self.key_dialog: HostKeyDialog | None = None
        self.passphrase_dialog: PassphraseDialog | None = None
        self.results: dict[str, CheckResult] = {}  # the last test of each worker, by name
        self._checking: set[str] = set()
        self._asked: set[Path] = set()  # key files asked about without a Test (once each)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._checked)
        self._unsubscribe: Callable[[], None] | None = None

        self.table = QTableWidget(0, len(WORKER_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(WORKER_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMN_REASON, QHeaderView.ResizeMode.Stretch)
        self.add_button = QPushButton("&Add…")
        self.edit_button = QPushButton("&Edit…")
        self.test_button = QPushButton("&Test")
        self.test_button.setToolTip(
            "Connect once and say whether it works (as `c3desk worker check` does)"
        )
        self.remove_button = QPushButton("&Remove")
        self.close_button = QPushButton("Close")
        not_default(
            self.add_button,
            self.edit_button,
            self.test_button,
            self.remove_button,
            self.close_button,
        )
        self.error = FieldError()
        self.form = WorkerForm()
        self.form.hide()

        # What a test says: progress while it runs, then its outcome and what can be done.
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: a connection attempt has no measurable progress
        self.progress.setMaximumHeight(6)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.outcome = QLabel()
        self.outcome.setObjectName("workerTestOutcome")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.outcome.hide()
        self.trust_button = QPushButton("Check the host &key…")
        self.passphrase_button = QPushButton("Enter the key's &passphrase…")
        not_default(self.trust_button, self.passphrase_button)
        self.trust_button.hide()
        self.passphrase_button.hide()
        outcome_row = QHBoxLayout()
        outcome_row.addWidget(self.outcome, 1)
        outcome_row.addWidget(self.trust_button)
        outcome_row.addWidget(self.passphrase_button)

        side = QVBoxLayout()
        for button in (self.add_button, self.edit_button, self.test_button, self.remove_button):
            side.addWidget(button)
        side.addStretch(1)
        side.addWidget(self.close_button)
        top = QHBoxLayout()
        top.addWidget(self.table, 1)
        top.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addWidget(self.progress)
        layout.addLayout(outcome_row)
        layout.addWidget(self.error)
        layout.addWidget(self.form)

        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.test_button.clicked.connect(self.test)
        self.remove_button.clicked.connect(self.remove)
        self.close_button.clicked.connect(self.reject)
        self.trust_button.clicked.connect(self._show_key_of_selected)
        self.passphrase_button.clicked.connect(self._ask_passphrase_of_selected)
        self.form.save_button.clicked.connect(self.save)
        self.form.cancel_button.clicked.connect(self.form.hide)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self.edit())
        # Engine status events are coalesced; the heartbeat column moves without events.
        self._refresh_timer = QTimer(self, singleShot=True, interval=100)
        self._refresh_timer.timeout.connect(self.refresh)
        self._tick = QTimer(self, interval=5000)
        self._tick.timeout.connect(self.refresh)
        if engine is not None:
            self._unsubscribe = engine.subscribe(self._on_engine_event)
            self.destroyed.connect(self._stop_listening)
            self.finished.connect(self._stop_listening)
        self.refresh()
        # Open on the first worker that is down (else the first): Test works at once.
        workers = views.workers()
        first = next((w for w in workers if w.status != "connected"), None)
        if first is not None or workers:
            self.select((first or workers[0]).name)

    # -- the table ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        self._tick.start()
        self._refresh_timer.start()  # once shown, a worker waiting for a passphrase asks
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        self._tick.stop()
        super().hideEvent(event)

    def _on_engine_event(self, event: EngineEvent) -> None:
        if event.kind == "worker" and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _stop_listening(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            with contextlib.suppress(ValueError):  # already removed
                unsubscribe()

    def reason_of(self, worker: WorkerRow) -> str | None:
        """Why the worker is not connected, as its connection in the engine says."""
        if self.engine is None or worker.status == "connected" or not worker.id:
            return None
        status, reason = self.engine.worker_status(worker.id)
        return reason if status != "connected" else None

    def refresh(self) -> None:
        """Reload the table from the database, keeping the selected worker selected."""
        selected = self.selected_name()
        workers = views.workers()
        self.table.setRowCount(len(workers))
        colors = theme_colors(current_theme())
        for row, w in enumerate(workers):
            reason = self.reason_of(w) or ""
            beat, beat_tip = _heartbeat(w.last_heartbeat)
            cells = (
                w.name,
                w.status,
                reason,
                f"{w.active}/{w.max_sessions}",
                _address(w),
                beat,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, w.name)
                if column == COLUMN_STATUS:
                    item.setForeground(QColor(_status_color(w.status, colors)))
                elif column == COLUMN_REASON and reason:
                    item.setToolTip(reason)
                elif column == COLUMN_HEARTBEAT:
                    item.setToolTip(beat_tip)
                elif column == COLUMN_LOAD:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    item.setToolTip(
                        f"{w.active} session(s) running; it takes {w.max_sessions} at most"
                    )
                self.table.setItem(row, column, item)
            if selected is not None and w.name == selected:
                self.table.selectRow(row)
            self._maybe_ask_passphrase(w, reason)
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
        self.test_button.setEnabled(worker is not None and worker.name not in self._checking)
        self._show_outcome()

    # -- add, edit -----------------------------------------------------------------------------

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
        if self.form.editing is not None:
            # A test of the old address says nothing about the new one.
            self.results.pop(self.form.editing, None)
        self.form.hide()
        self.refresh()
        self.select(str(worker.name))
        self._changed()

    def _changed(self, reconnect: bool = False) -> None:
        """Tell the engine and the window; with ``reconnect`` (a key trusted, a passphrase
        given) the workers that are down try again now rather than after their backoff."""
        if self.engine is not None:
            if reconnect:
                for worker in views.workers():
                    if worker.status != "connected" and worker.id:
                        self.engine.reconnect(worker.id)
            self.engine.wake()
        self.workersChanged.emit()

    # -- test ------------------------------------------------------------------------------------

    def test(self) -> None:
        """Test the selected worker as ``c3desk worker check`` does, off the event loop."""
        self.error.show_error(None)
        name = self.selected_name()
        if name is None:
            self.error.show_error("select a worker to test")
            return
        self.test_worker(name)

    def test_worker(self, name: str) -> None:
        if name in self._checking:
            return
        try:
            target = vw.target(name)
        except C3Error as exc:
            self.error.show_error(str(exc))
            return
        self._checking.add(name)
        self.results.pop(name, None)
        relay, home = self._relay, self.home

        def run() -> None:
            result: object
            try:
                result = vw.check(target, home)
            except Exception as exc:  # shown in the dialog, not lost in a thread
                log.exception("testing worker %s", target.name)
                result = exc
            # The dialog may be gone by now: then nobody waits for the answer.
            with contextlib.suppress(RuntimeError):
                relay.finished.emit(target, result)

        # A thread of its own: attempt() runs its own asyncio loop and may wait up to a minute
        # for a silent server; the GUI's loop must go on meanwhile.
        threading.Thread(target=run, name=f"c3desk-test-{name}", daemon=True).start()
        self._selection_changed()

    @property
    def testing(self) -> bool:
        return bool(self._checking)

    def _checked(self, target: vw.Target, outcome: object) -> None:
        self._checking.discard(target.name)
        if isinstance(outcome, CheckResult):
            result = outcome
        else:
            text = str(outcome) if isinstance(outcome, C3Error) else f"the test failed: {outcome}"
            result = CheckResult(target.name, "", 0, "error", text, reason=text)
        self.results[target.name] = result
        self.refresh()
        if result.unknown_key or result.bad_key:
            self.show_host_key(target, result)
        elif result.passphrase_for is not None:
            wrong = vw.passphrase_was_wrong(result.reason)
            self.ask_passphrase(target.name, result.passphrase_for, wrong=wrong)

    def _show_outcome(self) -> None:
        """Progress or the last outcome of the selected worker's test."""
        name = self.selected_name()
        colors = theme_colors(current_theme())
        result = self.results.get(name) if name is not None else None
        busy = name is not None and name in self._checking
        self.progress.setVisible(busy)
        self.trust_button.setVisible(result is not None and (result.unknown_key or result.bad_key))
        self.trust_button.setText(
            "Check the host &key…" if result is not None and result.unknown_key else "&Why…"
        )
        worker = views.worker(name) if name is not None else None
        reason = self.reason_of(worker) if worker is not None else None
        needs = result.passphrase_for if result is not None else None
        if needs is None and worker is not None:
            needs = vw.passphrase_needed(reason, worker.key_path)
        self.passphrase_button.setVisible(needs is not None and not busy)
        if busy:
            self._set_outcome(f"Testing {name}…", colors["dim_text"])
        elif result is not None:
            # An unknown key or a missing passphrase wait for the user; anything else failed.
            waiting = result.unknown_key or result.passphrase_for is not None
            waiting |= result.agent_missing
            color = (
                colors["needs_input"]
                if waiting
                else colors["completed"]
                if result.connected
                else colors["failed"]
            )
            text = "\n".join((f"{result.worker}: {result.message}", *result.details))
            self._set_outcome(text, color)
        elif reason and "not trusted yet" in reason:
            # The engine was refused an unknown key: the way to trust it starts with a Test.
            self._set_outcome(
                f"{name}: its host key is not trusted yet. Test shows its fingerprint, to "
                "compare with the server's before trusting it.",
                colors["needs_input"],
            )
        else:
            self.outcome.hide()

    def _set_outcome(self, text: str, color: str) -> None:
        self.outcome.setText(text)
        self.outcome.setStyleSheet(f"QLabel#workerTestOutcome {{ color: {color}; }}")
        self.outcome.show()

    # -- host keys -------------------------------------------------------------------------------

    def _show_key_of_selected(self) -> None:
        name = self.selected_name()
        result = self.results.get(name) if name is not None else None
        if name is None or result is None:
            return
        try:
            target = vw.target(name)
        except C3Error as exc:
            self.error.show_error(str(exc))
            return
        self.show_host_key(target, result)

    def show_host_key(self, target: vw.Target, result: CheckResult) -> None:
        """The host-key dialog for ``result`` (one at a time; never blocks)."""
        if self.key_dialog is not None:
            self.key_dialog.close()
        dialog = HostKeyDialog(result, self)
        dialog.trustRequested.connect(lambda: self._trust(dialog, target, result))
        dialog.finished.connect(lambda _code: self._key_dialog_closed(dialog))
        self.key_dialog = dialog
        dialog.open()

    def _key_dialog_closed(self, dialog: HostKeyDialog) -> None:
        if self.key_dialog is dialog:
            self.key_dialog = None
        dialog.deleteLater()

    def _trust(self, dialog: HostKeyDialog, target: vw.Target, result: CheckResult) -> None:
        try:
            vw.trust(target, self.home, result)
        except (C3Error, OSError) as exc:
            dialog.show_error(str(exc))
            return
        dialog.accept()
        self._changed(reconnect=True)
        # Trusted: test again at once, so the dialog says whether the login works too.
        self.test_worker(target.name)

    # -- passphrases -----------------------------------------------------------------------------

    def _maybe_ask_passphrase(self, worker: WorkerRow, reason: str) -> None:
        """The engine could not log in for want of a passphrase: ask once per key file."""
        path = vw.passphrase_needed(reason, worker.key_path)
        if path is None or path in self._asked or self.passphrase_dialog is not None:
            return
        if not self.isVisible():
            return  # asked when shown (refresh runs again then)
        self.ask_passphrase(worker.name, path, wrong=vw.passphrase_was_wrong(reason))

    def _ask_passphrase_of_selected(self) -> None:
        name = self.selected_name()
        worker = views.worker(name) if name is not None else None
        if worker is None:
            return
        result = self.results.get(worker.name)
        path = result.passphrase_for if result is not None else None
        path = path or vw.passphrase_needed(self.reason_of(worker), worker.key_path)
        if path is not None:
            self.ask_passphrase(worker.name, path)

    def ask_passphrase(self, worker: str, key_path: Path, wrong: bool = False) -> None:
        """Ask for the passphrase of ``key_path`` (one dialog at a time; never blocks)."""
        self._asked.add(key_path)
        if self.passphrase_dialog is not None:
            self.passphrase_dialog.raise_()
            return
        dialog = PassphraseDialog(worker, key_path, wrong, self)
        dialog.given.connect(
            lambda text, save: self._remember(dialog, worker, key_path, text, save)
        )
        dialog.finished.connect(lambda _code: self._passphrase_dialog_closed(dialog))
        self.passphrase_dialog = dialog
        dialog.open()

    def _passphrase_dialog_closed(self, dialog: PassphraseDialog) -> None:
        if self.passphrase_dialog is dialog:
            self.passphrase_dialog = None
        dialog.deleteLater()

    def _remember(
        self, dialog: PassphraseDialog, worker: str, key_path: Path, text: str, save: bool
    ) -> None:
        try:
            PASSPHRASES.remember(key_path, text, save)
        except Exception as exc:  # the keyring refused: known for this run all the same
            log.warning("saving the passphrase of %s failed: %s", key_path, exc)
            self.error.show_error(str(exc) or f"the system keyring refused it ({exc!r})")
        else:
            self.error.show_error(None)
        dialog.accept()
        self._changed(reconnect=True)
        if views.worker(worker) is not None:
            self.test_worker(worker)

    # -- remove ----------------------------------------------------------------------------------

    def remove(self) -> None:
        """Ask (without blocking) whether to remove the selected worker, and what becomes of
        its queued sessions; a worker running sessions is refused at once."""
        self.error.show_error(None)
        name = self.selected_name()
        if name is None:
            return
        try:
            removal = vw.removal(name)
        except C3Error as exc:
            self.error.show_error(str(exc))
            return
        if removal.active:
            n = removal.active
            self.error.show_error(
                f"worker {name!r} is running {n} session{'s' if n != 1 else ''}: kill "
                f"{'them' if n != 1 else 'it'} or let {'them' if n != 1 else 'it'} finish first"
            )
            return
        if removal.queued:
            dialog = RemoveWorkerDialog(removal, self)
            dialog.chosen.connect(
                lambda target, drop: self.remove_now(name, reassign_to=target or None, drop=drop)
            )
            dialog.finished.connect(dialog.deleteLater)
            self.remove_dialog = dialog
            dialog.open()
            return
        kept = (
            f" Its {removal.finished} finished session(s) keep their history."
            if removal.finished
            else ""
        )
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Remove worker",
            f"Remove the worker {name!r}?{kept}",
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

    def remove_now(self, name: str, *, reassign_to: str | None = None, drop: bool = False) -> bool:
        """Remove worker ``name`` at once; show why not when the core refuses."""
        try:
            core_workers.remove_worker(name, reassign_to=reassign_to, drop=drop)
        except C3Error as exc:
            self.error.show_error(str(exc))
            return False
        if self.form.editing == name:
            self.form.hide()
        self.results.pop(name, None)
        self.refresh()
        self._changed()
        return True


def _heartbeat(stamp: str | None) -> tuple[str, str]:
    """The last heartbeat in local time (today: the time only), and its UTC form for a tip."""
    if not stamp:
        return "never", "No heartbeat yet"
    try:
        when = clock.parse(stamp).astimezone()
    except ValueError:
        return stamp, stamp
    today = datetime.now().astimezone().date()
    text = when.strftime("%H:%M:%S") if when.date() == today else when.strftime("%Y-%m-%d %H:%M")
    return text, f"{stamp} UTC"


def _status_color(status: str, colors: dict[str, str] | None = None) -> str:
    colors = colors or theme_colors(current_theme())
    # Disconnected is amber (it may come back by itself), error red (it needs the user).
    return {
        "connected": colors["completed"],
        "error": colors["failed"],
        "disconnected": colors["needs_input"],
    }.get(status, colors["dim_text"])


__all__ = [
    "WORKER_COLUMNS",
    "PassphraseDialog",
    "RemoveWorkerDialog",
    "WorkerForm",
    "WorkersDialog",
]
