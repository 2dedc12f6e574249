"""The Workers dialog against a real OpenSSH sshd on 127.0.0.1: add a worker, Test it (off the
event loop), check and trust its host key, give an encrypted key's passphrase, and remove a
worker that has sessions.

HOME points at a temporary folder, so the user's own ~/.ssh (known_hosts, config, keys) is never
read, and the ssh-agent is out of reach: only the worker's key file may log in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from helpers.sshd import Sshd, keygen, keygen_fingerprint, sshd  # noqa: F401 (fixture)
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import workers as core_workers
from c3desk.core.views import workers as vw
from c3desk.store.models import Session, Worker
from c3desk.transports import ssh_login
from c3desk.ui.dialogs import WorkersDialog
from c3desk.ui.dialogs.workers import COLUMN_LOAD, COLUMN_REASON, COLUMN_STATUS, PassphraseDialog

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

WAIT_MS = 60_000  # a bound for a hang, not a measurement: a test connects once


@pytest.fixture
def user_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "user"
    (path / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return path


@pytest.fixture
def passphrases(monkeypatch: pytest.MonkeyPatch) -> Iterator[ssh_login.Passphrases]:
    """A fresh passphrase memory for the test (the dialog and every connection share it), and
    a system keyring that refuses to save, as keyring's own "fail" backend does."""
    fresh = ssh_login.Passphrases()
    monkeypatch.setattr(ssh_login, "PASSPHRASES", fresh)
    monkeypatch.setattr("c3desk.ui.dialogs.workers.PASSPHRASES", fresh)
    before = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield fresh
    finally:
        keyring.set_keyring(before)


def open_dialog(qtbot: QtBot, home: Path) -> WorkersDialog:
    dialog = WorkersDialog(home=home)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def add_through_form(
    qtbot: QtBot, dialog: WorkersDialog, server: Sshd, name: str = "box", key: Path | None = None
) -> None:
    qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    form = dialog.form
    form.name_edit.setText(name)
    form.host_edit.setText(server.host)
    form.port_spin.setValue(server.port)
    form.user_edit.setText(server.user)
    form.key_edit.setText(str(key or server.user_key))
    with qtbot.waitSignal(dialog.workersChanged, timeout=2000):
        qtbot.mouseClick(form.save_button, Qt.MouseButton.LeftButton)
    assert dialog.selected_name() == name


def click_test(qtbot: QtBot, dialog: WorkersDialog) -> None:
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    # The click returned while the attempt runs in its thread: the dialog says so meanwhile.
    assert dialog.testing
    assert dialog.progress.isVisible() and not dialog.test_button.isEnabled()
    assert "Testing box" in dialog.outcome.text()


def cell(dialog: WorkersDialog, name: str, column: int) -> str:
    for row in range(dialog.table.rowCount()):
        if dialog.table.item(row, 0).text() == name:
            return dialog.table.item(row, column).text()
    raise AssertionError(f"no row for {name}")


def host_line(server: Sshd, pub: Path | None = None) -> str:
    kind, blob = (pub or server.host_key.with_suffix(".pub")).read_text().split()[:2]
    return f"[{server.host}]:{server.port} {kind} {blob}\n"


def test_add_test_trust_the_shown_fingerprint_then_test_connects(
    qtbot: QtBot,
    db: Paths,
    sshd: Sshd,  # noqa: F811
    user_home: Path,
) -> None:
    dialog = open_dialog(qtbot, db.home)
    add_through_form(qtbot, dialog, sshd)
    assert cell(dialog, "box", COLUMN_STATUS) == "disconnected"
    assert cell(dialog, "box", COLUMN_LOAD) == "0/2"

    click_test(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.key_dialog is not None, timeout=WAIT_MS)
    keys = dialog.key_dialog
    assert keys is not None and keys.isVisible() and keys.trustable
    expected = keygen_fingerprint(sshd.host_key.with_suffix(".pub"))
    assert keys.fingerprint.text() == expected
    assert keys.check.host == sshd.host and keys.check.port == sshd.port
    assert keys.check.key_type == "ssh-ed25519"
    assert keys.command.text() == "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub"
    assert not dialog.testing
    assert expected in dialog.outcome.text() and "not trusted yet" in dialog.outcome.text()
    assert not (db.home / "known_hosts").exists(), "nothing is trusted before the user says so"

    assert keys.trust_button is not None
    qtbot.mouseClick(keys.trust_button, Qt.MouseButton.LeftButton)
    assert (db.home / "known_hosts").read_text() == host_line(sshd)
    # Trusted: the dialog tests again by itself and says the login works.
    qtbot.waitUntil(lambda: "box" in dialog.results, timeout=WAIT_MS)
    assert dialog.results["box"].connected, dialog.results["box"].message
    lines = dialog.outcome.text().splitlines()
    assert lines[0] == f"box: connected to {sshd.host} port {sshd.port}"
    # Then what worker check reports finding there (the agent, tmux), one line each.
    assert lines[1:] == list(dialog.results["box"].details)
    assert dialog.key_dialog is None

    click_test(qtbot, dialog)
    qtbot.waitUntil(lambda: not dialog.testing, timeout=WAIT_MS)
    assert dialog.results["box"].connected
    assert "connected to" in dialog.outcome.text()
    assert dialog.key_dialog is None and dialog.passphrase_dialog is None


