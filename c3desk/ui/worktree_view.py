"""A finished session's git worktree from the window: its diff against the base branch (with the
diff highlighting of the artifacts panel), merge and remove, each confirmed first.

The work is :mod:`c3desk.core.worktree_ops` (through the engine's worker connections); this
module only asks and shows. Dialogs open non-modally (``open()``): no nested event loop under
qasync.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from c3desk.core import worktree_ops
from c3desk.core.views import worktrees as views
from c3desk.errors import C3Error
from c3desk.ui.diff_highlighter import DiffHighlighter
from c3desk.ui.theme import current_theme


class WorktreeDiffDialog(QDialog):
    """The worktree's changes against its base branch, highlighted as a diff."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("worktreeDiff")
        self.setWindowTitle(title)
        self.resize(820, 560)
        self.note = QLabel("Reading the diff…")
        self.note.setWordWrap(True)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.highlighter = DiffHighlighter(self.view.document(), current_theme())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)

    def show_diff(self, text: str) -> None:
        empty = not text.strip()
        self.note.setText(
            f"{self.windowTitle()}: no changes."
            if empty
            else f"{self.windowTitle()}: its commits and uncommitted changes to tracked files."
        )
        self.view.setPlainText(text)

    def show_error(self, text: str) -> None:
        self.note.setText(text)
        self.note.setVisible(True)


ConnectionOf = worktree_ops.ConnectionOf


class WorktreeActions(QObject):
    """The queue dock's worktree actions. ``finished(message)`` says what was done or why not
    (the window shows it and re-reads the queue)."""

    finished = Signal(str)

    def __init__(self, parent: QWidget, connection_of: ConnectionOf) -> None:
        super().__init__(parent)
        self.window = parent
        self.connection_of = connection_of
        self._tasks: set[asyncio.Future[Any]] = set()
        self.dialogs: list[QDialog] = []  # the open ones (tests look at them)

    def request(self, sid: str, action: str) -> None:
        row = views.worktree(sid)
        if row is None or not row.actionable:
            self.finished.emit(
                "the session has no worktree yet" if row is None or not row.made else
                "the session is running; wait for it to end first"
            )  # fmt: skip
            return
        if action == "diff":
            self.show_diff(sid, row)
        elif action == "merge":
            self.confirm_merge(sid, row)
        elif action == "remove":
            self._run(self._confirm_remove(sid, row))

    # -- diff --------------------------------------------------------------------------------

    def show_diff(self, sid: str, row: views.WorktreeRow) -> WorktreeDiffDialog:
        dialog = WorktreeDiffDialog(f"{row.branch} against {row.base}", self.window)
        self._keep(dialog)
        dialog.open()

        async def load() -> None:
            try:
                text = await worktree_ops.perform("diff", sid, self.connection_of)
            except C3Error as exc:
                dialog.show_error(str(exc))
                return
            dialog.show_diff(text)

        self._run(load())
        return dialog

    # -- merge -------------------------------------------------------------------------------

    def confirm_merge(self, sid: str, row: views.WorktreeRow) -> QMessageBox:
        box = QMessageBox(self.window)
        box.setObjectName("worktreeMerge")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Merge the worktree")
        box.setText(f"Merge the branch {row.branch} into {row.base}?")
        box.setInformativeText(
            "A fast-forward when the base has not moved on, else a merge commit. A conflict "
            "merges nothing and leaves the repository as it was."
        )
        merge = box.addButton("&Merge", QMessageBox.ButtonRole.AcceptRole)
        commit = box.addButton("Merge &commit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(merge)

        def chosen(button: QAbstractButton) -> None:
            mode = "auto" if button is merge else "no-ff" if button is commit else None
            if mode is not None:
                work = worktree_ops.perform("merge", sid, self.connection_of, mode=mode)
                self._run(self._finish(work))

        box.buttonClicked.connect(chosen)
        self._keep(box)
        box.open()
        return box

    # -- remove ------------------------------------------------------------------------------

    async def _confirm_remove(self, sid: str, row: views.WorktreeRow) -> None:
        try:
            state = await worktree_ops.lost_work(sid, self.connection_of)
        except C3Error as exc:
            self.finished.emit(str(exc))
            return
        self.confirm_remove(sid, row, state.changes, state.ahead)

    def confirm_remove(
        self, sid: str, row: views.WorktreeRow, changes: list[str], ahead: int
    ) -> QMessageBox:
        box = QMessageBox(self.window)
        box.setObjectName("worktreeRemove")
        box.setWindowTitle("Remove the worktree")
        box.setText(f"Remove the worktree {row.path} and the branch {row.branch}?")
        lost = []
        if changes:
            lost.append(f"{len(changes)} uncommitted changes")
        if ahead:
            lost.append(f"{ahead} commits not merged into {row.base}")
        if lost:
            box.setIcon(QMessageBox.Icon.Warning)
            box.setInformativeText(f"It has {' and '.join(lost)}: removing it loses them.")
            remove = box.addButton("Remove &anyway", QMessageBox.ButtonRole.DestructiveRole)
        else:
            box.setIcon(QMessageBox.Icon.Question)
            box.setInformativeText("Everything in it is merged; nothing is lost.")
            remove = box.addButton("&Remove", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)  # a destructive choice is never the default
        force = bool(lost)

        def chosen(button: QAbstractButton) -> None:
            if button is remove:
                work = worktree_ops.perform("remove", sid, self.connection_of, force=force)
                self._run(self._finish(work))

        box.buttonClicked.connect(chosen)
        self._keep(box)
        box.open()
        return box

    # -- plumbing ----------------------------------------------------------------------------

    async def _finish(self, work: Coroutine[Any, Any, str]) -> None:
        try:
            self.finished.emit(await work)
        except C3Error as exc:
            self.finished.emit(str(exc))

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keep(self, dialog: QDialog) -> None:
        self.dialogs.append(dialog)
        forget: Callable[[int], None] = lambda _r: self.dialogs.remove(dialog)  # noqa: E731
        dialog.finished.connect(forget)
