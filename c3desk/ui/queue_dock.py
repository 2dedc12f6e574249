"""The queue dock: a filter box over the grouped session table, with per-session actions.

The dock performs no engine operation itself: each action emits a signal carrying the session id
and the main window decides (it owns the engine). Only copying the Claude session id is done here.
Queued rows reorder by drag and drop through :class:`~c3desk.ui.queue_model.QueueModel`. Group
header rows collapse and expand on a click, Enter, or Left/Right.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPoint, Qt, Signal, SignalInstance
from PySide6.QtGui import (
    QAction,
    QGuiApplication,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from c3desk.core.views import worktrees as worktree_views
from c3desk.ui.queue_model import (
    ClaudeSessionIdRole,
    Column,
    Group,
    PinnedRole,
    QueueModel,
    SessionIdRole,
    StatusRole,
)
from c3desk.ui.theme import current_theme, theme_colors


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    shortcut: str
    tip: str


# Shortcuts are active only while the queue has focus (WidgetWithChildrenShortcut), so they do
# not collide with the window's or a terminal's keys.
ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("continue", "&Continue", "Ctrl+Return", "Resume the finished session"),
    ActionSpec("retry", "&Retry", "Ctrl+Shift+R", "Queue the failed session again"),
    ActionSpec("kill", "&Kill", "Ctrl+Shift+K", "Stop the running session"),
    ActionSpec("remove", "Re&move", "Delete", "Remove the session from c3desk"),
    ActionSpec("pin", "&Pin", "Ctrl+Shift+P", "Keep the session in the grid"),
    ActionSpec("open_folder", "Open &folder", "Ctrl+Shift+O", "Open the working directory"),
    ActionSpec(
        "copy_id", "Copy Claude session &id", "Ctrl+Shift+C", "Copy the Claude conversation id"
    ),
    # Ctrl+Shift+E is the window's (the selected session's artifacts while the queue has the
    # focus): the same keys here too would make both ambiguous, and neither would fire.
    ActionSpec("artifacts", "Show &artifacts\tCtrl+Shift+E", "", "Show the session's artifacts"),
    # A session isolated in a git worktree, once it is not running (no shortcuts: rare).
    ActionSpec("worktree_diff", "Worktree &diff", "", "Its changes against the base branch"),
    ActionSpec("worktree_merge", "Mer&ge worktree…", "", "Merge its branch into the base"),
    ActionSpec("worktree_remove", "Remove work&tree…", "", "Remove its worktree and branch"),
)
WORKTREE_ACTIONS: Final = ("worktree_diff", "worktree_merge", "worktree_remove")


class QueueTableView(QTableView):
    """The queue as a table: group header rows span every column and collapse on click or Enter.

    Rows have one fixed height and the vertical header is hidden: laying out 10,000 rows is
    constant work for the view, and only the painted cells reach the Python model.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueView")
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        self.setTabKeyNavigation(False)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        rows = self.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setMinimumSectionSize(1)
        rows.setDefaultSectionSize(self.fontMetrics().height() + 4)
        # DragDrop rather than InternalMove: the model itself refuses foreign data, and a drop
        # needs no QDrag source (tests drop synthetic events the same way a drag would).
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDragDropOverwriteMode(False)
        self.setDropIndicatorShown(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

    def queue_model(self) -> QueueModel | None:
        model = self.model()
        return model if isinstance(model, QueueModel) else None

    def setModel(self, model: QAbstractItemModel | None) -> None:
        old = self.queue_model()
        if old is not None:
            for signal in (old.modelReset, old.rowsInserted, old.rowsRemoved, old.layoutChanged):
                signal.disconnect(self.apply_spans)
        super().setModel(model)
        new = self.queue_model()
        if new is not None:
            for signal in (new.modelReset, new.rowsInserted, new.rowsRemoved, new.layoutChanged):
                signal.connect(self.apply_spans)
        self.apply_spans()

    def apply_spans(self) -> None:
        """Let each group header row span the whole width (five spans, whatever the row count)."""
        model = self.queue_model()
        self.clearSpans()
        if model is None:
            return
        for group in Group:
            self.setSpan(model.group_row(group), 0, 1, len(Column))

    def _group_at(self, index: QModelIndex) -> Group | None:
        model = self.queue_model()
        return model.group_at(index) if model is not None else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            group = self._group_at(self.indexAt(event.position().toPoint()))
            model = self.queue_model()
            if group is not None and model is not None:
                model.toggle_group(group)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        # A quick second click on a group row toggles it back, as two single clicks would.
        group = self._group_at(self.indexAt(event.position().toPoint()))
        model = self.queue_model()
        if group is not None and model is not None and event.button() == Qt.MouseButton.LeftButton:
            model.toggle_group(group)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        group = self._group_at(self.currentIndex())
        model = self.queue_model()
        if (
            group is not None
            and model is not None
            and event.modifiers()
            in (
                Qt.KeyboardModifier.NoModifier,
                Qt.KeyboardModifier.KeypadModifier,
            )
        ):
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
                model.toggle_group(group)
                event.accept()
                return
            if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
                model.set_collapsed(group, key == Qt.Key.Key_Left)
                event.accept()
                return
        super().keyPressEvent(event)


class QueueDock(QDockWidget):
    """The dockable queue: filter box, session tree, context menu and keys."""

    continueRequested = Signal(str)
    retryRequested = Signal(str)
    killRequested = Signal(str)
    removeRequested = Signal(str)
    pinRequested = Signal(str, bool)  # session id, pinned (the wanted state)
    openFolderRequested = Signal(str)
    artifactsRequested = Signal(str)
    sessionSelected = Signal(str)
    workersRequested = Signal()  # the worker notice's link: show the Workers dialog
    worktreeRequested = Signal(str, str)  # session id, "diff" | "merge" | "remove"

    def __init__(self, model: QueueModel | None = None, parent: QWidget | None = None) -> None:
        super().__init__("Queue", parent)
        self.setObjectName("queueDock")  # saveState/restoreState key
        self.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.model = model if model is not None else QueueModel(self)
        self._restoring = False
        self._kept_id: str | None = None
        self._kept_scroll = 0
        self._moving_id: str | None = None

        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        self.filter_edit = QLineEdit(body)
        self.filter_edit.setObjectName("queueFilter")
        self.filter_edit.setPlaceholderText("Filter by title or folder")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self.model.set_filter)
        # A worker that cannot run sessions, said above the queue it holds up (hidden otherwise).
        self.worker_notice = QLabel(body)
        self.worker_notice.setObjectName("workerNotice")
        self.worker_notice.setWordWrap(True)
        self.worker_notice.setTextFormat(Qt.TextFormat.RichText)
        self.worker_notice.linkActivated.connect(lambda _link: self.workersRequested.emit())
        self.worker_notice.hide()
        layout.addWidget(self.worker_notice)
        layout.addWidget(self.filter_edit)

        self.view = QueueTableView(body)
        # Connected before the view's own handlers so that the current row is still known.
        self.model.rowsAboutToBeRemoved.connect(self._before_rows_removed)
        self.view.setModel(self.model)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(False)
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(Column.TITLE, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (Column.WORKER, 96),  # room for a name and the mark of a worker that is down
            (Column.STATE, 92),
            (Column.ELAPSED, 64),
            (Column.CONTINUATIONS, 38),
            (Column.PINNED, 28),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        layout.addWidget(self.view)
        self.setWidget(body)

        self.actions_by_name: dict[str, QAction] = {}
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setObjectName(f"queue_{spec.name}")
            action.setShortcut(QKeySequence(spec.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            action.setToolTip(spec.tip)
            action.setEnabled(False)
            self.view.addAction(action)
            self.actions_by_name[spec.name] = action
        find = QAction("Filter", self)
        find.setShortcut(QKeySequence.StandardKey.Find)
        find.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.triggered.connect(self.focus_filter)
        self.addAction(find)
        a = self.actions_by_name
        a["continue"].triggered.connect(lambda: self._emit(self.continueRequested))
        a["retry"].triggered.connect(lambda: self._emit(self.retryRequested))
        a["kill"].triggered.connect(lambda: self._emit(self.killRequested))
        for name, what in zip(WORKTREE_ACTIONS, ("diff", "merge", "remove"), strict=True):
            a[name].triggered.connect(lambda _c=False, what=what: self._worktree(what))
        a["remove"].triggered.connect(lambda: self._emit(self.removeRequested))
        a["open_folder"].triggered.connect(lambda: self._emit(self.openFolderRequested))
        a["artifacts"].triggered.connect(lambda: self._emit(self.artifactsRequested))
        a["pin"].triggered.connect(self._toggle_pin)
        a["copy_id"].triggered.connect(self.copy_claude_session_id)

        self.model.modelAboutToBeReset.connect(self._keep_current)
        self.model.modelReset.connect(self._after_reset)
        self.model.layoutChanged.connect(self.update_actions)
        self.model.dataChanged.connect(self._on_data_changed)
        self.model.rowsRemoved.connect(self._after_rows_removed)
        self.model.rowsInserted.connect(self._after_rows_inserted)
        selection = self.view.selectionModel()
        selection.currentRowChanged.connect(self._on_current_changed)
        self.view.activated.connect(self._on_activated)
        self.view.customContextMenuRequested.connect(self._show_menu)

    def set_worker_notice(self, lines: Sequence[str], tip: str = "") -> None:
        """Say above the queue which workers are down (a line each; the reasons go in the
        tooltip, they can be long); no lines hide the notice."""
        if not lines:
            self.worker_notice.hide()
            self.worker_notice.clear()
            self.worker_notice.setToolTip("")
            return
        color = theme_colors(current_theme())["failed"]
        self.worker_notice.setStyleSheet(
            f"QLabel#workerNotice {{ color: {color}; "
            f"border: 1px solid {color}; border-radius: 4px; padding: 3px 6px; }}"
        )
        link = f'<a href="workers" style="color: {color};">Workers…</a>'
        text = "<br>".join(html.escape(line) for line in lines)
        self.worker_notice.setText(f"{text}&nbsp;&nbsp;{link}")
        self.worker_notice.setToolTip(tip)
        self.worker_notice.show()

    @property
    def worker_notice_text(self) -> str:
        """The notice as plain text ("" while hidden)."""
        if self.worker_notice.isHidden():
            return ""
        return QTextDocumentFragment.fromHtml(self.worker_notice.text()).toPlainText()

    # -- selection ---------------------------------------------------------------------------

    def current_session_id(self) -> str | None:
        index = self.view.currentIndex()
        value = index.data(SessionIdRole) if index.isValid() else None
        return value if isinstance(value, str) else None

    def select_session(self, session_id: str) -> bool:
        """Make ``session_id`` the current row (without emitting sessionSelected).

        A collapsed group is expanded to show it.
        """
        group = self.model.group_of_session(session_id)
        if group is not None and self.model.is_collapsed(group):
            self.model.set_collapsed(group, False)
        index = self.model.index_of(session_id)
        if not index.isValid():
            return False
        self._restoring = True
        try:
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)
        finally:
            self._restoring = False
        self.update_actions()
        return True

    def _keep_current(self) -> None:
        self._kept_id = self.current_session_id()
        self._kept_scroll = self.view.verticalScrollBar().value()

    def _after_reset(self) -> None:
        # A reset (refresh, filter) swaps every row: keep the place, then the current session.
        self.view.executeDelayedItemsLayout()
        self.view.verticalScrollBar().setValue(self._kept_scroll)
        if self._kept_id is not None:
            self.select_session(self._kept_id)
        self._kept_id = None
        self.update_actions()

    def _before_rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        # A session changing group is removed, then inserted: follow it to its new place. The
        # view moves the current row meanwhile; that is not the user selecting a session.
        self._restoring = True
        current = self.view.currentIndex()
        if current.isValid() and first <= current.row() <= last:
            self._moving_id = self.current_session_id()

    def _after_rows_removed(self) -> None:
        self._restoring = False
        self.update_actions()

    def _after_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        sid, self._moving_id = self._moving_id, None
        if sid is None:
            return
        index = self.model.index_of(sid)
        if index.isValid() and first <= index.row() <= last:
            self.select_session(sid)
        else:
            self._moving_id = sid  # not this insertion; maybe the next one

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self.update_actions()
        if self._restoring:
            return
        sid = current.data(SessionIdRole) if current.isValid() else None
        if isinstance(sid, str):
            self.sessionSelected.emit(sid)

    def _on_activated(self, index: QModelIndex) -> None:
        sid = index.data(SessionIdRole)
        if isinstance(sid, str):
            self.sessionSelected.emit(sid)
        # Group rows toggle on the press (mouse) or the key (Enter) itself, in the view.

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        current = self.view.currentIndex()
        if (
            current.isValid()
            and top_left.row() <= current.row() <= bottom_right.row()
            and top_left.column() == 0
        ):
            self.update_actions()

    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    # -- actions -----------------------------------------------------------------------------

    def update_actions(self) -> None:
        """Enable each action for the current session's state."""
        index = self.view.currentIndex()
        sid = index.data(SessionIdRole) if index.isValid() else None
        status = index.data(StatusRole) if isinstance(sid, str) else None
        pinned = bool(index.data(PinnedRole)) if isinstance(sid, str) else False
        has_claude_id = bool(index.data(ClaudeSessionIdRole)) if isinstance(sid, str) else False
        is_session = isinstance(sid, str)
        enabled = {
            "continue": status == "completed",
            "retry": status == "failed",
            "kill": status == "active",
            "remove": is_session and status != "active",
            "pin": is_session,
            "open_folder": is_session,
            "copy_id": has_claude_id,
            "artifacts": is_session,
        }
        tree = worktree_views.worktree(sid) if isinstance(sid, str) else None
        for name in WORKTREE_ACTIONS:
            enabled[name] = tree is not None and tree.actionable
        for name, on in enabled.items():
            self.actions_by_name[name].setEnabled(on)
        self.actions_by_name["pin"].setText("Un&pin" if pinned else "&Pin")

    def _emit(self, signal: SignalInstance) -> None:
        sid = self.current_session_id()
        if sid is not None:
            signal.emit(sid)

    def _worktree(self, what: str) -> None:
        sid = self.current_session_id()
        if sid is not None:
            self.worktreeRequested.emit(sid, what)

    def _toggle_pin(self) -> None:
        sid = self.current_session_id()
        if sid is not None:
            pinned = bool(self.view.currentIndex().data(PinnedRole))
            self.pinRequested.emit(sid, not pinned)

    def copy_claude_session_id(self) -> str | None:
        """Put the current session's Claude session id on the clipboard."""
        index = self.view.currentIndex()
        value = index.data(ClaudeSessionIdRole) if index.isValid() else None
        if not isinstance(value, str) or not value:
            return None
        QGuiApplication.clipboard().setText(value)
        return value

    def build_menu(self) -> QMenu:
        """The context menu for the current row (the caller shows it)."""
        self.update_actions()
        menu = QMenu(self)
        menu.setObjectName("queueMenu")
        names = [s.name for s in ACTIONS]
        for name in names:
            if name in ("remove", "open_folder"):
                menu.addSeparator()
            if name in WORKTREE_ACTIONS and not self.actions_by_name[name].isEnabled():
                continue  # shown only for a session with a worktree to act on
            if name == WORKTREE_ACTIONS[0]:
                menu.addSeparator()
            menu.addAction(self.actions_by_name[name])
        return menu

    def _show_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid() or not isinstance(index.data(SessionIdRole), str):
            return
        self.view.setCurrentIndex(index)
        menu = self.build_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        # popup, not exec: no nested event loop under qasync.
        menu.popup(self.view.viewport().mapToGlobal(pos))

    # -- convenience for the window ----------------------------------------------------------

    def group_index(self, group: Group) -> QModelIndex:
        """The header row of ``group``; as a drop ``parent`` its ``row`` counts within the group."""
        return self.model.group_index(group)