def test_a_changed_host_key_is_shown_with_its_reason_and_no_way_to_trust_it(
    qtbot: QtBot,
    db: Paths,
    sshd: Sshd,  # noqa: F811
    user_home: Path,
    tmp_path: Path,
) -> None:
    other = keygen(tmp_path / "otherhostkey")
    known = db.home / "known_hosts"
    known.write_text(host_line(sshd, other.with_suffix(".pub")))
    dialog = open_dialog(qtbot, db.home)
    add_through_form(qtbot, dialog, sshd)

    click_test(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.key_dialog is not None, timeout=WAIT_MS)
    keys = dialog.key_dialog
    assert keys is not None and not keys.trustable and keys.trust_button is None
    assert "CHANGED" in keys.advice.text()
    assert keys.fingerprint.text() == keygen_fingerprint(sshd.host_key.with_suffix(".pub"))
    assert "CHANGED" in dialog.outcome.text()
    assert known.read_text() == host_line(sshd, other.with_suffix(".pub")), "left as it was"
    keys.reject()


def test_an_encrypted_key_asks_for_its_passphrase_once_then_connects(
    qtbot: QtBot,
    db: Paths,
    sshd: Sshd,  # noqa: F811
    user_home: Path,
    tmp_path: Path,
    passphrases: ssh_login.Passphrases,
) -> None:
    key = keygen(tmp_path / "encrypted_key", passphrase="secret")
    sshd.authorize(key.with_suffix(".pub"))
    (db.home / "known_hosts").write_text(host_line(sshd))
    dialog = open_dialog(qtbot, db.home)
    add_through_form(qtbot, dialog, sshd, key=key)

    click_test(qtbot, dialog)
    qtbot.waitUntil(lambda: dialog.passphrase_dialog is not None, timeout=WAIT_MS)
    ask = dialog.passphrase_dialog
    assert isinstance(ask, PassphraseDialog)
    assert ask.key_path == key and str(key) in ask.prompt.text()
    assert ask.edit.echoMode() == ask.edit.EchoMode.Password
    assert dialog.results["box"].passphrase_for == key
    assert dialog.key_dialog is None

    # A wrong one: the test after it says so and asks again.
    qtbot.keyClicks(ask.edit, "not it")
    qtbot.mouseClick(ask.ok_button, Qt.MouseButton.LeftButton)
    assert passphrases.get(key) == "not it"
    qtbot.waitUntil(lambda: dialog.passphrase_dialog not in (None, ask), timeout=WAIT_MS)
    again = dialog.passphrase_dialog
    assert again is not None and "did not unlock" in again.prompt.text()

    # The right one, to be saved: the keyring refuses, the dialog says so, the run keeps it.
    qtbot.keyClicks(again.edit, "secret")
    again.save_check.setChecked(True)
    qtbot.mouseClick(again.ok_button, Qt.MouseButton.LeftButton)
    assert "could not be saved in the system keyring" in dialog.error.message
    assert "secret" not in dialog.error.message
    assert passphrases.get(key) == "secret"
    qtbot.waitUntil(lambda: not dialog.testing and "box" in dialog.results, timeout=WAIT_MS)
    assert dialog.results["box"].connected, dialog.results["box"].message
    assert dialog.passphrase_dialog is None


