"""The main window: queue dock, grid of live terminals, artifacts dock, status bar, tray.

It wires widgets to the engine and holds no rules of its own: which sessions are shown is
:class:`~c3desk.core.focus.FocusPolicy` (through the grid controller), when to notify is
:class:`~c3desk.core.alerts.AlertPolicy`, and every action is an engine or core operation.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core.alerts import AlertPolicy, Notification
from c3desk.core.engine import Engine, EngineEvent
from c3desk.core.usage_limits import HoldNotices
from c3desk.core.views import window as view
from c3desk.core.worker_files import RemoteCopies
from c3desk.errors import C3Error
from c3desk.ui.artifacts_panel import ArtifactsPanel
from c3desk.ui.dialogs import NewSessionDialog, SettingsDialog, WorkersDialog
from c3desk.ui.grid import Grid
from c3desk.ui.grid_controller import GridController
from c3desk.ui.icons import app_icon
from c3desk.ui.queue_dock import QueueDock
from c3desk.ui.search_panel import SearchPanel, scroll_to_text
from c3desk.ui.theme import apply_theme, theme_colors
from c3desk.ui.tray import TrayController
from c3desk.ui.usage_view import show_usage
from c3desk.ui.worktree_view import WorktreeActions

log = logging.getLogger(__name__)

SHORTCUTS: list[tuple[str, str]] = [
    ("Ctrl+Shift+N", "New session"),
    ("Ctrl+Shift+J", "Next session needing input"),
    ("Ctrl+Shift+Right", "Focus the next tile"),
    ("Ctrl+Shift+Left", "Focus the previous tile"),
    ("Ctrl+Shift+M", "Maximize / restore the focused tile"),
    ("Ctrl+Shift+Space", "Pause / resume the queue"),
    ("Ctrl+Shift+E", "Show the artifacts of the focused session"),
    ("Ctrl+Shift+F", "Search the sessions' history"),
    (
        "Ctrl+Return, Delete, Ctrl+Shift+R/K/P/O/C/E",
        "In the queue: continue, remove, retry, kill, pin, open folder, copy id, artifacts",
    ),
    ("Ctrl+F", "Filter the queue"),
    ("Ctrl+Shift+C / Ctrl+Shift+V", "Copy / paste in a terminal"),
    ("Shift+PageUp / Shift+PageDown", "Scroll a terminal's history"),
    ("F1", "This list"),
]


FIRST_SIZE = QSize(1500, 940)  # the window's size at a first start, on a screen that has room


def first_size(available: QSize) -> QSize:
    """The first start's window size: :data:`FIRST_SIZE`, or nine tenths of a smaller screen
    (seen: 1500x940 on a 1280x800 screen, the status bar and the right tiles off it)."""
    return FIRST_SIZE.boundedTo(QSize(available.width() * 9 // 10, available.height() * 9 // 10))


class MainWindow(QMainWindow):
    def __init__(
        self,
        paths: Paths,
        engine: Engine,
        *,
        settings: QSettings | None = None,
        on_quit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.paths = paths
        self.engine = engine
        self.qsettings = settings or QSettings()
        self._on_quit = on_quit or (lambda: QApplication.instance().quit())  # type: ignore[union-attr]
        self._quitting = False
        self.end_sessions = False  # how the user quit: ending the hosted sessions too
        self._kill_box: QMessageBox | None = None  # the open "Kill session?" question
        self._settings_dialog: SettingsDialog | None = None  # the last one opened
        self._quit_box: QMessageBox | None = None  # the open "Quit c3desk?" question
        self._tasks: set[asyncio.Future[None]] = set()
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        self.resize(first_size(self.screen().availableGeometry().size()))
        values = cfg.get_settings()
        self.theme = str(values["theme"])

        self.grid = Grid(self)
        self.setCentralWidget(self.grid)
        self.controller = GridController(engine, self.grid, self.theme)
        self.controller.on_error = self.show_error

        self.queue = QueueDock(parent=self)
        self.worktrees = WorktreeActions(self, engine.connections.get)  # its context-menu actions
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.queue)
        self.resizeDocks([self.queue], [460], Qt.Orientation.Horizontal)
        # Previews of a remote session's files are copies fetched through its worker's
        # connection into the data folder.
        self.artifacts = ArtifactsPanel(
            self, fetcher=RemoteCopies(engine.paths.home, engine.connections.get)
        )
        self.artifacts_dock = QDockWidget("Artifacts", self)
        self.artifacts_dock.setObjectName("artifactsDock")
        self.artifacts_dock.setWidget(self.artifacts)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.artifacts_dock)
        self.artifacts_dock.hide()
        self.search = SearchPanel(self)
        self.search_dock = QDockWidget("Search", self)
        self.search_dock.setObjectName("searchDock")
        self.search_dock.setWidget(self.search)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.search_dock)
        self.search_dock.hide()

        self.alerts = AlertPolicy()
        self.limit_notices = HoldNotices(lambda: self.engine.limits.now())
        self._alert_timer = QTimer(self, singleShot=True)
        self._alert_timer.timeout.connect(self._alert_tick)
        self.tray = TrayController(self)
        self._status = QLabel(self)
        self.statusBar().addPermanentWidget(self._status)
        # Workers that cannot run sessions, in red, at a glance; a click opens the Workers dialog.
        self.worker_alert = QLabel(self)
        self.worker_alert.setObjectName("workerAlert")
        self.worker_alert.setTextFormat(Qt.TextFormat.RichText)
        self.worker_alert.linkActivated.connect(lambda _link: self.show_workers())
        self.worker_alert.hide()
        self.statusBar().addPermanentWidget(self.worker_alert)
        self.queue.workersRequested.connect(self.show_workers)

        self._build_actions()
        self._connect()
        self._refresh_timer = QTimer(self, singleShot=True, interval=100)
        self._refresh_timer.timeout.connect(self._refresh)
        engine.subscribe(self._on_engine_event)
        self.controller.refresh()
        self.queue.model.refresh()
        self._refresh()
        self.restore_state()

    # -- construction ------------------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], Any], shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        session = bar.addMenu("&Session")
        session.addAction(self._action("&New session…", self.new_session, "Ctrl+Shift+N"))
        session.addAction(
            self._action("Next needing &input", self.next_needing_input, "Ctrl+Shift+J")
        )
        self.pause_action = self._action("&Pause queue", self.toggle_pause, "Ctrl+Shift+Space")
        self.pause_action.setCheckable(True)
        session.addAction(self.pause_action)
        session.addSeparator()
        session.addAction(self._action("&Quit", self.request_quit))
        view = bar.addMenu("&View")
        view.addAction(self._action("Next tile", lambda: self.cycle_focus(1), "Ctrl+Shift+Right"))
        view.addAction(
            self._action("Previous tile", lambda: self.cycle_focus(-1), "Ctrl+Shift+Left")
        )
        view.addAction(
            self._action(
                "&Maximize / restore", self.controller.toggle_maximize_focused, "Ctrl+Shift+M"
            )
        )
        view.addAction(self._action("&Artifacts", self.show_focused_artifacts, "Ctrl+Shift+E"))
        view.addAction(self._action("&Search history…", self.show_search, "Ctrl+Shift+F"))
        view.addSeparator()
        view.addAction(self.queue.toggleViewAction())
        view.addAction(self.artifacts_dock.toggleViewAction())
        view.addAction(self.search_dock.toggleViewAction())
        tools = bar.addMenu("&Tools")
        tools.addAction(self._action("&Workers…", self.show_workers))
        tools.addAction(self._action("&Settings…", self.show_settings))
        tools.addAction(self._action("&Tokens and cost…", lambda: show_usage(self)))
        helpm = bar.addMenu("&Help")
        helpm.addAction(self._action("&Keyboard shortcuts", self.show_shortcuts, "F1"))

    def _connect(self) -> None:
        q = self.queue
        q.continueRequested.connect(lambda sid: self._op(self.engine.continue_session, sid))
        q.retryRequested.connect(lambda sid: self._op(self.engine.retry_session, sid))
        q.killRequested.connect(self.kill)
        q.removeRequested.connect(lambda sid: self._op(sess.remove_session, sid))
        q.pinRequested.connect(lambda sid, on: self._op(sess.set_lock, sid, on))
        q.openFolderRequested.connect(self.open_folder)
        q.artifactsRequested.connect(self.show_artifacts)
        q.worktreeRequested.connect(self.worktrees.request)
        self.worktrees.finished.connect(self._worktree_done)
        q.sessionSelected.connect(self.controller.request)
        q.model.moveFailed.connect(self.show_error)
        c = self.controller
        c.kill_requested.connect(self.kill)
        c.continue_requested.connect(lambda sid: self._op(self.engine.continue_session, sid))
        c.pin_requested.connect(lambda sid, on: self._op(sess.set_lock, sid, on))
        c.needs_input_changed.connect(self._on_needs_input)
        c.counts_changed.connect(self._schedule_refresh)
        t = self.tray
        t.showHideRequested.connect(self.toggle_visible)
        t.newSessionRequested.connect(self.new_session)
        t.pauseToggled.connect(lambda paused: self.set_paused(paused))
        t.quitRequested.connect(self.request_quit)
        t.notificationClicked.connect(self.focus_session)
        self.search.matchActivated.connect(self.open_match)

    # -- engine → window ---------------------------------------------------------------------

    def _on_engine_event(self, event: EngineEvent) -> None:
        if event.kind == "output":
            return
        if event.kind == "focus":
            self.bring_to_front()
            return
        if event.kind == "settings":
            self._apply_stored_settings()
            # An open settings dialog shows what is stored now (`c3desk settings set`).
            if self._settings_dialog is not None:
                self._settings_dialog.reload()
        if event.session_id is not None:
            self.queue.model.refresh_session(event.session_id)
        else:
            self.queue.model.refresh()
        if self.artifacts_dock.isVisible() and event.session_id == self.artifacts.session_id:
            self.artifacts.refresh()
        self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _refresh(self) -> None:
        """Status bar, window title and tray count."""
        st = view.status()
        needing = st.needing_input
        paused = st.queue_paused
        parts = [
            view.active_text(st.active, view.capacity()),
            f"Queued {st.queued}",
            f"Needs input {needing}",
            f"Workers {st.workers_connected}/{st.workers} connected",
        ]
        if paused:
            parts.append("Queue paused")
        limit_line, limit_note = self.limit_notices.update()
        if limit_line:
            parts.append(limit_line)
        self.tray.set_limit(limit_line)
        if limit_note is not None and self.tray.available:
            self.tray.notify(*limit_note)
        blocked = self.engine.blocked
        if blocked:
            reasons = sorted(set(blocked.values()))
            more = f" (+{len(reasons) - 1} more)" if len(reasons) > 1 else ""
            parts.append(f"{len(blocked)} waiting: {reasons[0]}{more}")
        self._status.setText("   ·   ".join(parts))
        self._show_workers_down()
        self.setWindowTitle(f"c3desk ({needing})" if needing else "c3desk")
        self.tray.update_count(needing)
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)
        self.tray.set_paused(paused)

    def _show_workers_down(self) -> None:
        """Name the workers that cannot run sessions, in the status bar and the queue dock."""
        down = view.workers_down()
        if not down:
            self.worker_alert.hide()
            self.queue.set_worker_notice(())
            return
        names = ", ".join(f"{w.name} {w.status}" for w in down)
        lines, reasons = [], []
        for w in down:
            _status, reason = self.engine.worker_status(w.id)
            waiting = f"; {w.waiting} queued session(s) wait for it" if w.waiting else ""
            lines.append(f"{w.name}: {w.status}{waiting}")
            reasons.append(f"{w.name}: {w.status}" + (f" ({reason})" if reason else "") + waiting)
        tip = "\n".join(reasons) + "\nClick to open the Workers dialog"
        color = theme_colors(self.theme)["failed"]
        self.worker_alert.setText(
            f'<a href="workers" style="color: {color}; text-decoration: none;">'
            f"\u25cf {html.escape(names)}</a>"
        )
        self.worker_alert.setToolTip(tip)
        self.worker_alert.show()
        self.queue.set_worker_notice(lines, tip)

    def _on_needs_input(self, sid: str, needs: bool, title: str, reason: str) -> None:
        self.alerts.set_context(self.isActiveWindow(), self.controller.policy.typing)
        self._deliver(self.alerts.on_change(sid, needs, title, reason, time.monotonic()))

    def _alert_tick(self) -> None:
        """Notifications the rate limit held back are due now (one summary for a burst)."""
        self.alerts.set_context(self.isActiveWindow(), self.controller.policy.typing)
        self._deliver(self.alerts.tick(time.monotonic()))

    def _deliver(self, note: Notification | None) -> None:
        deadline = self.alerts.next_deadline()
        if deadline is not None:
            wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
            self._alert_timer.start(wait_ms)
        if note is None:
            return
        log.info(
            "needs input: %s (%s) — notifying via %s",
            note.title,
            note.text,
            "tray" if self.tray.available else "window alert",
        )
        if self.tray.available:
            self.tray.notify(note.session_id, note.title, note.text)
        else:
            self.tray.fallback_alert(self)

    # -- actions -----------------------------------------------------------------------------

    def _op(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            fn(*args)
        except C3Error as exc:
            self.show_error(str(exc))
        self.engine.wake()
        self.queue.model.refresh()
        self.controller.refresh()
        self._schedule_refresh()

    def _worktree_done(self, text: str) -> None:
        self.show_error(text)
        self.queue.model.refresh()

    def show_error(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def kill(self, sid: str) -> None:
        """Kill a session, after asking when its agent is at work (the tile's button sits where
        a "close" would; unless the user said not to ask again)."""
        try:
            s = sess.find_session(sid)
        except C3Error as exc:
            self.show_error(str(exc))
            return
        if s.status != "active" or self.qsettings.value("confirm/kill", True, type=bool) is False:
            self._kill_now(sid)
            return
        box = QMessageBox(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("confirm_kill")
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Kill session?")
        box.setText(f"Kill “{s.title or sid[:8]}”? Its agent is stopped now, mid-work.")
        box.setInformativeText("The session fails as killed by the user; Retry resumes it.")
        end = box.addButton("Kill", QMessageBox.ButtonRole.DestructiveRole)
        end.setObjectName("kill_confirmed")
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        again = QCheckBox("Don't ask again")
        box.setCheckBox(again)

        def answered(button: QWidget) -> None:
            if button is end:
                if again.isChecked():
                    self.qsettings.setValue("confirm/kill", False)
                self._kill_now(sid)

        box.buttonClicked.connect(answered)
        self._kill_box = box
        box.open()

    def _kill_now(self, sid: str) -> None:
        async def run() -> None:
            try:
                await self.engine.kill(sid)
            except C3Error as exc:
                self.show_error(str(exc))

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def new_session(self) -> None:
        dialog = NewSessionDialog(self.paths, self)
        dialog.created.connect(self._created)
        dialog.open()

    def _created(self, sid: str) -> None:
        self.engine.wake()
        self.queue.model.refresh()
        self._schedule_refresh()  # the status bar's counts

    def show_settings(self) -> None:
        dialog = SettingsDialog(self)
        dialog.settingChanged.connect(self.apply_setting)

        def closed(_result: int) -> None:
            self._settings_dialog = None
            dialog.deleteLater()

        dialog.finished.connect(closed)
        self._settings_dialog = dialog
        dialog.open()

    def apply_setting(self, key: str, value: object) -> None:
        if key == "theme":
            self.theme = str(value)
            app = QApplication.instance()
            if isinstance(app, QApplication):
                apply_theme(app, self.theme)
            self.controller.set_theme(self.theme)
        self.engine.wake()
        self.controller.refresh()
        self._refresh()

    def _apply_stored_settings(self) -> None:
        """Settings changed outside this window (``c3desk settings set``...): apply them."""
        theme = str(cfg.get_settings()["theme"])
        if theme != self.theme:
            self.apply_setting("theme", theme)
        else:
            self.controller.refresh()

    def show_workers(self) -> None:
        dialog = WorkersDialog(self, engine=self.engine, home=self.paths.home)
        dialog.workersChanged.connect(self._refresh)
        dialog.open()

    def show_artifacts(self, sid: str) -> None:
        self.artifacts.show_session(sid)
        self.artifacts_dock.show()
        self.artifacts_dock.raise_()

    def show_focused_artifacts(self) -> None:
        """Ctrl+Shift+E: the artifacts of the session selected in the queue while it has the
        focus, else of the tile being typed in."""
        sid = self.controller.policy.typing
        if self.queue.view.hasFocus():
            sid = self.queue.current_session_id() or sid
        if sid:
            self.show_artifacts(sid)

    def open_folder(self, sid: str) -> None:
        try:
            folder = view.working_directory(sid)
        except C3Error as exc:
            self.show_error(str(exc))
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def toggle_pause(self) -> None:
        self.set_paused(self.pause_action.isChecked())

    def set_paused(self, paused: bool) -> None:
        self.engine.set_paused(paused)
        self._refresh()

    def next_needing_input(self) -> None:
        waiting = self.controller.needing_input()
        if not waiting:
            self.show_error("No session needs input")
            return
        current = self.controller.policy.typing
        later = (
            waiting[(waiting.index(current) + 1) % len(waiting)]
            if current in waiting
            else (waiting[0])
        )
        self.focus_session(later)

    def focus_session(self, sid: str) -> None:
        self.bring_to_front()
        self.controller.request(sid)

    def show_search(self) -> None:
        if not self.search_dock.isVisible():
            self.search_dock.show()
            self.resizeDocks([self.search_dock], [480], Qt.Orientation.Horizontal)
        self.search_dock.raise_()
        self.search.focus_query()

    def open_match(self, sid: str, line: str) -> None:
        """A search match: its session into the grid, its terminal scrolled to the line."""
        self.focus_session(sid)
        tile = self.grid.tile_of(sid)
        if line and tile is not None and tile.view is not None:
            found = scroll_to_text(tile.view, line)
            self.statusBar().showMessage(
                "" if found else "That line is no longer in the terminal's history", 5000
            )

    def cycle_focus(self, step: int) -> None:
        tiles = [t for t in self.grid.tiles if t.isVisible() and t.view is not None]
        if not tiles:
            return
        current = next((i for i, t in enumerate(tiles) if t.view and t.view.hasFocus()), -1)
        target = tiles[(current + step) % len(tiles)]
        if target.view is not None:
            target.view.setFocus()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        box = QMessageBox(self)
        box.setWindowTitle("Keyboard shortcuts")
        box.setText(f"<table cellspacing=6>{rows}</table>")
        box.open()

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def toggle_visible(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.bring_to_front()

    # -- persistence and closing -------------------------------------------------------------

    def save_state(self) -> None:
        s = self.qsettings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("grid/tiles", [t or "" for t in self.controller.policy.tiles])

    def restore_state(self) -> None:
        s = self.qsettings
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        tiles = s.value("grid/tiles")
        if isinstance(tiles, list):
            # The tiles come back where they were, as shown tiles, not as the user's requests:
            # a session that needs input (reattached after a restart) still ranks in over a
            # finished one kept from last time.
            known = view.existing_sessions([t for t in tiles if isinstance(t, str)])
            self.controller.policy.tiles = [
                sid if isinstance(sid, str) and sid in known else None for sid in tiles
            ]
            self.controller.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quitting:
            self.save_state()
            event.accept()
            return
        if self.engine.running_count():
            event.ignore()
            self._ask_before_closing()
            return
        self.save_state()
        event.accept()
        self.quit()

    def _ask_before_closing(self) -> None:
        if self._quit_box is not None:  # asked already (Quit twice from the tray): that one
            self._quit_box.raise_()
            return
        running = self.engine.running_count()
        hosted = self.engine.hosted_count()
        box = QMessageBox(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("confirm_quit")
        self._quit_box = box

        def gone() -> None:
            self._quit_box = None

        box.destroyed.connect(gone)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit c3desk?")
        keep_button: QWidget | None = None
        if hosted:
            text = (
                f"{running} session(s) are running. {hosted} of them run in tmux and can go "
                "on without c3desk: the next start shows them again."
            )
            if running > hosted:
                text += f" The other {running - hosted} end when c3desk quits."
            box.setText(text)
            keep = box.addButton("Quit, keep sessions running", QMessageBox.ButtonRole.AcceptRole)
            keep.setObjectName("quit_keep")
            end_button = box.addButton(
                "Quit and end sessions", QMessageBox.ButtonRole.DestructiveRole
            )
            box.setDefaultButton(keep)
            keep_button = keep
        else:
            box.setText(
                f"{running} session(s) are running. Quitting ends them (their scrollback is kept)."
            )
            end_button = box.addButton("Quit and end sessions", QMessageBox.ButtonRole.AcceptRole)
        end_button.setObjectName("quit_end")
        tray_button = box.addButton("Keep running in the tray", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        tray_button.setEnabled(self.tray.available)

        def answered(button: QWidget) -> None:
            if button is keep_button:
                self.quit()
            elif button is end_button:
                self.quit(end_sessions=True)
            elif button is tray_button:
                self.save_state()
                self.hide()

        box.buttonClicked.connect(answered)
        box.open()

    def request_quit(self) -> None:
        """Quit from the menu or the tray: asked first, as closing the window is, while
        sessions run."""
        if self.engine.running_count():
            if not self.isVisible():  # quit from the tray: the question needs its window
                self.bring_to_front()
            self._ask_before_closing()
        else:
            self.quit()

    def quit(self, *, end_sessions: bool = False) -> None:
        """Close for good. Sessions hosted in tmux keep running (the next start takes them
        over) unless ``end_sessions``; the others end."""
        self.end_sessions = end_sessions
        self._quitting = True
        self.save_state()
        self._on_quit()
