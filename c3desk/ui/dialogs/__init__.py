"""The New session, Settings and Workers dialogs.

All three are non-modal in the event-loop sense: the app shows them with ``open()`` or ``show()``
and listens to their signals; nothing here calls ``exec()`` (a nested loop under qasync, qasync#59).
File pickers are ``QFileDialog.open()`` with a ``fileSelected`` connection for the same reason.
Errors from the core are shown next to the field they concern; the dialogs stay open.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import peewee as pw
from PySide6.QtCore import QDir, QSettings, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFontComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as core_settings
from c3desk.core import workers as core_workers
from c3desk.core.agents import BUILTIN_PROFILES, DEFAULT_PROFILE, AgentsFileError, load_profiles
from c3desk.errors import C3Error, NotFound
from c3desk.store.models import Worker
from c3desk.ui.theme import current_theme, theme_colors

# --- shared pieces -----------------------------------------------------------------------------


class FieldError(QLabel):
    """A red, word-wrapped error line under a field; hidden while it has nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fieldError")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The theme's stylesheet colours #fieldError; the palette covers an unthemed app.
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(theme_colors(current_theme())["error"]))
        self.setPalette(pal)
        self.hide()

    def show_error(self, message: str | None) -> None:
        """Show ``message`` (capitalised as a sentence), or hide the label for None/empty."""
        if message:
            self.setText(message[0].upper() + message[1:])
            self.show()
        else:
            self.clear()
            self.hide()

    @property
    def message(self) -> str:
        """The error shown, or "" when the field is fine."""
        return self.text() if not self.isHidden() else ""