def test_a_worker_that_cannot_be_reached_says_why(
    qtbot: QtBot, db: Paths, user_home: Path, tmp_path: Path
) -> None:
    key = keygen(tmp_path / "key")
    # A port nothing listens on (sshd fixtures pick free ports the same way).
    from helpers.sshd import free_port

    core_workers.add_worker("box", host="127.0.0.1", port=free_port(), key_path=str(key))
    dialog = open_dialog(qtbot, db.home)
    dialog.select("box")
    click_test(qtbot, dialog)
    qtbot.waitUntil(lambda: not dialog.testing, timeout=WAIT_MS)
    result = dialog.results["box"]
    assert result.status == "disconnected"
    assert "cannot reach 127.0.0.1" in dialog.outcome.text()
    assert dialog.key_dialog is None and dialog.passphrase_dialog is None


def test_testing_the_local_worker_says_where_claude_is(
    qtbot: QtBot, db: Paths, user_home: Path
) -> None:
    dialog = open_dialog(qtbot, db.home)
    local = core_workers.local_worker().name
    dialog.select(local)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.testing, timeout=WAIT_MS)
    assert f"{local}: this machine;" in dialog.outcome.text()


# -- removing a worker with sessions -------------------------------------------------------------


def queued_for(worker: str, n: int) -> list[str]:
    return [
        str(sess.create_session(title=f"s{i}", working_directory="/srv/x", worker=worker).id)
        for i in range(n)
    ]


@pytest.mark.parametrize("choice", ["any", "local", "drop"])
def test_removing_a_worker_with_queued_sessions_asks_where_they_go(
    qtbot: QtBot, db: Paths, choice: str
) -> None:
    core_workers.add_worker("box", host="box.example.org")
    ids = queued_for("box", 2)
    dialog = open_dialog(qtbot, db.home)
    dialog.select("box")
    qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
    ask = dialog.remove_dialog
    assert ask is not None and ask.isVisible()
    assert "2 queued sessions" in ask.question.text()
    local = core_workers.local_worker().name
    assert [ask.move_combo.itemText(i) for i in range(ask.move_combo.count())] == [local]
    if choice == "local":
        ask.move_radio.setChecked(True)
    elif choice == "drop":
        ask.drop_radio.setChecked(True)
    with qtbot.waitSignal(dialog.workersChanged, timeout=2000):
        qtbot.mouseClick(ask.remove_button, Qt.MouseButton.LeftButton)
    assert Worker.get_or_none(Worker.name == "box") is None
    rows = list(Session.select().where(Session.id.in_(ids)))
    if choice == "drop":
        assert rows == []
    else:
        want = None if choice == "any" else core_workers.local_worker().id
        assert [r.worker_id for r in rows] == [want, want]
        assert all(r.status == "queued" for r in rows)


