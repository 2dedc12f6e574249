"""The desktop app end to end, offscreen: the real engine on qasync's loop, fake agents."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.engine import FAKE
from helpers.qtloop import running_window, until
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)
from PySide6.QtCore import QEvent, QSettings, QSize, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QSpinBox, QWidget

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.runtime import Instance
from c3desk.store.models import Session, Worker
from c3desk.ui.main_window import MainWindow
from c3desk.ui.queue_model import Group


def add(title: str, cwd: Path, prompt: str) -> str:
    return str(sess.create_session(title=title, working_directory=str(cwd), prompt=prompt).id)


def row(sid: str) -> Session:
    return Session.get_by_id(sid)


async def command_line(paths: Paths, *args: str) -> str:
    """``c3desk ARGS`` in a process of its own, as a user types it beside the window: its
    output (it must succeed)."""
    env = dict(os.environ, C3DESK_HOME=str(paths.home))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "c3desk", *args,
        env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, args
    return out.decode()


@pytest.fixture
def app_env(db: Paths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    cfg.set_setting("claude_command", str(FAKE))
    return db


def test_window_runs_sessions_surfaces_prompts_and_continues(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cfg.set_setting("max_concurrent_sessions", "2")
    cfg.set_setting("max_visible_sessions", "4")
    plain = add("Plain", work, "say hello")
    asks = add("Asks", work, "ask make test")
    third = add("Third", work, "write chart.png; write report.pdf; say made them")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            alerts: list[str] = []
            window.tray.notify = lambda sid, title, text: alerts.append(sid)  # type: ignore[method-assign]
            window.tray.fallback_alert = lambda w: alerts.append("alert")  # type: ignore[method-assign]
            window.show()
            # Limit 2: two active, the third queued.
            await until(lambda: row(plain).status == "active" and row(asks).status == "active")
            assert row(third).status == "queued"
            # The permission prompt surfaces: a tile, the title count, one alert.
            await until(lambda: row(asks).needs_input)
            await until(
                lambda: window.windowTitle() == "c3desk (1)" or window.windowTitle() == "c3desk (2)"
            )
            tile = await until(lambda: window.grid.tile_of(asks))
            # The hook says "permission_prompt" first; the screen then names the prompt.
            await until(lambda: tile.info is not None and tile.info.reason == "bash")
            assert tile.info is not None and tile.info.needs_input
            assert len(alerts) >= 1
            count = len(alerts)
            # Typing 1 in its tile approves.
            assert tile.view is not None
            tile.view.setFocus()
            QTest.keyClick(tile.view, Qt.Key.Key_1)
            await until(lambda: any("Ran make test" in ln for ln in tile.view.model.display))
            assert len([a for a in alerts[count:] if a == asks]) == 0
            # Finish "Plain": the queued one starts in its slot.
            plain_tile = window.grid.tile_of(plain)
            assert plain_tile is not None and plain_tile.view is not None
            await until(
                lambda: any("? for shortcuts" in ln for ln in plain_tile.view.model.display)
            )
            await window.engine.send_text(plain, "/exit")
            await until(lambda: row(plain).status == "completed")
            await until(lambda: row(third).status == "active")
            # Continue from the tile header of the completed session.
            done_tile = await until(lambda: window.grid.tile_of(plain))
            await until(
                lambda: done_tile.header.cont.isVisible() or row(plain).status != "completed"
            )
            await window.engine.send_text(asks, "/exit")
            await until(lambda: row(asks).status == "completed")
            done_tile.header.cont.click()
            await until(lambda: row(plain).status == "active")
            assert row(plain).continuation_count == 1

            def launches() -> list[dict[str, object]]:
                return [
                    json.loads(e.detail or "{}") for e in sess.events(plain) if e.kind == "launch"
                ]

            # The launch is recorded once the worker's machine said how to start it.
            await until(lambda: len(launches()) == 2)
            assert launches()[-1]["mode"] == "continue"
            # The artifacts panel lists what the third session made.
            await until(
                lambda: any("made them" in ln for ln in window.engine.model_of(third).display)
            )
            await window.engine.send_text(third, "/exit")
            await until(lambda: row(third).status == "completed")
            await until(lambda: len(list(Session.get_by_id(third).artifacts)) >= 2)
            window.show_artifacts(third)
            items = window.artifacts.artifact_items()
            assert any(p.endswith("chart.png") for p in items.get("image", []))
            assert any(p.endswith("report.pdf") for p in items.get("pdf", []))
            # Status bar and the queue dock reflect the state.
            assert "Active" in window._status.text()

    loop.run_until_complete(scenario())


def test_sessions_the_command_line_adds_and_moves_show_while_every_slot_is_busy(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    """No slot frees, so nothing starts: the window still shows what the command line did."""
    cfg.set_setting("max_concurrent_sessions", "1")
    runner = add("runner", tmp_path, "say BUSY; think 300")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: row(runner).status == "active")
            model = window.queue.model
            first, second = [
                (await command_line(app_env, "add", "--title", t, "--dir", str(tmp_path))).strip()
                for t in ("first", "second")
            ]
            await until(lambda: model.session_ids(Group.QUEUED) == [first, second])
            await until(lambda: "Queued 2" in window._status.text())
            await command_line(app_env, "move", second, "1")
            await until(lambda: model.session_ids(Group.QUEUED) == [second, first])
            assert row(runner).status == "active" and row(first).status == "queued"

    loop.run_until_complete(scenario())


def test_ctrl_shift_e_in_the_queue_shows_the_selected_sessions_artifacts(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    """One key for artifacts, as the menus say: in the queue it is the selected session's (the
    queue's own different key was what its context menu showed)."""
    cfg.set_setting("queue_paused", "true")
    first, second = add("first", tmp_path, "say hi"), add("second", tmp_path, "say hi")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            action = window.queue.actions_by_name["artifacts"]
            assert action.text().endswith("\tCtrl+Shift+E") and action.shortcut().isEmpty()
            assert window.queue.select_session(second)
            window.queue.view.setFocus()
            await until(window.queue.view.hasFocus)
            keys = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            QTest.keyClick(window.queue.view, Qt.Key.Key_E, keys)
            await until(lambda: window.artifacts.session_id == second)
            assert window.artifacts_dock.isVisible() and first != second

    loop.run_until_complete(scenario())


