"""The New session, Settings and Workers dialogs against a real (temporary) database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QLineEdit, QMessageBox, QSpinBox
from pytestqt.qtbot import QtBot

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as core_settings
from c3desk.core import workers as core_workers
from c3desk.store import database
from c3desk.store.models import Session, Worker
from c3desk.ui.dialogs import (
    ANY_WORKER,
    KEY_FONT_SIZE,
    KEY_NOTIFY_NEEDS_INPUT,
    KEY_NOTIFY_SOUND,
    NewSessionDialog,
    SettingsDialog,
    WorkersDialog,
    load_ui_preferences,
)

# The offscreen platform warns when a top-level window's size constraints change.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def ui_settings(tmp_path: Path) -> Iterator[Path]:
    """QSettings("c3desk", "c3desk") lives in a temporary folder for the test."""
    folder = tmp_path / "qsettings"
    scope = QSettings.Scope.UserScope
    formats = (QSettings.Format.IniFormat, QSettings.Format.NativeFormat)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in formats:
        QSettings.setPath(fmt, scope, str(folder))
    yield folder
    QSettings.setDefaultFormat(QSettings.Format.NativeFormat)
    default = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    for fmt in formats:
        QSettings.setPath(fmt, scope, default)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def new_dialog(qtbot: QtBot, db: Paths, **kwargs: str) -> NewSessionDialog:
    dialog = NewSessionDialog(db, **kwargs)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def session_count() -> int:
    return int(Session.select().count())


# --- New session -------------------------------------------------------------------------------


def test_new_session_empty_title_is_refused_inline(qtbot: QtBot, db: Paths, project: Path) -> None:
    dialog = new_dialog(qtbot, db, folder=str(project))
    assert not dialog.create_button.isEnabled()
    assert dialog.errors["title"].message == ""  # not shouted at before the user types

    qtbot.keyClicks(dialog.title_edit, "x")
    assert dialog.create_button.isEnabled()
    qtbot.keyClick(dialog.title_edit, Qt.Key.Key_Backspace)
    assert not dialog.create_button.isEnabled()
    assert "empty" in dialog.errors["title"].message.lower()

    with qtbot.assertNotEmitted(dialog.created):
        dialog.submit()
    assert dialog.isVisible()
    assert "empty" in dialog.errors["title"].message.lower()
    assert session_count() == 0


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("", "choose the folder"),
        ("relative/path", "not an absolute path"),
        ("/no/such/folder/anywhere", "does not exist"),
    ],
)
def test_new_session_bad_folder_is_refused_inline(
    qtbot: QtBot, db: Paths, folder: str, expected: str
) -> None:
    dialog = new_dialog(qtbot, db)
    qtbot.keyClicks(dialog.title_edit, "Fix the build")
    dialog.folder_edit.setText(folder)
    assert not dialog.create_button.isEnabled()

    with qtbot.assertNotEmitted(dialog.created):
        dialog.submit()
    assert expected in dialog.errors["folder"].message.lower()
    assert dialog.errors["title"].message == ""
    assert dialog.isVisible()
    assert session_count() == 0


def test_new_session_folder_is_checked_while_typing(qtbot: QtBot, db: Paths, project: Path) -> None:
    dialog = new_dialog(qtbot, db)
    qtbot.keyClicks(dialog.title_edit, "Docs")
    qtbot.keyClicks(dialog.folder_edit, str(project) + "-nope")
    assert "does not exist" in dialog.errors["folder"].message
    assert not dialog.create_button.isEnabled()
    for _ in "-nope":
        qtbot.keyClick(dialog.folder_edit, Qt.Key.Key_Backspace)
    assert dialog.errors["folder"].message == ""
    assert dialog.create_button.isEnabled()


def test_new_session_unknown_worker_is_refused_inline(
    qtbot: QtBot, db: Paths, project: Path
) -> None:
    core_workers.add_worker("build-box", host="build.example.org")
    dialog = new_dialog(qtbot, db, folder=str(project), worker="build-box")
    assert dialog.worker() == "build-box"
    qtbot.keyClicks(dialog.title_edit, "Remote job")
    core_workers.remove_worker("build-box")  # removed elsewhere while the dialog is open

    with qtbot.assertNotEmitted(dialog.created):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "build-box" in dialog.errors["worker"].message
    assert dialog.isVisible()
    assert session_count() == 0


def test_new_session_created_on_valid_input(qtbot: QtBot, db: Paths, project: Path) -> None:
    dialog = new_dialog(qtbot, db)
    assert dialog.worker_combo.itemText(0) == ANY_WORKER
    assert dialog.agent() == "claude"
    qtbot.keyClicks(dialog.title_edit, "  Refactor the parser ")
    qtbot.keyClicks(dialog.folder_edit, str(project))
    dialog.prompt_edit.setPlainText("Split the lexer out.\nKeep the tests green.")
    dialog.agent_combo.setCurrentIndex(dialog.agent_combo.findData("shell"))
    dialog.pin_check.setChecked(True)
    assert dialog.create_button.isEnabled()

    with qtbot.waitSignal(dialog.created, timeout=2000) as signal:
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    session_id = signal.args[0]
    row = Session.get_by_id(session_id)
    assert row.title == "Refactor the parser"
    assert row.working_directory == str(project.resolve())
    assert row.prompt == "Split the lexer out.\nKeep the tests green."
    assert row.agent == "shell"
    assert row.lock
    assert row.worker_id is None
    assert row.status == "queued"
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not dialog.isVisible()
    assert session_count() == 1


def test_new_session_remote_worker_accepts_a_folder_checked_later(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("build-box", host="build.example.org")
    dialog = new_dialog(qtbot, db, worker="build-box")
    qtbot.keyClicks(dialog.title_edit, "On the build box")
    qtbot.keyClicks(dialog.folder_edit, "/srv/checkouts/app")
    assert dialog.create_button.isEnabled()
    with qtbot.waitSignal(dialog.created, timeout=2000) as signal:
        dialog.submit()
    row = Session.get_by_id(signal.args[0])
    assert row.worker.name == "build-box"
    assert row.working_directory == "/srv/checkouts/app"


def test_new_session_lists_agent_profiles_and_reports_a_bad_file(
    qtbot: QtBot, db: Paths, project: Path
) -> None:
    db.agents_file.write_text('[mycli]\nextends = "shell"\ncommand = ["mycli"]\n')
    dialog = new_dialog(qtbot, db)
    agents = [dialog.agent_combo.itemData(i) for i in range(dialog.agent_combo.count())]
    assert agents[0] == "claude"
    assert {"mycli", "shell", "codex"} <= set(agents)

    db.agents_file.write_text("[broken\n")
    broken = new_dialog(qtbot, db, folder=str(project))
    assert "agents.toml" in broken.errors["agent"].message
    assert broken.agent() == "claude"  # the built-ins still work
    qtbot.keyClicks(broken.title_edit, "Still possible")
    with qtbot.waitSignal(broken.created, timeout=2000):
        broken.submit()


def test_new_session_unsaved_for_a_read_only_database_stays_open(
    qtbot: QtBot, db: Paths, project: Path
) -> None:
    database.close()
    database.connect(db.db, read_only=True)  # every write now fails in SQLite itself
    dialog = new_dialog(qtbot, db, folder=str(project))
    qtbot.keyClicks(dialog.title_edit, "Not today")
    with qtbot.assertNotEmitted(dialog.created):
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    assert "could not be saved" in dialog.errors["general"].message
    assert dialog.isVisible()
    assert session_count() == 0


def test_new_session_folder_picker_does_not_block(qtbot: QtBot, db: Paths, project: Path) -> None:
    dialog = new_dialog(qtbot, db)
    qtbot.mouseClick(dialog.browse_button, Qt.MouseButton.LeftButton)
    picker = dialog.folder_picker
    assert picker is not None
    assert picker.isVisible()  # open() returned: no nested event loop
    picker.fileSelected.emit(str(project))
    picker.reject()
    assert dialog.folder() == str(project)
    assert dialog.errors["folder"].message == ""
    # A file dialog saves its history (QtProject.conf) when destroyed: do it while QSettings
    # still points at the temporary folder.
    with qtbot.waitSignal(picker.destroyed, timeout=2000):
        picker.deleteLater()


# --- Settings ----------------------------------------------------------------------------------


def settings_dialog(qtbot: QtBot) -> SettingsDialog:
    dialog = SettingsDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_a_two_line_warning_under_a_field_pushes_the_next_row_down(qtbot: QtBot, db: Paths) -> None:
    """Seen: the capacity warning's second line was drawn under "Pause the queue"."""
    Worker.update(max_sessions=4).where(Worker.type == "local").execute()
    dialog = settings_dialog(qtbot)
    dialog.resize(480, dialog.height())
    concurrent = dialog.editors["max_concurrent_sessions"]
    assert isinstance(concurrent, QSpinBox)
    concurrent.setValue(9)
    warning = dialog.errors["max_concurrent_sessions"]
    assert warning.message.startswith("Only 4 sessions can run at once, not 9")
    line = warning.fontMetrics().height()
    qtbot.waitUntil(lambda: warning.height() >= 2 * line)
    paused = dialog.editors["queue_paused"]
    bottom = warning.mapTo(dialog, warning.rect().bottomLeft()).y()
    qtbot.waitUntil(lambda: paused.mapTo(dialog, paused.rect().topLeft()).y() > bottom)
    # The window reloads an open dialog on every settings change, its own included: an
    # unchanged field keeps its message.
    dialog.reload()
    assert warning.message.startswith("Only 4 sessions can run at once, not 9")


