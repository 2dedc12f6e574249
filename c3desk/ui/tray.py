"""The system tray icon: a count badge of sessions needing input, a menu, and notifications.

Where the platform has no tray (offscreen, some Wayland desktops), the controller still keeps the
count and its actions, shows nothing, and :meth:`TrayController.fallback_alert` flashes the window
instead (``QApplication.alert``); the window title carries the count (the main window's job).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from c3desk.ui import icons

MESSAGE_MS = 10_000


def tooltip_for(count: int) -> str:
    if count == 0:
        return "c3desk: no session needs input"
    if count == 1:
        return "c3desk: 1 session needs input"
    return f"c3desk: {count} sessions need input"


class TrayController(QObject):
    """Owns the tray icon and its menu; reports what the user asked for through signals."""

    showHideRequested = Signal()
    newSessionRequested = Signal()
    pauseToggled = Signal(bool)  # True: pause the queue
    quitRequested = Signal()
    notificationClicked = Signal(str)  # the session the last notification was about

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._count = -1
        self._limit: str | None = None  # the usage-limit line, under the count
        self.icon_generations = 0  # how often the badge was drawn (it is redrawn on change only)
        self._last_session: str | None = None
        self._window_visible = True
        self.tray = QSystemTrayIcon(self)
        self.tray.setObjectName("c3deskTray")

        self.menu = QMenu()  # no parent: a tray menu is a top-level; deleted with us
        self.destroyed.connect(self.menu.deleteLater)
        self.menu.setObjectName("trayMenu")
        self.show_hide_action = QAction("Hide window", self.menu)
        self.show_hide_action.setObjectName("tray_show_hide")
        self.show_hide_action.triggered.connect(self.showHideRequested)
        self.new_session_action = QAction("New session…", self.menu)
        self.new_session_action.setObjectName("tray_new_session")
        self.new_session_action.triggered.connect(self.newSessionRequested)
        self.pause_action = QAction("Pause queue", self.menu)
        self.pause_action.setObjectName("tray_pause")
        self.pause_action.setCheckable(True)
        self.pause_action.toggled.connect(self._on_pause_toggled)
        self.quit_action = QAction("Quit c3desk", self.menu)
        self.quit_action.setObjectName("tray_quit")
        self.quit_action.triggered.connect(self.quitRequested)
        self.menu.addAction(self.show_hide_action)
        self.menu.addAction(self.new_session_action)
        self.menu.addSeparator()
        self.menu.addAction(self.pause_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.tray.setContextMenu(self.menu)

        self.tray.activated.connect(self._on_activated)
        self.tray.messageClicked.connect(self._on_message_clicked)
        self.update_count(0)
        if self.available:
            # Only where a tray exists: elsewhere show() warns and shows nothing anyway.
            self.tray.show()

    # -- state -------------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the desktop has a system tray to put the icon in."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def supports_messages(self) -> bool:
        return self.available and QSystemTrayIcon.supportsMessages()

    @property
    def count(self) -> int:
        return max(self._count, 0)

    @property
    def icon(self) -> QIcon:
        return self.tray.icon()

    def update_count(self, count: int) -> None:
        """Show ``count`` sessions needing input; the icon is redrawn only when it changes."""
        count = max(0, count)
        if count == self._count:
            return
        self._count = count
        self.icon_generations += 1
        self.tray.setIcon(icons.badged_icon(count))
        self._set_tooltip()

    def set_limit(self, text: str | None) -> None:
        """Show the usage-limit pause (or none) in the tooltip."""
        if text != self._limit:
            self._limit = text
            self._set_tooltip()

    def _set_tooltip(self) -> None:
        tip = tooltip_for(max(self._count, 0))
        self.tray.setToolTip(f"{tip}\n{self._limit}" if self._limit else tip)

    def set_paused(self, paused: bool) -> None:
        """Reflect the queue's state (from settings) without emitting pauseToggled."""
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked(paused)
        self.pause_action.blockSignals(False)
        self._label_pause(paused)

    def set_window_visible(self, visible: bool) -> None:
        self._window_visible = visible
        self.show_hide_action.setText("Hide window" if visible else "Show window")

    def _label_pause(self, paused: bool) -> None:
        self.pause_action.setText("Resume queue" if paused else "Pause queue")

    def _on_pause_toggled(self, paused: bool) -> None:
        self._label_pause(paused)
        self.pauseToggled.emit(paused)

    # -- notifications -----------------------------------------------------------------------

    def notify(self, session_id: str, title: str, text: str) -> bool:
        """Show a notification about ``session_id``; False where the platform cannot."""
        self._last_session = session_id
        if not self.supports_messages or not self.tray.isVisible():
            return False
        self.tray.showMessage(title, text, icons.app_icon(), MESSAGE_MS)
        return True

    @property
    def last_notified(self) -> str | None:
        return self._last_session

    def _on_message_clicked(self) -> None:
        # messageClicked carries no payload: the last notification is the one clicked.
        if self._last_session is not None:
            self.notificationClicked.emit(self._last_session)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.showHideRequested.emit()

    @staticmethod
    def fallback_alert(window: QWidget) -> None:
        """No tray: flash the window's taskbar entry until it is activated."""
        QApplication.alert(window, 0)

    def alert(self, window: QWidget, session_id: str, title: str, text: str) -> None:
        """Notify through the tray where there is one, else flash ``window``."""
        if not self.notify(session_id, title, text):
            self.fallback_alert(window)

    def dispose(self) -> None:
        """Take the icon out of the tray (on quit), so no dead icon lingers."""
        self.tray.hide()
        self.menu.deleteLater()
