"""Worktree isolation in the window: the New session dialog's option, the queue dock's actions,
the diff view and the confirmations (real git, offscreen)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import qasync
from helpers.gitrepo import commit, git, isolate_git, made, make_repo
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.store.models import Session
from c3desk.ui.dialogs.new_session import NewSessionDialog
from c3desk.ui.queue_dock import QueueDock
from c3desk.ui.worktree_view import WorktreeActions, WorktreeDiffDialog

SHOTS = Path("/tmp/readme-notes")


@pytest.fixture(autouse=True)
def git_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """qasync's loop, as the app runs: the actions run git on it (in threads)."""
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def run_until(loop: asyncio.AbstractEventLoop, predicate: Callable[[], object]) -> None:
    async def wait() -> None:
        deadline = time.monotonic() + 30
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met within 30 s")
            await asyncio.sleep(0.02)

    loop.run_until_complete(wait())


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], object]) -> None:
    """Do ``fn`` from a task of the running loop, as a click in the app does."""

    async def call() -> None:
        fn()

    loop.run_until_complete(call())


def shoot(widget: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert widget.grab().save(str(SHOTS / f"worktrees-{name}.png"))  # type: ignore[attr-defined]


def test_the_new_session_dialog_isolates_a_session_on_a_checked_branch(
    qtbot: QtBot, db: Paths, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    plain = tmp_path / "plain"
    plain.mkdir()
    dialog = NewSessionDialog(db, folder=str(plain))
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClicks(dialog.title_edit, "Fix the nav bug")
    assert not dialog.branch_edit.isEnabled()
    dialog.worktree_check.setChecked(True)
    assert dialog.branch_edit.isEnabled()
    qtbot.keyClicks(dialog.branch_edit, "-oops")
    assert not dialog.create_button.isEnabled()
    assert "'-oops'" in dialog.errors["worktree"].message
    dialog.branch_edit.clear()
    qtbot.keyClicks(dialog.branch_edit, "feature/nav")
    assert dialog.create_button.isEnabled() and dialog.errors["worktree"].message == ""
    # A folder outside any repository: refused at once, next to the option.
    with qtbot.assertNotEmitted(dialog.created):
        dialog.submit()
    assert "not in a git repository" in dialog.errors["worktree"].message
    assert Session.select().count() == 0
    dialog.folder_edit.setText(str(repo))
    dialog.resize(dialog.sizeHint().width(), dialog.sizeHint().height())
    shoot(dialog, "dialog")
    with qtbot.waitSignal(dialog.created) as created:
        dialog.submit()
    s = Session.get_by_id(created.args[0])
    assert (s.worktree_branch, s.working_directory) == ("feature/nav", str(repo))


def test_the_queue_dock_offers_diff_merge_and_remove_for_a_finished_worktree(
    qtbot: QtBot, qloop: asyncio.AbstractEventLoop, db: Paths, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "app")
    plain = sess.create_session(title="plain", working_directory=str(repo)).id
    sid = sess.create_session(title="Nav fix", working_directory=str(repo), worktree="").id
    tree = made(sid, repo)
    (tree / "readme.txt").write_text("one\ntwo\n")
    commit(tree, "nav.py", "def nav():\n    return 1\n", "nav")
    dock = QueueDock()
    qtbot.addWidget(dock)
    dock.model.refresh()
    assert dock.select_session(plain)
    names = {a.objectName() for a in dock.build_menu().actions() if not a.isSeparator()}
    assert "queue_worktree_diff" not in names  # no worktree: not offered
    assert dock.select_session(sid)
    index = dock.view.currentIndex()
    assert "worktree: c3/nav-fix-" in str(dock.model.data(index, 3))  # the tooltip role
    menu = dock.build_menu()
    names = {a.objectName() for a in menu.actions() if a.isEnabled()}
    assert {"queue_worktree_diff", "queue_worktree_merge", "queue_worktree_remove"} <= names
    menu.adjustSize()
    shoot(menu, "menu")

    actions = WorktreeActions(dock, lambda _wid: None)
    dock.worktreeRequested.connect(actions.request)
    messages: list[str] = []
    actions.finished.connect(messages.append)

    # The diff, highlighted.
    on_loop(qloop, dock.actions_by_name["worktree_diff"].trigger)
    diff = actions.dialogs[-1]
    assert isinstance(diff, WorktreeDiffDialog)
    run_until(qloop, lambda: "+two" in diff.view.toPlainText())
    assert "+def nav():" in diff.view.toPlainText()
    # Highlighted as the artifacts panel's diffs are: the added line in the added colours.
    block = diff.view.document().find("+two").block()
    added = diff.highlighter.format_for("added")
    assert added is not None
    formats = block.layout().formats()
    assert formats and formats[0].format.background() == added.background()
    diff.resize(760, 420)
    shoot(diff, "diff")
    diff.close()

    # Remove, with work that would be lost: the confirmation says so; Cancel keeps everything.
    on_loop(qloop, dock.actions_by_name["worktree_remove"].trigger)
    run_until(qloop, lambda: any(d.objectName() == "worktreeRemove" for d in actions.dialogs))
    box = actions.dialogs[-1]
    assert isinstance(box, QMessageBox)
    assert "1 uncommitted changes and 1 commits not merged" in box.informativeText()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert tree.exists()

    # Merge: the uncommitted change is refused; committed, it merges.
    on_loop(qloop, dock.actions_by_name["worktree_merge"].trigger)
    box = actions.dialogs[-1]
    assert isinstance(box, QMessageBox) and "Merge the branch" in box.text()
    on_loop(qloop, next(b for b in box.buttons() if b.text() == "&Merge").click)
    run_until(qloop, lambda: messages)
    assert "uncommitted changes" in messages[-1]
    git(tree, "commit", "-q", "-am", "two")
    on_loop(qloop, dock.actions_by_name["worktree_merge"].trigger)
    box = actions.dialogs[-1]
    assert isinstance(box, QMessageBox)
    on_loop(qloop, next(b for b in box.buttons() if b.text() == "&Merge").click)
    run_until(qloop, lambda: len(messages) == 2)
    assert messages[-1].startswith("merged") and (repo / "nav.py").exists()

    # Remove, now that everything is merged: confirmed, it goes.
    on_loop(qloop, dock.actions_by_name["worktree_remove"].trigger)
    run_until(qloop, lambda: any(d.objectName() == "worktreeRemove" for d in actions.dialogs))
    box = actions.dialogs[-1]
    assert isinstance(box, QMessageBox) and "nothing is lost" in box.informativeText()
    on_loop(qloop, next(b for b in box.buttons() if b.text() == "&Remove").click)
    run_until(qloop, lambda: len(messages) == 3)
    assert messages[-1].startswith("removed") and not tree.exists()
    dock.model.refresh()
    assert dock.select_session(sid)
    dock.update_actions()
    assert not dock.actions_by_name["worktree_diff"].isEnabled()  # nothing left to act on