def test_a_first_window_fits_its_screen(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    """Seen under Xvfb at 1280x800: the first window was 1500x940, its status bar off the
    screen. (The offscreen screen is smaller still.)"""
    from c3desk.ui.main_window import FIRST_SIZE, first_size

    assert first_size(QSize(2560, 1440)) == FIRST_SIZE
    assert first_size(QSize(1280, 800)) == QSize(1152, 720)

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot, size=None) as window:
            available = window.screen().availableGeometry()
            assert window.width() <= available.width() and window.height() <= available.height()

    loop.run_until_complete(scenario())


def test_drag_and_drop_reorder_reaches_the_database(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    cfg.set_setting("queue_paused", "true")
    ids = [add(f"q{i}", tmp_path, "say hi") for i in range(4)]

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            model = window.queue.model
            source = model.index_of(ids[3])
            data = model.mimeData([source])
            queued = window.queue.group_index(Group.QUEUED)
            assert model.dropMimeData(data, Qt.DropAction.MoveAction, 0, 0, queued)
            order = [s.id for s in sess.list_sessions("queued")]
            assert order == [ids[3], ids[0], ids[1], ids[2]]

    loop.run_until_complete(scenario())


def test_focused_tile_is_not_swapped_and_restore(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    cfg.set_setting("max_concurrent_sessions", "3")
    cfg.set_setting("max_visible_sessions", "1")
    Worker.update(max_sessions=3).where(Worker.type == "local").execute()
    first = add("First", tmp_path, "think 600")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            tile = await until(lambda: window.grid.tile_of(first))
            assert tile.view is not None
            tile.view.setFocus()
            window.controller.policy.typing = first  # the user types here
            second = add("Second", tmp_path, "ask deploy")
            window.engine.wake()
            await until(lambda: row(second).needs_input)
            window.controller.refresh()
            assert window.grid.tile_of(first) is not None
            assert window.grid.tile_of(second) is None
            # Not typing there any more: the session needing input takes the tile.
            window.controller.policy.typing = None
            window.controller.refresh()
            await until(lambda: window.grid.tile_of(second))
            window.save_state()

    loop.run_until_complete(scenario())


def test_state_restored_settings_live_and_close_asks(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QMessageBox

    from c3desk.ui.theme import apply_theme

    cfg.set_setting("max_visible_sessions", "4")
    cfg.set_setting("grid_layout", "auto")
    sid = add("Keeps running", tmp_path, "think 600")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: window.grid.tile_of(sid))
            # Settings apply live: the grid layout and the theme.
            assert sum(t.isVisible() for t in window.grid.tiles) == 1
            cfg.set_setting("grid_layout", "2x2")
            window.apply_setting("grid_layout", "2x2")
            assert sum(t.isVisible() for t in window.grid.tiles) == 4
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            dark = app.palette().color(QPalette.ColorRole.Window)
            cfg.set_setting("theme", "light")
            window.apply_setting("theme", "light")
            assert app.palette().color(QPalette.ColorRole.Window) != dark
            apply_theme(app, "dark")
            # Closing with a running session asks first, and nothing is killed meanwhile.
            window.resize(720, 530)  # fits the offscreen screen, which restoreGeometry respects
            await until(lambda: window.engine.hosted_count())
            window.close()
            box = await until(lambda: window.findChild(QMessageBox))
            assert "1 session" in box.text() and "1 of them run in tmux" in box.text()
            assert box.defaultButton().objectName() == "quit_keep"  # keeping is the default
            assert row(sid).status == "active" and window.isVisible()
            box.reject()
            window.save_state()
        # A new window restores the geometry and shows the same tile.
        async with running_window(app_env, tmp_path, qtbot) as again:
            assert (again.width(), again.height()) == (720, 530)
            assert sid in again.controller.policy.tiles

    loop.run_until_complete(scenario())


def test_killing_a_working_session_asks_first_and_quit_from_the_menu_asks_too(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    """The tile's kill button sits where a "close" would: one click must not end an agent's
    work. Quitting from the menu or the tray asks as closing the window does."""
    from PySide6.QtWidgets import QMessageBox

    cfg.set_setting("persistent_sessions", "never")  # quitting would end it
    cfg.set_setting("max_concurrent_sessions", "3")
    Worker.update(max_sessions=3).where(Worker.type == "local").execute()
    working = add("Working", tmp_path, "say BUSY; think 600")
    other = add("Other", tmp_path, "say BUSY; think 600")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: row(working).status == row(other).status == "active")
            tile = await until(lambda: window.grid.tile_of(working))
            await until(lambda: tile.header.kill.isVisible())
            tile.header.kill.click()
            box = await until(lambda: window.findChild(QMessageBox, "confirm_kill"))
            assert "Working" in box.text()
            assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
            box.button(QMessageBox.StandardButton.Cancel).click()
            assert row(working).status == "active"
            # Asked again, answered "Kill" and "don't ask again": killed; the next one is not
            # asked about.
            window.kill(working)
            box = await until(lambda: window._kill_box if window._kill_box is not box else None)
            box.checkBox().setChecked(True)
            box.findChild(QWidget, "kill_confirmed").click()
            await until(lambda: row(working).status == "failed")
            assert row(working).failure_reason == "killed by the user"
            window.kill(other)
            await until(lambda: row(other).status == "failed")
            assert window._kill_box is box  # no new question

            third = add("Third", tmp_path, "say BUSY; think 600")
            window.engine.wake()
            await until(lambda: row(third).status == "active")
            quit_action = next(a for a in window.menuBar().actions() if a.text() == "&Session")
            [item] = [a for a in quit_action.menu().actions() if a.text() == "&Quit"]
            item.trigger()
            ask = await until(lambda: window.findChild(QMessageBox, "confirm_quit"))
            assert "Quitting ends them" in ask.text()
            assert row(third).status == "active" and window.isVisible()
            ask.reject()

    loop.run_until_complete(scenario())


def test_settings_set_from_the_cli_apply_to_the_running_window(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    from PySide6.QtGui import QPalette

    from c3desk.ui.theme import apply_theme

    cfg.set_setting("grid_layout", "auto")
    cfg.set_setting("max_visible_sessions", "4")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            app = QApplication.instance()
            assert isinstance(app, QApplication)
            dark = app.palette().color(QPalette.ColorRole.Window)
            for key, value in (("theme", "light"), ("grid_layout", "2x2")):
                await command_line(app_env, "settings", "set", key, value)
            try:
                await until(lambda: app.palette().color(QPalette.ColorRole.Window) != dark)
                assert window.theme == "light"
                await until(lambda: sum(t.isVisible() for t in window.grid.tiles) == 4)
                # An open settings dialog follows too (it showed the old values).
                window.show_settings()
                dialog = window._settings_dialog
                assert dialog is not None
                await command_line(app_env, "settings", "set", "max_concurrent_sessions", "3")
                await command_line(app_env, "settings", "set", "theme", "dark")
                spin, theme = dialog.editors["max_concurrent_sessions"], dialog.editors["theme"]
                assert isinstance(spin, QSpinBox) and isinstance(theme, QComboBox)
                await until(lambda: spin.value() == 3 and theme.currentData() == "dark")
                dialog.reject()
                await until(lambda: window._settings_dialog is None)
            finally:
                apply_theme(app, "dark")

    loop.run_until_complete(scenario())


def test_a_session_held_by_a_disconnected_worker_says_why(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    from c3desk.core import workers as wrk
    from c3desk.ui.queue_model import TOOLTIP

    wrk.add_worker("vps", host="127.0.0.1")  # never connected here
    held = str(sess.create_session(title="Held", working_directory=str(tmp_path), worker="vps").id)

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: "waiting: worker 'vps' is disconnected" in window._status.text())
            model = window.queue.model
            tip = await until(lambda: model.data(model.index_of(held), TOOLTIP))
            assert "waiting: worker 'vps' is disconnected" in tip

    loop.run_until_complete(scenario())


def test_status_bar_counts_sessions_and_workers_and_follows_the_pause(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    from c3desk.core import workers as wrk

    cfg.set_setting("max_concurrent_sessions", "3")
    cfg.set_setting("queue_paused", "true")
    wrk.add_worker("vps", host="127.0.0.1")  # never connected here
    work = tmp_path / "work"
    work.mkdir()
    first = add("First", work, "say hello")
    add("Second", work, "say hello")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            text = window._status.text()
            for part in (
                "Active 0/3",
                "Queued 2",
                "Needs input 0",
                "Workers 1/2 connected",
                "Queue paused",
            ):
                assert part in text
            assert window.windowTitle() == "c3desk"
            assert window.pause_action.isChecked()
            window.set_paused(False)
            await until(lambda: row(first).status != "queued")
            await until(lambda: "Queued 0" in window._status.text())
            assert "Queue paused" not in window._status.text()
            assert not window.pause_action.isChecked()

    loop.run_until_complete(scenario())


def test_status_bar_shows_the_capacity_the_workers_allow(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    from c3desk.core import workers as wrk

    wrk.update_worker(wrk.local_worker().name, max_sessions=2)
    cfg.set_setting("max_concurrent_sessions", "9")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: "Active 0/2 (limit 9; workers allow 2)" in window._status.text())
            wrk.update_worker(wrk.local_worker().name, max_sessions=9)
            window._refresh()
            assert "Active 0/9   ·   " in window._status.text()
            assert "workers allow" not in window._status.text()

    loop.run_until_complete(scenario())


def test_a_worker_that_is_down_shows_at_a_glance_until_its_key_is_trusted(
    app_env: Paths,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    qtbot: Any,
    sshd: Sshd,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from c3desk.core import workers as wrk
    from c3desk.ui.dialogs import WorkersDialog
    from c3desk.ui.dialogs.workers import COLUMN_REASON
    from c3desk.ui.queue_model import DECORATION, Column

    user = tmp_path / "user"
    (user / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(user))  # the user's own ~/.ssh stays out of it
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    cfg.set_setting("queue_paused", "true")  # the held session stays queued
    key = str(sshd.user_key)
    wrk.add_worker("box", host=sshd.host, port=sshd.port, user=sshd.user, key_path=key)
    held = str(sess.create_session(title="Held", working_directory=str(tmp_path), worker="box").id)

    def reason_of(dialog: WorkersDialog, name: str) -> str:
        rows = range(dialog.table.rowCount())
        row = next(r for r in rows if dialog.table.item(r, 0).text() == name)
        return str(dialog.table.item(row, COLUMN_REASON).text())

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            alert = window.worker_alert
            # The engine cannot log in (the host key is not trusted yet): the status bar says so.
            await until(lambda: alert.isVisible() and "box error" in alert.text())
            assert "not trusted yet" in alert.toolTip()
            assert "1 queued session(s) wait for it" in alert.toolTip()
            notice = window.queue.worker_notice
            assert notice.isVisible()
            assert window.queue.worker_notice_text.startswith("box: error; 1 queued session")
            assert "not trusted yet" in notice.toolTip()
            model = window.queue.model
            assert model.data(model.index_of(held, Column.WORKER)) == "box"
            assert model.data(model.index_of(held, Column.WORKER), DECORATION) is not None

            # A click on it opens the Workers dialog, which shows the engine's reason.
            alert.linkActivated.emit("workers")
            dialog = await until(lambda: window.findChild(WorkersDialog))
            assert "not trusted yet" in reason_of(dialog, "box")
            dialog.select("box")
            dialog.test()
            keys = await until(lambda: dialog.key_dialog)
            assert keys.trust_button is not None
            keys.trust_button.click()
            # The engine's next attempt logs in: the alert, the notice and the mark go.
            await until(lambda: not alert.isVisible(), timeout=120)
            assert not notice.isVisible()
            assert model.data(model.index_of(held, Column.WORKER), DECORATION) is None
            await until(lambda: reason_of(dialog, "box") == "")
            dialog.close()

    loop.run_until_complete(scenario())


def test_a_worker_whose_key_needs_a_passphrase_is_asked_for_it_once(
    app_env: Paths,
    tmp_path: Path,
    loop: asyncio.AbstractEventLoop,
    qtbot: Any,
    sshd: Sshd,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import keyring
    import keyring.backends.fail
    from helpers.sshd import keygen

    from c3desk.core import workers as wrk
    from c3desk.transports import ssh_login
    from c3desk.ui.dialogs import WorkersDialog

    user = tmp_path / "user"
    (user / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(user))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    fresh = ssh_login.Passphrases()  # this test's passphrases, shared by the dialog and engine
    monkeypatch.setattr(ssh_login, "PASSPHRASES", fresh)
    monkeypatch.setattr("c3desk.ui.dialogs.workers.PASSPHRASES", fresh)
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # nothing saved from an earlier run
    key = keygen(tmp_path / "encrypted_key", passphrase="secret")
    sshd.authorize(key.with_suffix(".pub"))
    kind, blob = sshd.host_key.with_suffix(".pub").read_text().split()[:2]
    (app_env.home / "known_hosts").write_text(f"[{sshd.host}]:{sshd.port} {kind} {blob}\n")
    wrk.add_worker("box", host=sshd.host, port=sshd.port, user=sshd.user, key_path=str(key))

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            alert = window.worker_alert
            await until(lambda: alert.isVisible() and "encrypted" in alert.toolTip())
            # Opening the Workers dialog asks for it (the engine's reason names the key file).
            window.show_workers()
            dialog = await until(lambda: window.findChild(WorkersDialog))
            ask = await until(lambda: dialog.passphrase_dialog)
            assert ask.key_path == key
            ask.edit.setText("secret")
            ask.ok_button.click()
            assert fresh.get(key) == "secret"
            # The engine's next attempt logs in with it; the dialog's own test says so too.
            await until(lambda: not alert.isVisible(), timeout=120)
            await until(lambda: "box" in dialog.results and not dialog.testing)
            assert dialog.results["box"].connected, dialog.results["box"].message
            assert dialog.passphrase_dialog is None
            dialog.close()

    try:
        loop.run_until_complete(scenario())
    finally:
        keyring.set_keyring(before)


@pytest.mark.parametrize("answer", ["quit_keep", "quit_end"])
def test_quitting_keeps_hosted_sessions_running_or_ends_them_as_answered(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any, answer: str
) -> None:
    from PySide6.QtWidgets import QMessageBox, QPushButton

    sid = add("Hosted", tmp_path, "think 600")
    quits: list[bool] = []

    async def scenario() -> None:
        instance = Instance(app_env)
        await instance.start()
        settings = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
        window = MainWindow(
            app_env, instance.engine, settings=settings, on_quit=lambda: quits.append(True)
        )
        qtbot.addWidget(window)
        try:
            window.show()
            await until(lambda: row(sid).pid and row(sid).host_handle.startswith("tmux:"))
            pid = row(sid).pid
            window.close()
            box = await until(lambda: window.findChild(QMessageBox))
            box.findChild(QPushButton, answer).click()
            await until(lambda: quits)
            assert window.end_sessions is (answer == "quit_end")
            await instance.stop(keep_hosted=not window.end_sessions)
            if answer == "quit_keep":
                assert row(sid).status == "active" and Path(f"/proc/{pid}").exists()
            else:
                assert row(sid).status == "failed"
                assert row(sid).failure_reason == "stopped when c3desk quit"
                await until(lambda: not Path(f"/proc/{pid}").exists())
        finally:
            window.close()

    loop.run_until_complete(scenario())


def test_a_restarted_window_shows_the_reattached_hosted_session_with_its_screen(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    sid = add("Survives", tmp_path, "say SHOWN-BEFORE-THE-RESTART; think 600")

    def tile_shows(window: MainWindow) -> bool:
        tile = window.grid.tile_of(sid)
        view = tile.view if tile is not None else None
        return view is not None and any(
            "SHOWN-BEFORE-THE-RESTART" in row for row in view.model.display
        )

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: tile_shows(window))
            pid = row(sid).pid
        assert row(sid).status == "active"  # the instance quit; its hosted session did not
        async with running_window(app_env, tmp_path, qtbot) as again:
            again.show()
            await until(lambda: tile_shows(again))
            assert row(sid).pid == pid and again.engine.live[sid].process is not None
            await again.engine.kill(sid)

    loop.run_until_complete(scenario())


def test_tiles_kept_from_last_time_give_way_to_a_session_that_needs_input(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    """The grid comes back with last time's tiles, but as shown tiles, not as the user's
    requests: finished sessions restored into every tile must not keep out a session waiting
    at its permission box (found under Xvfb after a restart with a reattached remote session)."""
    cfg.set_setting("max_visible_sessions", "2")
    cfg.set_setting("grid_layout", "auto")
    first = add("Finished first", tmp_path, "say ONE; exit 0")
    second = add("Finished second", tmp_path, "say TWO; exit 0")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: {row(first).status, row(second).status} == {"completed"})
            await until(lambda: set(window.controller.policy.tiles) == {first, second})
            window.save_state()
        asks = add("Asks", tmp_path, "say WAITING; ask make test")
        async with running_window(app_env, tmp_path, qtbot) as again:
            again.show()
            await until(lambda: row(asks).needs_input)
            await until(lambda: again.grid.tile_of(asks))
            # It took one tile; the other still shows a session kept from last time.
            kept = [t for t in again.controller.policy.tiles if t and t != asks]
            assert len(kept) == 1 and kept[0] in (first, second)
            await again.engine.kill(asks)

    loop.run_until_complete(scenario())


@pytest.mark.qt_log_ignore(r"This plugin does not support (raise|propagateSizeHints)")
def test_the_focus_a_window_gets_when_it_opens_is_not_a_tile_the_user_chose(
    app_env: Paths, tmp_path: Path, loop: asyncio.AbstractEventLoop, qtbot: Any
) -> None:
    """Qt hands the first view the focus when the window is activated. Taken for the user's
    choice, it made Ctrl+Shift+J ("next session needing input") skip the one session at a
    permission box when its tile happened to come first (the Xvfb newcomer test typed its "1"
    into the idle session)."""
    from PySide6.QtGui import QFocusEvent

    cfg.set_setting("max_visible_sessions", "2")
    asks = add("Asks", tmp_path, "ask make test")
    idle = add("Idle", tmp_path, "say ready")

    async def scenario() -> None:
        async with running_window(app_env, tmp_path, qtbot) as window:
            window.show()
            await until(lambda: row(asks).needs_input and row(idle).needs_input)
            await until(lambda: len(window.controller.needing_input()) == 2)
            first, second = window.controller.needing_input()
            tile = await until(lambda: window.grid.tile_of(first))
            assert tile.view is not None
            activated = QFocusEvent(QEvent.Type.FocusIn, Qt.FocusReason.ActiveWindowFocusReason)
            QApplication.sendEvent(tile.view, activated)
            assert window.controller.policy.typing is None
            window.next_needing_input()  # Ctrl+Shift+J: the first one, not skipped
            assert window.controller.policy.typing == first
            other = await until(lambda: window.grid.tile_of(second))
            clicked = QFocusEvent(QEvent.Type.FocusIn, Qt.FocusReason.MouseFocusReason)
            QApplication.sendEvent(other.view, clicked)
            assert window.controller.policy.typing == second  # a click is a choice
            await window.engine.kill(asks)
            await window.engine.kill(idle)

    loop.run_until_complete(scenario())