def test_settings_has_an_editor_for_every_setting(qtbot: QtBot, db: Paths) -> None:
    dialog = settings_dialog(qtbot)
    assert set(dialog.editors) == set(core_settings.SPECS)
    stored = core_settings.get_settings()
    concurrent = dialog.editors["max_concurrent_sessions"]
    assert isinstance(concurrent, QSpinBox)
    assert (concurrent.minimum(), concurrent.maximum()) == (1, 64)
    assert concurrent.value() == stored["max_concurrent_sessions"]
    visible = dialog.editors["max_visible_sessions"]
    assert isinstance(visible, QSpinBox)
    assert (visible.minimum(), visible.maximum()) == (1, 9)
    theme = dialog.editors["theme"]
    assert isinstance(theme, QComboBox)
    assert theme.currentData() == stored["theme"]
    command = dialog.editors["claude_command"]
    assert isinstance(command, QLineEdit)
    assert command.text() == stored["claude_command"]


def test_settings_apply_live(qtbot: QtBot, db: Paths) -> None:
    dialog = settings_dialog(qtbot)
    concurrent = dialog.editors["max_concurrent_sessions"]
    assert isinstance(concurrent, QSpinBox)
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        concurrent.setValue(7)
    assert signal.args == ["max_concurrent_sessions", 7]
    assert core_settings.get_settings()["max_concurrent_sessions"] == 7

    theme = dialog.editors["theme"]
    assert isinstance(theme, QComboBox)
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        theme.setCurrentIndex(theme.findData("light"))
    assert signal.args == ["theme", "light"]
    assert core_settings.get_settings()["theme"] == "light"

    grid = dialog.editors["grid_layout"]
    assert isinstance(grid, QComboBox)
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        grid.setCurrentIndex(grid.findData("3x3"))
    assert signal.args == ["grid_layout", "3x3"]
    assert core_settings.get_settings()["grid_layout"] == "3x3"

    paused = dialog.editors["queue_paused"]
    assert isinstance(paused, QCheckBox)
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        qtbot.mouseClick(paused, Qt.MouseButton.LeftButton)
    assert signal.args == ["queue_paused", True]
    assert core_settings.get_settings()["queue_paused"] is True

    auto = dialog.editors["auto_approve"]
    assert isinstance(auto, QCheckBox)
    auto.setChecked(True)
    assert core_settings.get_settings()["auto_approve"] is True

    command = dialog.editors["claude_command"]
    assert isinstance(command, QLineEdit)
    command.selectAll()
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        qtbot.keyClicks(command, "claude --model opus")
        qtbot.keyClick(command, Qt.Key.Key_Return)
    assert signal.args == ["claude_command", "claude --model opus"]
    assert core_settings.get_settings()["claude_command"] == "claude --model opus"
    assert dialog.isVisible()  # Enter finished the edit; it did not close the dialog