def _field(widget: QWidget | QLayout, error: FieldError) -> QWidget:
    """A form row's content: the widget (or layout) with its error line below it."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    if isinstance(widget, QLayout):
        column.addLayout(widget)
    else:
        column.addWidget(widget)
    column.addWidget(error)
    return box


def _route(message: str, rules: tuple[tuple[str, str], ...], default: str) -> str:
    """The field an error message concerns: the first rule whose prefix starts it."""
    lowered = message.lower()
    for prefix, field in rules:
        if lowered.startswith(prefix):
            return field
    return default


def _not_default(*buttons: QAbstractButton) -> None:
    # Enter in a line edit must finish editing, not press a dialog button.
    for button in buttons:
        if isinstance(button, QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)


# --- New session -------------------------------------------------------------------------------

ANY_WORKER: Final = "Any worker"


class NewSessionDialog(QDialog):
    """Title, folder, worker, agent profile, initial prompt and pin of a new queued session.

    ``created(session_id)`` is emitted once the session is in the queue; the dialog then closes
    (``accept()``). Nothing is created while a field is invalid.
    """

    created = Signal(str)

    _ROUTES: Final = (
        ("title", "title"),
        ("working directory", "folder"),
        ("no worker named", "worker"),
        ("unknown agent profile", "agent"),
    )

    def __init__(
        self,
        paths: Paths,
        parent: QWidget | None = None,
        *,
        folder: str | None = None,
        worker: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self.setWindowTitle("New session")
        self.setMinimumWidth(520)
        self.folder_picker: QFileDialog | None = None
        self._touched: set[str] = set()

        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("What the session is about")
        self.title_edit.setMaxLength(sess.MAX_TITLE)
        self.folder_edit = QLineEdit(folder or "")
        self.folder_edit.setPlaceholderText("/absolute/path/to/the/project")
        self.browse_button = QPushButton("Browse…")
        self.worker_combo = QComboBox()
        self.agent_combo = QComboBox()
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Optional: the first message to the agent")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMinimumHeight(110)
        self.pin_check = QCheckBox("Pin: keep this session visible in the grid")

        self.errors: dict[str, FieldError] = {
            name: FieldError() for name in ("title", "folder", "worker", "agent", "general")
        }
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Title:", _field(self.title_edit, self.errors["title"]))
        form.addRow("&Folder:", _field(folder_row, self.errors["folder"]))
        form.addRow("&Worker:", _field(self.worker_combo, self.errors["worker"]))
        form.addRow("&Agent:", _field(self.agent_combo, self.errors["agent"]))
        form.addRow("&Prompt:", self.prompt_edit)
        form.addRow("", self.pin_check)
        for buddy in (
            self.title_edit,
            self.folder_edit,
            self.worker_combo,
            self.agent_combo,
            self.prompt_edit,
        ):
            _buddy(form, buddy)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("&Create")
        self.buttons.rejected.connect(self.reject)
        self.create_button.clicked.connect(self.submit)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.errors["general"])
        layout.addWidget(self.buttons)

        self._load_workers(worker)
        self._load_agents()
        self.title_edit.textEdited.connect(lambda _t: self._touch("title"))
        self.folder_edit.textEdited.connect(lambda _t: self._touch("folder"))
        self.title_edit.textChanged.connect(self._validate_live)
        self.folder_edit.textChanged.connect(self._validate_live)
        self.worker_combo.currentIndexChanged.connect(self._validate_live)
        self.browse_button.clicked.connect(self.browse)
        self._validate_live()

    # The values as the user gave them.
    def title(self) -> str:
        return self.title_edit.text()

    def folder(self) -> str:
        return self.folder_edit.text().strip()

    def worker(self) -> str | None:
        """The chosen worker's name, or None for any worker."""
        data = self.worker_combo.currentData()
        return data if isinstance(data, str) else None

    def agent(self) -> str:
        data = self.agent_combo.currentData()
        return data if isinstance(data, str) else DEFAULT_PROFILE

    def prompt(self) -> str | None:
        text = self.prompt_edit.toPlainText()
        return text if text.strip() else None

    def _load_workers(self, preferred: str | None) -> None:
        self.worker_combo.clear()
        self.worker_combo.addItem(ANY_WORKER, None)
        self._worker_types: dict[str, str] = {}
        for w in core_workers.list_workers():
            name = str(w.name)
            self._worker_types[name] = str(w.type)
            label = f"{name} (this computer)" if w.type == "local" else f"{name} ({w.status})"
            self.worker_combo.addItem(label, name)
        if preferred is not None:
            index = self.worker_combo.findData(preferred)
            if index >= 0:
                self.worker_combo.setCurrentIndex(index)

    def _load_agents(self) -> None:
        try:
            profiles = load_profiles(self.paths.agents_file)
        except AgentsFileError as exc:
            profiles = dict(BUILTIN_PROFILES)
            self.errors["agent"].show_error(f"{exc} (using the built-in profiles)")
        self._agents = set(profiles)
        names = sorted(profiles, key=lambda n: (n != DEFAULT_PROFILE, n))
        for name in names:
            self.agent_combo.addItem(name, name)

    def _touch(self, field: str) -> None:
        self._touched.add(field)

    def _remote(self) -> bool:
        name = self.worker()
        return name is not None and self._worker_types.get(name) == "remote"

    def _check(self) -> dict[str, str]:
        """The cheap checks, field by field: what is wrong (empty when all is well)."""
        problems: dict[str, str] = {}
        try:
            sess.validate_title(self.title())
        except C3Error as exc:
            problems["title"] = str(exc)
        folder = self.folder()
        if not folder:
            problems["folder"] = "choose the folder the session works in"
        elif not Path(folder).expanduser().is_absolute():
            problems["folder"] = f"{folder!r} is not an absolute path"
        elif not self._remote() and not Path(folder).expanduser().is_dir():
            problems["folder"] = f"{folder!r} does not exist or is not a folder"
        return problems

    def _validate_live(self) -> None:
        problems = self._check()
        for field in ("title", "folder"):
            # A field the user has not typed in yet is not shouted at; Create is off regardless.
            shown = problems.get(field) if field in self._touched else None
            self.errors[field].show_error(shown)
        self.errors["general"].show_error(None)
        self.create_button.setEnabled(not problems)
        remote = self._remote()
        self.folder_edit.setToolTip(
            "Checked on the worker when the session starts" if remote else ""
        )

    def browse(self) -> None:
        """Open the folder picker without blocking; the choice fills the folder field."""
        if self.folder_picker is None:
            picker = QFileDialog(self, "Choose the session's folder")
            picker.setFileMode(QFileDialog.FileMode.Directory)
            picker.setOption(QFileDialog.Option.ShowDirsOnly, True)
            picker.fileSelected.connect(self._folder_chosen)
            self.folder_picker = picker
        start = self.folder()
        if start and Path(start).is_dir():
            self.folder_picker.setDirectory(start)
        self.folder_picker.open()

    def _folder_chosen(self, path: str) -> None:
        if path:
            self._touch("folder")
            self.folder_edit.setText(path)

    def submit(self) -> None:
        """Validate everything, create the session, emit ``created`` and close; else show why."""
        self._touched.update(("title", "folder"))
        problems = self._check()
        worker = self.worker()
        if worker is not None:
            try:
                sess.find_worker(worker)
            except NotFound as exc:
                problems["worker"] = f"{exc}; it was removed (choose another)"
        agent = self.agent()
        if agent not in self._agents:
            problems["agent"] = f"unknown agent profile {agent!r}"
        for name, label in self.errors.items():
            if name != "agent" or problems.get("agent"):
                label.show_error(problems.get(name))
        if problems:
            self.create_button.setEnabled(False)
            self._focus_first(problems)
            return
        try:
            session = sess.create_session(
                title=self.title(),
                working_directory=str(Path(self.folder()).expanduser()),
                prompt=self.prompt(),
                worker=worker,
                agent=agent,
                lock=self.pin_check.isChecked(),
                known_agents=self._agents,
            )
        except C3Error as exc:
            field = _route(str(exc), self._ROUTES, "general")
            self.errors[field].show_error(str(exc))
            self._focus_first({field: str(exc)})
            return
        except pw.OperationalError as exc:  # the database is locked or gone: say so, stay open
            self.errors["general"].show_error(f"the session could not be saved: {exc}")
            return
        self.created.emit(str(session.id))
        self.accept()

    def _focus_first(self, problems: dict[str, str]) -> None:
        widgets = {
            "title": self.title_edit,
            "folder": self.folder_edit,
            "worker": self.worker_combo,
            "agent": self.agent_combo,
        }
        for name, widget in widgets.items():
            if name in problems:
                widget.setFocus()
                return