def test_removing_a_worker_with_queued_sessions_can_be_cancelled(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("box", host="box.example.org")
    queued_for("box", 1)
    dialog = open_dialog(qtbot, db.home)
    dialog.select("box")
    dialog.remove()
    ask = dialog.remove_dialog
    assert ask is not None and "1 queued session waiting" in ask.question.text()
    with qtbot.assertNotEmitted(dialog.workersChanged):
        ask.reject()
    assert Worker.get_or_none(Worker.name == "box") is not None


def test_removing_a_worker_running_sessions_is_refused_at_once(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("box", host="box.example.org", max_sessions=3)
    (sid,) = queued_for("box", 1)
    sess.transition(sid, "active", pid=1)
    dialog = open_dialog(qtbot, db.home)
    assert cell(dialog, "box", COLUMN_LOAD) == "1/3"
    dialog.select("box")
    dialog.remove()
    assert dialog.remove_dialog is None and dialog.confirm_box is None
    assert "running 1 session" in dialog.error.message
    assert Worker.get_or_none(Worker.name == "box") is not None


def test_removing_a_worker_with_finished_sessions_only_says_they_keep_their_history(
    qtbot: QtBot, db: Paths
) -> None:
    core_workers.add_worker("box", host="box.example.org")
    (sid,) = queued_for("box", 1)
    sess.transition(sid, "active", pid=1)
    sess.transition(sid, "completed", exit_code=0)
    dialog = open_dialog(qtbot, db.home)
    dialog.select("box")
    dialog.remove()
    box = dialog.confirm_box
    assert box is not None and "keep their history" in box.text()
    with qtbot.waitSignal(dialog.workersChanged, timeout=2000):
        box.button(QMessageBox.StandardButton.Yes).click()
    assert Session.get_by_id(sid).worker_id is None


# -- the read model under the dialog ------------------------------------------------------------


def test_the_reason_column_is_empty_without_an_engine(qtbot: QtBot, db: Paths) -> None:
    core_workers.add_worker("box", host="box.example.org")
    dialog = open_dialog(qtbot, db.home)
    assert cell(dialog, "box", COLUMN_REASON) == ""


@pytest.mark.parametrize(
    ("reason", "key", "wanted", "wrong"),
    [
        ("authentication failed: the key /k/a b is encrypted: enter it", None, "/k/a b", False),
        (
            "the passphrase c3desk has for the key /k/x (given in this run) is wrong: again",
            None,
            "/k/x",
            True,
        ),
        ("the key file is encrypted", "/k/worker", "/k/worker", False),
        ("cannot reach 127.0.0.1 port 22: refused", "/k/worker", None, False),
        (None, "/k/worker", None, False),
    ],
)
def test_a_reason_names_the_key_that_needs_a_passphrase(
    reason: str | None, key: str | None, wanted: str | None, wrong: bool
) -> None:
    found = vw.passphrase_needed(reason, key)
    assert found == (Path(wanted) if wanted else None)
    assert vw.passphrase_was_wrong(reason) is wrong


# -- tile headers ---------------------------------------------------------------------------------


def test_a_tile_header_names_the_worker_and_says_when_it_is_down(qtbot: QtBot) -> None:
    from c3desk.ui.grid import TileHeader, TileInfo

    header = TileHeader()
    qtbot.addWidget(header)
    header.show_info(TileInfo("s1", "Refactor", "far", "active", False))
    assert header.worker.text() == "far"
    assert header.worker.styleSheet() == ""
    header.show_info(
        TileInfo(
            "s1",
            "Refactor",
            "far",
            "active",
            False,
            worker_status="disconnected",
            worker_reason="cannot reach far port 22: no answer",
        )
    )
    assert header.worker.text() == "far (reconnecting)"  # its agent runs on there, in tmux
    assert "color" in header.worker.styleSheet()
    assert "cannot reach far port 22" in header.worker.toolTip()
    header.show_info(TileInfo("s1", "Refactor", "far", "queued", False, worker_status="error"))
    assert header.worker.text() == "far (error)"  # a queued one waits for the worker
    # A finished session's worker going away concerns it no more.
    header.show_info(TileInfo("s1", "Refactor", "far", "completed", False, worker_status="error"))
    assert header.worker.text() == "far" and header.worker.styleSheet() == ""


def test_a_silent_server_leaves_the_dialog_responsive_and_closing_it_mid_test_is_safe(
    qtbot: QtBot,
    db: Paths,
    sshd: Sshd,  # noqa: F811
    user_home: Path,
) -> None:
    import os
    import signal
    import threading

    from PySide6.QtCore import QTimer
    from shiboken6 import Shiboken

    dialog = open_dialog(qtbot, db.home)
    add_through_form(qtbot, dialog, sshd)
    os.kill(sshd.pid(), signal.SIGSTOP)  # it accepts nothing: the attempt waits in its thread
    try:
        click_test(qtbot, dialog)
        # The event loop goes on meanwhile: a timer fires and the form still opens.
        ticks: list[int] = []
        timer = QTimer(dialog, interval=10)
        timer.timeout.connect(lambda: ticks.append(1))
        timer.start()
        qtbot.waitUntil(lambda: len(ticks) >= 3, timeout=5000)
        dialog.add()
        assert dialog.form.isVisible() and dialog.testing
        tests = [t for t in threading.enumerate() if t.name == "c3desk-test-box"]
        assert len(tests) == 1
        # Closed and deleted before the answer: the answer goes nowhere, quietly.
        dialog.close()
        dialog.deleteLater()
        qtbot.waitUntil(lambda: not Shiboken.isValid(dialog), timeout=5000)
    finally:
        os.kill(sshd.pid(), signal.SIGCONT)
    tests[0].join(timeout=120)
    assert not tests[0].is_alive()