def test_settings_bad_value_shows_error_and_keeps_the_stored_one(qtbot: QtBot, db: Paths) -> None:
    dialog = settings_dialog(qtbot)
    command = dialog.editors["claude_command"]
    assert isinstance(command, QLineEdit)
    command.selectAll()
    qtbot.keyClick(command, Qt.Key.Key_Delete)
    assert "empty" in dialog.errors["claude_command"].message  # as the user types
    with qtbot.assertNotEmitted(dialog.settingChanged):
        qtbot.keyClick(command, Qt.Key.Key_Return)
    assert "empty" in dialog.errors["claude_command"].message
    assert core_settings.get_settings()["claude_command"] == "claude"

    with qtbot.assertNotEmitted(dialog.settingChanged):
        assert not dialog.apply("max_visible_sessions", "12")
    assert "out of range" in dialog.errors["max_visible_sessions"].message
    assert core_settings.get_settings()["max_visible_sessions"] == 2

    assert dialog.apply("max_visible_sessions", "4")
    assert dialog.errors["max_visible_sessions"].message == ""


def test_settings_says_when_the_workers_cannot_reach_the_global_limit(
    qtbot: QtBot, db: Paths
) -> None:
    local = core_workers.local_worker().name
    core_workers.update_worker(local, max_sessions=2)
    dialog = settings_dialog(qtbot)
    assert dialog.apply("max_concurrent_sessions", "9")  # allowed, and stored
    assert core_settings.get_settings()["max_concurrent_sessions"] == 9
    message = dialog.errors["max_concurrent_sessions"].message
    assert "only 2 sessions can run at once" in message.lower() and local in message
    assert dialog.apply("max_concurrent_sessions", "2")
    assert dialog.errors["max_concurrent_sessions"].message == ""