# --- UI preferences (QSettings) ----------------------------------------------------------------

ORGANIZATION: Final = "c3desk"
APPLICATION: Final = "c3desk"
KEY_FONT_FAMILY: Final = "terminal/font_family"
KEY_FONT_SIZE: Final = "terminal/font_size"
KEY_NOTIFY_NEEDS_INPUT: Final = "notifications/needs_input"
KEY_NOTIFY_SOUND: Final = "notifications/sound"
SOUNDS: Final = ("none", "beep")
FONT_SIZES: Final = (6, 48)


@dataclass(frozen=True)
class UiPreferences:
    """Preferences of this desktop only (not in the database): the terminal font, alerts."""

    font_family: str
    font_size: int
    notify_needs_input: bool
    notify_sound: str

    def terminal_font(self) -> QFont:
        font = QFont(self.font_family, self.font_size)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setFixedPitch(True)
        return font


def ui_store() -> QSettings:
    """The QSettings holding the UI preferences (organization and application "c3desk").

    It follows ``QSettings.setDefaultFormat`` (the two-name constructor would not), so a test
    or a portable install can move it with ``setDefaultFormat(IniFormat)`` + ``setPath``.
    """
    return QSettings(
        QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


def load_ui_preferences(store: QSettings | None = None) -> UiPreferences:
    """The UI preferences, with defaults (the system's fixed font; notify, no sound)."""
    store = store or ui_store()
    fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    family = store.value(KEY_FONT_FAMILY, fixed.family(), type=str)
    default_size = fixed.pointSize() if fixed.pointSize() > 0 else 10
    try:
        size = int(str(store.value(KEY_FONT_SIZE, default_size)))
    except (TypeError, ValueError):
        size = default_size
    size = min(max(size, FONT_SIZES[0]), FONT_SIZES[1])
    notify = store.value(KEY_NOTIFY_NEEDS_INPUT, True, type=bool)
    sound = store.value(KEY_NOTIFY_SOUND, "none", type=str)
    return UiPreferences(
        font_family=str(family) or fixed.family(),
        font_size=size,
        notify_needs_input=bool(notify),
        notify_sound=sound if sound in SOUNDS else "none",
    )


# --- Settings ----------------------------------------------------------------------------------

_SETTING_LABELS: Final = {
    "max_concurrent_sessions": "Max &concurrent sessions:",
    "max_visible_sessions": "Max &visible sessions:",
    "auto_approve": "",
    "grid_layout": "&Grid layout:",
    "theme": "T&heme:",
    "claude_command": "Claude co&mmand:",
    "scrollback_limit_mb": "&Scrollback per session:",
    "queue_paused": "",
}


class SettingsDialog(QDialog):
    """Every setting, applied live: each change is validated and stored at once.

    ``settingChanged(key, value)`` follows every stored change, database settings under their
    SPECS keys and UI preferences under ``terminal/font_family``, ``terminal/font_size``,
    ``notifications/needs_input`` and ``notifications/sound``. A refused value shows its error
    next to the field and is not stored.
    """

    settingChanged = Signal(str, object)

    def __init__(self, parent: QWidget | None = None, *, store: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(480)
        self.store = store if store is not None else ui_store()
        self.errors: dict[str, FieldError] = {}
        self.editors: dict[str, QWidget] = {}
        self._loading = False

        specs = core_settings.SPECS
        concurrent = QSpinBox()
        concurrent.setRange(1, 64)
        visible = QSpinBox()
        visible.setRange(1, 9)
        scrollback = QSpinBox()
        scrollback.setRange(1, 10_000)
        scrollback.setSuffix(" MB")
        for spin in (concurrent, visible, scrollback):
            spin.setKeyboardTracking(False)  # typing "12" stores 12, not 1 then 12
            spin.setMinimumWidth(110)
            spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        grid = QComboBox()
        for text, value in (("Automatic", "auto"), ("1×1", "1x1"), ("2×2", "2x2"), ("3×3", "3x3")):
            grid.addItem(text, value)
        theme = QComboBox()
        theme.addItem("Dark", "dark")
        theme.addItem("Light", "light")
        command = QLineEdit()
        command.setPlaceholderText("claude")
        auto = QCheckBox("&Auto-approve tool-permission prompts")
        paused = QCheckBox("&Pause the queue (start no new sessions)")
        self.editors = {
            "max_concurrent_sessions": concurrent,
            "max_visible_sessions": visible,
            "auto_approve": auto,
            "grid_layout": grid,
            "theme": theme,
            "claude_command": command,
            "scrollback_limit_mb": scrollback,
            "queue_paused": paused,
        }
        for key, editor in self.editors.items():
            editor.setToolTip(specs[key].help[0].upper() + specs[key].help[1:])

        self.font_combo = QFontComboBox()
        self.font_combo.setFontFilters(QFontComboBox.FontFilter.MonospacedFonts)
        self.font_size = QSpinBox()
        self.font_size.setRange(*FONT_SIZES)
        self.font_size.setSuffix(" pt")
        self.font_size.setKeyboardTracking(False)
        self.notify_check = QCheckBox("&Notify when a session needs input")
        self.sound_combo = QComboBox()
        self.sound_combo.addItem("None", "none")
        self.sound_combo.addItem("System beep", "beep")

        queue_box = QGroupBox("Queue")
        queue_form = QFormLayout(queue_box)
        for key in ("max_concurrent_sessions", "queue_paused", "auto_approve", "claude_command"):
            self._add_row(queue_form, key)
        view_box = QGroupBox("Display")
        view_form = QFormLayout(view_box)
        for key in ("max_visible_sessions", "grid_layout", "theme", "scrollback_limit_mb"):
            self._add_row(view_form, key)
        font_row = QHBoxLayout()
        font_row.addWidget(self.font_combo, 1)
        font_row.addWidget(self.font_size)
        self.errors["terminal_font"] = FieldError()
        view_form.addRow("Terminal &font:", _field(font_row, self.errors["terminal_font"]))
        _buddy(view_form, self.font_combo)
        alert_box = QGroupBox("Notifications")
        alert_form = QFormLayout(alert_box)
        alert_form.addRow("", self.notify_check)
        alert_form.addRow("S&ound:", self.sound_combo)
        _buddy(alert_form, self.sound_combo)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        _not_default(*self.buttons.buttons())
        note = QLabel("Changes apply immediately.")
        note.setEnabled(False)

        _align_labels(queue_form, view_form, alert_form)

        layout = QVBoxLayout(self)
        layout.addWidget(queue_box)
        layout.addWidget(view_box)
        layout.addWidget(alert_box)
        bottom = QHBoxLayout()
        bottom.addWidget(note, 1)
        bottom.addWidget(self.buttons)
        layout.addLayout(bottom)

        self.reload()
        concurrent.valueChanged.connect(lambda v: self.apply("max_concurrent_sessions", str(v)))
        visible.valueChanged.connect(lambda v: self.apply("max_visible_sessions", str(v)))
        scrollback.valueChanged.connect(lambda v: self.apply("scrollback_limit_mb", str(v)))
        auto.toggled.connect(lambda on: self.apply("auto_approve", "true" if on else "false"))
        paused.toggled.connect(lambda on: self.apply("queue_paused", "true" if on else "false"))
        grid.currentIndexChanged.connect(lambda _i: self.apply("grid_layout", grid.currentData()))
        theme.currentIndexChanged.connect(lambda _i: self.apply("theme", theme.currentData()))
        command.editingFinished.connect(lambda: self.apply("claude_command", command.text()))
        command.textEdited.connect(self._check_command)
        self.font_combo.currentFontChanged.connect(lambda _f: self._store_font())
        self.font_size.valueChanged.connect(lambda _v: self._store_font())
        self.notify_check.toggled.connect(
            lambda on: self._store_preference(KEY_NOTIFY_NEEDS_INPUT, bool(on))
        )
        self.sound_combo.currentIndexChanged.connect(
            lambda _i: self._store_preference(KEY_NOTIFY_SOUND, self.sound_combo.currentData())
        )

    def _add_row(self, form: QFormLayout, key: str) -> None:
        error = FieldError()
        self.errors[key] = error
        form.addRow(_SETTING_LABELS[key], _field(self.editors[key], error))
        _buddy(form, self.editors[key])

    def reload(self) -> None:
        """Show the stored values (without emitting): after a change made elsewhere (the CLI)."""
        self._loading = True
        try:
            values = core_settings.get_settings()
            for key, value in values.items():
                editor = self.editors[key]
                if isinstance(editor, QSpinBox):
                    editor.setValue(int(value))
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value))
                elif isinstance(editor, QComboBox):
                    index = editor.findData(value)
                    editor.setCurrentIndex(max(index, 0))
                elif isinstance(editor, QLineEdit):
                    editor.setText(str(value))
                self.errors[key].show_error(None)
            prefs = load_ui_preferences(self.store)
            self.font_combo.setCurrentFont(prefs.terminal_font())
            self.font_size.setValue(prefs.font_size)
            self.notify_check.setChecked(prefs.notify_needs_input)
            self.sound_combo.setCurrentIndex(max(self.sound_combo.findData(prefs.notify_sound), 0))
            # What the widgets show now: a preference is stored (and announced) when it differs.
            self._shown: dict[str, Any] = {
                KEY_FONT_FAMILY: self.font_combo.currentFont().family(),
                KEY_FONT_SIZE: self.font_size.value(),
                KEY_NOTIFY_NEEDS_INPUT: self.notify_check.isChecked(),
                KEY_NOTIFY_SOUND: self.sound_combo.currentData(),
            }
        finally:
            self._loading = False

    def apply(self, key: str, text: str) -> bool:
        """Validate and store setting ``key``; emit ``settingChanged`` or show the error."""
        if self._loading:
            return False
        error = self.errors.get(key)
        try:
            before = core_settings.get_settings().get(key)
            value = core_settings.set_setting(key, text)
        except C3Error as exc:
            if error is not None:
                error.show_error(_without_key(str(exc), key))
            return False
        if error is not None:
            error.show_error(None)
        if value != before:
            self.settingChanged.emit(key, value)
        return True

    def _check_command(self, text: str) -> None:
        # Cheap feedback while typing; the value is stored when editing finishes.
        self.errors["claude_command"].show_error(None if text.strip() else "the command is empty")

    def _store_font(self) -> None:
        if self._loading:
            return
        family = self.font_combo.currentFont().family()
        size = self.font_size.value()
        if not family:
            self.errors["terminal_font"].show_error("choose a font")
            return
        self.errors["terminal_font"].show_error(None)
        self._store_preference(KEY_FONT_FAMILY, family)
        self._store_preference(KEY_FONT_SIZE, size)

    def _store_preference(self, key: str, value: Any) -> None:
        if self._loading:
            return
        if self._shown.get(key) == value:
            return
        self._shown[key] = value
        self.store.setValue(key, value)
        self.store.sync()
        self.settingChanged.emit(key, value)

    def closeEvent(self, event: Any) -> None:
        self._finish_editing()
        super().closeEvent(event)

    def done(self, result: int) -> None:
        self._finish_editing()
        super().done(result)

    def _finish_editing(self) -> None:
        # A command typed but not yet confirmed (no Enter, no focus change) is still applied.
        command = self.editors["claude_command"]
        assert isinstance(command, QLineEdit)
        if command.isModified():
            command.setModified(False)
            self.apply("claude_command", command.text())


