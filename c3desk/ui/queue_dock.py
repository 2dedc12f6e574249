"""The queue dock: a filter box over the grouped session tree, with per-session actions.

The dock performs no engine operation itself: each action emits a signal carrying the session id
and the main window decides (it owns the engine). Only copying the Claude session id is done here.
Queued rows reorder by drag and drop through :class:`~c3desk.ui.queue_model.QueueModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal, SignalInstance
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHeaderView,
    QLineEdit,
    QMenu,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from c3desk.ui.queue_model import (
    ClaudeSessionIdRole,
    Column,
    Group,
    PinnedRole,
    QueueModel,
    SessionIdRole,
    StatusRole,
)


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
    ActionSpec("artifacts", "Show &artifacts", "Ctrl+Shift+A", "Show the session's artifacts"),
)


class QueueTreeView(QTreeView):
    """The tree: groups stay expanded across model changes unless the user collapsed them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueView")
        self.setUniformRowHeights(True)  # constant-time layout: 10,000 rows scroll smoothly
        self.setAllColumnsShowFocus(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # DragDrop rather than InternalMove: the model itself refuses foreign data, and a drop
        # needs no QDrag source (tests drop synthetic events the same way a drag would).
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDragDropOverwriteMode(False)
        self.setDropIndicatorShown(True)
        self.setExpandsOnDoubleClick(False)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self._collapsed: set[int] = set()
        self.collapsed.connect(self._remember_collapsed)
        self.expanded.connect(self._remember_expanded)

    def _remember_collapsed(self, index: QModelIndex) -> None:
        if not index.parent().isValid():
            self._collapsed.add(index.row())

    def _remember_expanded(self, index: QModelIndex) -> None:
        if not index.parent().isValid():
            self._collapsed.discard(index.row())

    def restore_groups(self) -> None:
        """Expand the groups the user did not collapse.

        Group rows are not first-column-spanned: a spanned row makes the tree ask the model for
        one more index per row on every layout, which shows at 10,000 rows.
        """
        model = self.model()
        if model is None:
            return
        root = QModelIndex()
        for row in range(model.rowCount(root)):
            if row not in self._collapsed and not self.isExpanded(model.index(row, 0, root)):
                self.blockSignals(True)
                self.expand(model.index(row, 0, root))
                self.blockSignals(False)


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
        layout.addWidget(self.filter_edit)

        self.view = QueueTreeView(body)
        # Connected before the view's own handlers so that the current row is still known.
        self.model.rowsAboutToBeRemoved.connect(self._before_rows_removed)
        self.view.setModel(self.model)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Column.TITLE, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (Column.WORKER, 64),
            (Column.STATE, 92),
            (Column.ELAPSED, 56),
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
        self.model.rowsInserted.connect(self.view.restore_groups)
        selection = self.view.selectionModel()
        selection.currentRowChanged.connect(self._on_current_changed)
        self.view.activated.connect(self._on_activated)
        self.view.customContextMenuRequested.connect(self._show_menu)
        self.view.restore_groups()

    # -- selection ---------------------------------------------------------------------------

    def current_session_id(self) -> str | None:
        index = self.view.currentIndex()
        value = index.data(SessionIdRole) if index.isValid() else None
        return value if isinstance(value, str) else None

    def select_session(self, session_id: str) -> bool:
        """Make ``session_id`` the current row (without emitting sessionSelected)."""
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

    def _after_reset(self) -> None:
        self.view.restore_groups()
        if self._kept_id is not None:
            self.select_session(self._kept_id)
        self._kept_id = None
        self.update_actions()

    def _before_rows_removed(self, parent: QModelIndex, first: int, last: int) -> None:
        # A session changing group is removed, then inserted: follow it to its new place. The
        # view moves the current row meanwhile; that is not the user selecting a session.
        self._restoring = True
        current = self.view.currentIndex()
        if current.isValid() and current.parent() == parent and first <= current.row() <= last:
            self._moving_id = self.current_session_id()

    def _after_rows_removed(self) -> None:
        self._restoring = False
        self.update_actions()

    def _after_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        sid, self._moving_id = self._moving_id, None
        if sid is None:
            return
        index = self.model.index_of(sid)
        if index.isValid() and index.parent() == parent and first <= index.row() <= last:
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
        elif not index.parent().isValid():
            self.view.setExpanded(index, not self.view.isExpanded(index))

    def _on_data_changed(self, top_left: QModelIndex, bottom_right: QModelIndex) -> None:
        current = self.view.currentIndex()
        if (
            current.isValid()
            and current.parent() == top_left.parent()
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
        for name, on in enabled.items():
            self.actions_by_name[name].setEnabled(on)
        self.actions_by_name["pin"].setText("Un&pin" if pinned else "&Pin")

    def _emit(self, signal: SignalInstance) -> None:
        sid = self.current_session_id()
        if sid is not None:
            signal.emit(sid)

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
        return self.model.index(group, 0)