def test_settings_typed_command_is_applied_on_close(qtbot: QtBot, db: Paths) -> None:
    dialog = settings_dialog(qtbot)
    command = dialog.editors["claude_command"]
    assert isinstance(command, QLineEdit)
    command.selectAll()
    qtbot.keyClicks(command, "/opt/claude/bin/claude")
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000):
        qtbot.mouseClick(dialog.buttons.buttons()[0], Qt.MouseButton.LeftButton)
    assert core_settings.get_settings()["claude_command"] == "/opt/claude/bin/claude"


def test_settings_reload_shows_changes_made_elsewhere(qtbot: QtBot, db: Paths) -> None:
    dialog = settings_dialog(qtbot)
    core_settings.set_setting("max_visible_sessions", "5")
    with qtbot.assertNotEmitted(dialog.settingChanged):
        dialog.reload()
    visible = dialog.editors["max_visible_sessions"]
    assert isinstance(visible, QSpinBox)
    assert visible.value() == 5


def test_settings_ui_preferences_are_stored_with_qsettings(
    qtbot: QtBot, db: Paths, ui_settings: Path
) -> None:
    dialog = settings_dialog(qtbot)
    assert dialog.font_combo.fontFilters() & dialog.font_combo.FontFilter.MonospacedFonts
    size = 17 if dialog.font_size.value() != 17 else 18
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        dialog.font_size.setValue(size)
    assert signal.args == [KEY_FONT_SIZE, size]

    notify = not dialog.notify_check.isChecked()
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        dialog.notify_check.setChecked(notify)
    assert signal.args == [KEY_NOTIFY_NEEDS_INPUT, notify]
    with qtbot.waitSignal(dialog.settingChanged, timeout=1000) as signal:
        dialog.sound_combo.setCurrentIndex(dialog.sound_combo.findData("beep"))
    assert signal.args == [KEY_NOTIFY_SOUND, "beep"]

    prefs = load_ui_preferences()
    assert prefs.font_size == size
    assert prefs.notify_needs_input is notify
    assert prefs.notify_sound == "beep"
    assert prefs.font_family == dialog.font_combo.currentFont().family()
    assert list(ui_settings.rglob("*.ini")), "the preferences went to the temporary folder"
    # The database is untouched by UI preferences.
    assert core_settings.get_settings()["max_visible_sessions"] == 2


