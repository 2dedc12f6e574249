"""The Settings dialog, and the UI preferences it edits next to the database settings.

Database settings are shared with the command line (``c3desk settings``); the UI preferences
(terminal font, notifications) belong to this desktop and live in QSettings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFontComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from c3desk.core import settings as core_settings
from c3desk.core.views import dialogs as views
from c3desk.core.views import window as window_view
from c3desk.errors import C3Error
from c3desk.ui.dialogs.common import FieldError, not_default, set_buddy, with_error

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
    "worker_heartbeat_seconds": "SSH &heartbeat every:",
    "persistent_sessions": "Kee&p sessions in tmux:",
    "reconnect_grace_seconds": "Wait for a dropped &worker:",
    "worktree_root": "Wor&ktrees folder:",
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

        concurrent = QSpinBox()
        concurrent.setRange(1, 64)
        visible = QSpinBox()
        visible.setRange(1, 9)
        scrollback = QSpinBox()
        scrollback.setRange(1, 10_000)
        scrollback.setSuffix(" MB")
        heartbeat = QSpinBox()
        heartbeat.setRange(1, 600)
        heartbeat.setSuffix(" s")
        grace = QSpinBox()
        grace.setRange(0, 86_400)
        grace.setSuffix(" s")
        for spin in (concurrent, visible, scrollback, heartbeat, grace):
            spin.setKeyboardTracking(False)  # typing "12" stores 12, not 1 then 12
            spin.setMinimumWidth(110)
            spin.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        grid = QComboBox()
        for text, value in (("Automatic", "auto"), ("1×1", "1x1"), ("2×2", "2x2"), ("3×3", "3x3")):
            grid.addItem(text, value)
        theme = QComboBox()
        theme.addItem("Dark", "dark")
        theme.addItem("Light", "light")
        persistent = QComboBox()
        for text, value in (
            ("Where tmux 3.0+ is (automatic)", "auto"),
            ("Always (fail without tmux)", "always"),
            ("Never (sessions end with c3desk)", "never"),
        ):
            persistent.addItem(text, value)
        command = QLineEdit()
        command.setPlaceholderText("claude")
        worktree_root = QLineEdit()
        worktree_root.setPlaceholderText("beside each repository (<repo>.worktrees)")
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
            "worker_heartbeat_seconds": heartbeat,
            "persistent_sessions": persistent,
            "reconnect_grace_seconds": grace,
            "worktree_root": worktree_root,
        }
        for setting in views.settings():
            self.editors[setting.key].setToolTip(setting.help[0].upper() + setting.help[1:])

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
        for key in (
            "max_concurrent_sessions",
            "queue_paused",
            "auto_approve",
            "claude_command",
            "worker_heartbeat_seconds",
            "persistent_sessions",
            "reconnect_grace_seconds",
            "worktree_root",
        ):
            self._add_row(queue_form, key)
        view_box = QGroupBox("Display")
        view_form = QFormLayout(view_box)
        for key in ("max_visible_sessions", "grid_layout", "theme", "scrollback_limit_mb"):
            self._add_row(view_form, key)
        font_row = QHBoxLayout()
        font_row.addWidget(self.font_combo, 1)
        font_row.addWidget(self.font_size)
        self.errors["terminal_font"] = FieldError()
        view_form.addRow("Terminal &font:", with_error(font_row, self.errors["terminal_font"]))
        set_buddy(view_form, self.font_combo)
        alert_box = QGroupBox("Notifications")
        alert_form = QFormLayout(alert_box)
        alert_form.addRow("", self.notify_check)
        alert_form.addRow("S&ound:", self.sound_combo)
        set_buddy(alert_form, self.sound_combo)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        not_default(*self.buttons.buttons())
        note = QLabel("Changes apply immediately.")
        note.setEnabled(False)

        _align_labels(queue_form, view_form, alert_form)

        layout = QVBoxLayout(self)
        # The dialog grows with a message under a field (a wrapped second line was drawn
        # under the next row: the layout asked for the room, the dialog kept its size).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
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
        heartbeat.valueChanged.connect(lambda v: self.apply("worker_heartbeat_seconds", str(v)))
        grace.valueChanged.connect(lambda v: self.apply("reconnect_grace_seconds", str(v)))
        persistent.currentIndexChanged.connect(
            lambda _i: self.apply("persistent_sessions", persistent.currentData())
        )
        auto.toggled.connect(lambda on: self.apply("auto_approve", "true" if on else "false"))
        paused.toggled.connect(lambda on: self.apply("queue_paused", "true" if on else "false"))
        grid.currentIndexChanged.connect(lambda _i: self.apply("grid_layout", grid.currentData()))
        theme.currentIndexChanged.connect(lambda _i: self.apply("theme", theme.currentData()))
        command.editingFinished.connect(lambda: self.apply("claude_command", command.text()))
        command.textEdited.connect(self._check_command)
        worktree_root.editingFinished.connect(
            lambda: self.apply("worktree_root", worktree_root.text())
        )
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
        form.addRow(_SETTING_LABELS[key], with_error(self.editors[key], error))
        set_buddy(form, self.editors[key])

    def reload(self) -> None:
        """Show the stored values (without emitting): after a change made elsewhere (the CLI)."""
        self._loading = True
        try:
            for setting in views.settings():
                key, value = setting.key, setting.value
                editor = self.editors[key]
                if self._shows(editor, value):
                    continue  # unchanged: its message (a capacity warning) stays
                if isinstance(editor, QSpinBox):
                    editor.setValue(int(value))
                elif isinstance(editor, QCheckBox):
                    editor.setChecked(bool(value))
                elif isinstance(editor, QComboBox):
                    index = editor.findData(value)
                    editor.setCurrentIndex(max(index, 0))
                elif isinstance(editor, QLineEdit):
                    if editor.hasFocus() and editor.isModified():
                        continue  # being typed in: stored when the user finishes
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

    @staticmethod
    def _shows(editor: QWidget, value: Any) -> bool:
        """Does ``editor`` show ``value`` already?"""
        if isinstance(editor, QSpinBox):
            return editor.value() == int(value)
        if isinstance(editor, QCheckBox):
            return editor.isChecked() == bool(value)
        if isinstance(editor, QComboBox):
            return bool(editor.currentData() == value)
        if isinstance(editor, QLineEdit):
            return editor.text() == str(value)
        return False

    def apply(self, key: str, text: str) -> bool:
        """Validate and store setting ``key``; emit ``settingChanged`` or show the error."""
        if self._loading:
            return False
        error = self.errors.get(key)
        try:
            before = views.setting(key)
            value = core_settings.set_setting(key, text)
        except C3Error as exc:
            if error is not None:
                error.show_error(_without_key(str(exc), key))
            return False
        if error is not None:
            # A global limit the workers cannot reach is allowed, and said under the field.
            warning = window_view.capacity().warning() if key == "max_concurrent_sessions" else None
            error.show_error(warning)
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


__all__ = [
    "KEY_FONT_FAMILY",
    "KEY_FONT_SIZE",
    "KEY_NOTIFY_NEEDS_INPUT",
    "KEY_NOTIFY_SOUND",
    "SettingsDialog",
    "UiPreferences",
    "load_ui_preferences",
    "ui_store",
]