def _without_key(message: str, key: str) -> str:
    """The core's message without its "key: " prefix (the field already names it)."""
    prefix = f"{key}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _align_labels(*forms: QFormLayout) -> None:
    """Give the label columns of several forms one width, so their fields line up."""
    labels = []
    for form in forms:
        for row in range(form.rowCount()):
            item = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QLabel):
                labels.append(widget)
    width = max((label.sizeHint().width() for label in labels), default=0)
    for label in labels:  # empty labels ("" rows) count too: their check boxes line up
        label.setMinimumWidth(width)


def _buddy(form: QFormLayout, widget: QWidget) -> None:
    for row in range(form.rowCount()):
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
        holder = field.widget() if field is not None else None
        if holder is not None and (holder is widget or holder.isAncestorOf(widget)):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label_widget = label.widget() if label is not None else None
            if isinstance(label_widget, QLabel):
                label_widget.setBuddy(widget)
            return


# --- Workers -----------------------------------------------------------------------------------

WORKER_COLUMNS: Final = ("Name", "Type", "Status", "Address", "Max sessions", "Last heartbeat")


def _address(worker: Worker) -> str:
    if worker.type == "local":
        return "this computer"
    host = str(worker.ssh_host or "")
    user = f"{worker.ssh_user}@" if worker.ssh_user else ""
    port = f":{worker.ssh_port}" if worker.ssh_port not in (None, 22) else ""
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
        form.addRow("&Name:", _field(self.name_edit, self.errors["name"]))
        form.addRow("&Host:", _field(self.host_edit, self.errors["host"]))
        form.addRow("P&ort:", _field(self.port_spin, self.errors["port"]))
        form.addRow("&User:", _field(self.user_edit, self.errors["user"]))
        form.addRow("&Key file:", _field(key_row, self.errors["key"]))
        form.addRow("&Max sessions:", _field(self.max_spin, self.errors["max_sessions"]))
        for widget in (
            self.name_edit,
            self.host_edit,
            self.port_spin,
            self.user_edit,
            self.key_edit,
            self.max_spin,
        ):
            _buddy(form, widget)
        self.save_button = QPushButton("&Save")
        self.cancel_button = QPushButton("Cancel")
        _not_default(self.save_button, self.cancel_button, self.key_button)
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

    def start(self, worker: Worker | None) -> None:
        """Fill the form for ``worker`` (edit) or empty (add) and show it."""
        self.clear_errors()
        self.editing = str(worker.name) if worker is not None else None
        local = worker is not None and worker.type == "local"
        self.setTitle(
            "Add a worker"
            if worker is None
            else f"Edit {worker.name}" + (" (only its session limit can change)" if local else "")
        )
        self.name_edit.setText(str(worker.name) if worker is not None else "")
        self.host_edit.setText(str(worker.ssh_host or "") if worker is not None else "")
        self.port_spin.setValue(int(worker.ssh_port or 22) if worker is not None else 22)
        self.user_edit.setText(str(worker.ssh_user or "") if worker is not None else "")
        self.key_edit.setText(str(worker.ssh_key_path or "") if worker is not None else "")
        self.max_spin.setValue(int(worker.max_sessions) if worker is not None else 2)
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
        field = _route(str(exc), self._ROUTES, "general")
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
        _not_default(self.add_button, self.edit_button, self.remove_button, self.close_button)
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
        workers = core_workers.list_workers()
        self.table.setRowCount(len(workers))
        for row, w in enumerate(workers):
            cells = (
                str(w.name),
                str(w.type),
                str(w.status),
                _address(w),
                str(w.max_sessions),
                str(w.last_heartbeat or "never"),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, str(w.name))
                if column == 2:
                    item.setForeground(QColor(_status_color(str(w.status))))
                self.table.setItem(row, column, item)
            if selected is not None and str(w.name) == selected:
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

    def _selected_worker(self) -> Worker | None:
        name = self.selected_name()
        return Worker.get_or_none(Worker.name == name) if name is not None else None

    def _selection_changed(self) -> None:
        worker = self._selected_worker()
        self.edit_button.setEnabled(worker is not None)
        self.remove_button.setEnabled(worker is not None and worker.type != "local")
        self.remove_button.setToolTip(
            "The local worker cannot be removed"
            if worker is not None and worker.type == "local"
            else ""
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
                current = Worker.get_or_none(Worker.name == self.form.editing)
                if current is not None and current.type == "local":
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


__all__ = [
    "ANY_WORKER",
    "KEY_FONT_FAMILY",
    "KEY_FONT_SIZE",
    "KEY_NOTIFY_NEEDS_INPUT",
    "KEY_NOTIFY_SOUND",
    "FieldError",
    "NewSessionDialog",
    "SettingsDialog",
    "UiPreferences",
    "WorkerForm",
    "WorkersDialog",
    "load_ui_preferences",
    "ui_store",
]