# --- Workers -----------------------------------------------------------------------------------


def workers_dialog(qtbot: QtBot) -> WorkersDialog:
    dialog = WorkersDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def table_names(dialog: WorkersDialog) -> list[str]:
    return [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]


def fill_form(dialog: WorkersDialog, **values: str | int) -> None:
    form = dialog.form
    edits = {
        "name": form.name_edit,
        "host": form.host_edit,
        "user": form.user_edit,
        "key": form.key_edit,
    }
    for key, value in values.items():
        if key in edits:
            edits[key].setText(str(value))
        elif key == "port":
            form.port_spin.setValue(int(value))
        elif key == "max_sessions":
            form.max_spin.setValue(int(value))


def test_workers_lists_the_local_worker(qtbot: QtBot, db: Paths) -> None:
    dialog = workers_dialog(qtbot)
    local = core_workers.local_worker()
    assert table_names(dialog) == [local.name]
    dialog.select(local.name)
    assert dialog.edit_button.isEnabled()
    assert not dialog.remove_button.isEnabled()


def test_workers_add(qtbot: QtBot, db: Paths, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    dialog = workers_dialog(qtbot)
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    assert dialog.form.isVisible()
    fill_form(dialog, name="build-box", host="build.example.org", user="ci", port=2222)
    fill_form(dialog, key=str(key), max_sessions=5)
    with qtbot.waitSignal(dialog.workersChanged, timeout=1000):
        qtbot.mouseClick(dialog.form.save_button, Qt.MouseButton.LeftButton)
    worker = Worker.get(Worker.name == "build-box")
    assert (worker.ssh_host, worker.ssh_port, worker.ssh_user) == ("build.example.org", 2222, "ci")
    assert worker.ssh_key_path == str(key.resolve())
    assert worker.max_sessions == 5
    assert "build-box" in table_names(dialog)
    assert dialog.selected_name() == "build-box"
    assert not dialog.form.isVisible()


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"name": "", "host": "h"}, "name", "empty"),
        ({"name": "w", "host": "-oProxyCommand=x"}, "host", "not a valid host"),
        ({"name": "w", "host": "h", "user": "-x"}, "user", "not a valid user"),
        ({"name": "w", "host": "h", "key": "/no/such/key"}, "key", "does not exist"),
    ],
)
def test_workers_add_refuses_bad_input_inline(
    qtbot: QtBot, db: Paths, values: dict[str, str], field: str, expected: str
) -> None:
    dialog = workers_dialog(qtbot)
    dialog.add()
    fill_form(dialog, **values)
    with qtbot.assertNotEmitted(dialog.workersChanged):
        dialog.form.save_button.click()
    assert expected in dialog.form.errors[field].message
    assert dialog.form.isVisible()
    assert Worker.select().where(Worker.type == "remote").count() == 0


def test_workers_add_refuses_a_duplicate_name(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("build-box", host="a.example.org")
    dialog = workers_dialog(qtbot)
    dialog.add()
    fill_form(dialog, name="build-box", host="b.example.org")
    dialog.form.save_button.click()
    assert "already exists" in dialog.form.errors["name"].message
    assert Worker.get(Worker.name == "build-box").ssh_host == "a.example.org"


def test_workers_key_file_picker_does_not_block(qtbot: QtBot, db: Paths, tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("key\n")
    dialog = workers_dialog(qtbot)
    dialog.add()
    qtbot.mouseClick(dialog.form.key_button, Qt.MouseButton.LeftButton)
    picker = dialog.form.key_picker
    assert picker is not None and picker.isVisible()
    picker.fileSelected.emit(str(key))
    picker.reject()
    assert dialog.form.key_edit.text() == str(key)
    with qtbot.waitSignal(picker.destroyed, timeout=2000):
        picker.deleteLater()


def test_workers_edit(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("build-box", host="a.example.org")
    dialog = workers_dialog(qtbot)
    dialog.select("build-box")
    qtbot.mouseClick(dialog.edit_button, Qt.MouseButton.LeftButton)
    assert dialog.form.name_edit.text() == "build-box"
    assert dialog.form.host_edit.text() == "a.example.org"
    fill_form(dialog, name="builder", host="b.example.org", max_sessions=3)
    with qtbot.waitSignal(dialog.workersChanged, timeout=1000):
        dialog.form.save_button.click()
    worker = Worker.get(Worker.name == "builder")
    assert (worker.ssh_host, worker.max_sessions) == ("b.example.org", 3)
    assert "build-box" not in table_names(dialog)

    dialog.select("builder")
    dialog.edit()
    fill_form(dialog, host="bad host")
    with qtbot.assertNotEmitted(dialog.workersChanged):
        dialog.form.save_button.click()
    assert "not a valid host" in dialog.form.errors["host"].message
    assert Worker.get(Worker.name == "builder").ssh_host == "b.example.org"


def test_workers_local_worker_only_changes_its_limit(qtbot: QtBot, db: Paths) -> None:
    local = core_workers.local_worker()
    dialog = workers_dialog(qtbot)
    dialog.select(local.name)
    dialog.edit()
    assert dialog.form.name_edit.isReadOnly()
    assert dialog.form.host_edit.isReadOnly()
    assert not dialog.form.port_spin.isEnabled()
    fill_form(dialog, max_sessions=6)
    with qtbot.waitSignal(dialog.workersChanged, timeout=1000):
        dialog.form.save_button.click()
    again = core_workers.local_worker()
    assert again.max_sessions == 6
    assert again.name == local.name


def test_workers_remove_after_confirmation(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("build-box", host="a.example.org")
    dialog = workers_dialog(qtbot)
    dialog.select("build-box")
    assert dialog.remove_button.isEnabled()
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    box = dialog.confirm_box
    assert box is not None and box.isVisible()
    with qtbot.assertNotEmitted(dialog.workersChanged):
        box.button(QMessageBox.StandardButton.Cancel).click()
    assert Worker.get_or_none(Worker.name == "build-box") is not None

    dialog.remove()
    box = dialog.confirm_box
    assert box is not None
    with qtbot.waitSignal(dialog.workersChanged, timeout=1000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert Worker.get_or_none(Worker.name == "build-box") is None
    assert "build-box" not in table_names(dialog)


def test_workers_remove_refused_inline_while_running(
    qtbot: QtBot, db: Paths, tmp_path: Path
) -> None:
    core_workers.add_worker("build-box", host="a.example.org")
    session = sess.create_session(title="t", working_directory="/srv/x", worker="build-box")
    sess.transition(session.id, "active", pid=1)
    dialog = workers_dialog(qtbot)
    with qtbot.assertNotEmitted(dialog.workersChanged):
        assert not dialog.remove_now("build-box")
    assert "running" in dialog.error.message
    assert Worker.get_or_none(Worker.name == "build-box") is not None
