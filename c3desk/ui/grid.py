"""The central grid: tiles, each a header over a live terminal view.

A header's buttons are icons (:func:`c3desk.ui.icons.button_icon`) drawn in the theme's colours,
not emoji text, which a font may lack; each has a tooltip and an accessible name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFocusEvent, QMouseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from c3desk.terminal import TerminalModel
from c3desk.ui.icons import button_icon
from c3desk.ui.terminal_view import TerminalView
from c3desk.ui.theme import current_theme, theme_colors


def _set_property(widget: QWidget, name: str, value: str) -> None:
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


@dataclass(frozen=True)
class TileInfo:
    session_id: str
    title: str
    worker: str
    status: str
    needs_input: bool
    reason: str = ""
    pinned: bool = False
    worker_status: str = "connected"  # of the session's worker: disconnected/error say it
    worker_reason: str = ""  # why the worker is not connected
    usage: str = ""  # tokens and cost so far ("12.3k tok · $0.42"); "" before any
    usage_tip: str = ""


TITLE_ROOM = 140  # pixels a tile's header keeps for the title before it drops words


class TileHeader(QFrame):
    pin_toggled = Signal(bool)
    maximize_requested = Signal()
    kill_requested = Signal()
    continue_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tileHeader")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 2, 2)
        layout.setSpacing(6)
        self.title = QLabel(self)
        self.title.setObjectName("tileTitle")
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.worker = QLabel(self)
        self.worker.setObjectName("tileWorker")
        self.usage = QLabel(self)
        self.usage.setObjectName("tileUsage")
        self.state = QLabel(self)
        self.state.setObjectName("stateChip")
        self.needs = QLabel("needs input", self)
        self.needs.setObjectName("needsInputChip")
        self.pin = self._button("Pin", "Pin (keep this session in view)", checkable=True)
        self.pin.toggled.connect(self.pin_toggled)
        self.cont = self._button("Continue", "Continue this session (claude --resume)")
        self.cont.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.cont.clicked.connect(self.continue_requested)
        self.maximize = self._button("Maximize", "")
        self.maximize.clicked.connect(self.maximize_requested)
        self.kill = self._button("Kill", "Kill this session")
        self.kill.clicked.connect(self.kill_requested)
        self._maximized = False
        self._set_maximize_text()
        self._set_icons()
        for w in (self.title, self.worker, self.usage, self.state, self.needs):
            layout.addWidget(w)
        layout.setStretch(0, 1)
        for b in (self.pin, self.cont, self.maximize, self.kill):
            layout.addWidget(b)

    def _button(self, text: str, tip: str, checkable: bool = False) -> QToolButton:
        b = QToolButton(self)
        b.setText(text)  # shown only beside an icon (Continue); read out by screen readers
        b.setAccessibleName(text)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.setCheckable(checkable)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return b

    def _set_icons(self) -> None:
        """Icons in the current palette's colours (again when the theme changes)."""
        pal = self.palette()
        self.pin.setIcon(button_icon("pin", pal, checked="pinned"))
        self.cont.setIcon(button_icon("continue", pal))
        self.maximize.setIcon(button_icon("restore" if self._maximized else "maximize", pal))
        self.kill.setIcon(button_icon("kill", pal))

    def set_maximized(self, maximized: bool) -> None:
        """The maximize button offers to restore the grid while this tile fills it."""
        if maximized != self._maximized:
            self._maximized = maximized
            self._set_maximize_text()
            self.maximize.setIcon(
                button_icon("restore" if maximized else "maximize", self.palette())
            )

    def _set_maximize_text(self) -> None:
        name = "Restore" if self._maximized else "Maximize"
        self.maximize.setText(name)
        self.maximize.setAccessibleName(name)
        self.maximize.setToolTip(
            "Restore the grid (double-click the header)"
            if self._maximized
            else "Maximize this session (double-click the header)"
        )

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._set_icons()
        super().changeEvent(event)

    def show_info(self, info: TileInfo) -> None:
        self.title.setText(info.title)
        down = info.worker_status != "connected" and info.status in ("active", "queued")
        # An active session on a worker that went away waits for it (hosted in tmux there).
        mark = "reconnecting" if info.status == "active" else info.worker_status
        self.worker.setText(f"{info.worker} ({mark})" if down else info.worker)
        self.worker.setToolTip(
            f"Worker {info.worker}: {info.worker_status}"
            + (f" ({info.worker_reason})" if down and info.worker_reason else "")
        )
        # Red while the worker cannot serve the session; the theme's colour otherwise.
        self.worker.setStyleSheet(
            f"QLabel#tileWorker {{ color: {theme_colors(current_theme())['failed']}; }}"
            if down
            else ""
        )
        self.usage.setText(info.usage)
        self.usage.setToolTip(info.usage_tip)
        self.state.setText(info.status)
        # The theme styles the chip and header by these properties (c3desk/ui/theme.py).
        _set_property(self.state, "state", info.status)
        _set_property(self, "needsInput", "true" if info.needs_input else "false")
        self.needs.setVisible(info.needs_input)
        self.state.setVisible(not info.needs_input)  # needing input implies active: one chip
        self.needs.setToolTip(info.reason)
        self.pin.blockSignals(True)
        self.pin.setChecked(info.pinned)
        self.pin.blockSignals(False)
        self.cont.setVisible(info.status == "completed")
        self.kill.setVisible(info.status == "active")
        self._fit()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        """Keep room for the title (seen: a 390-px tile showed one letter of it beside
        "Continue" and the usage): in a narrow header Continue loses its word, then the usage
        goes to the title's tooltip."""
        usage = self.usage.text()
        layout = self.layout()
        margins = layout.contentsMargins() if layout is not None else None
        spacing = layout.spacing() if layout is not None else 0

        def room() -> int:
            others = [
                w for w in (self.worker, self.usage, self.state, self.needs, self.pin, self.cont,
                            self.maximize, self.kill)
                if not w.isHidden()
            ]  # fmt: skip
            used = sum(w.sizeHint().width() + spacing for w in others)
            if margins is not None:
                used += margins.left() + margins.right()
            return self.width() - used

        self.cont.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.usage.setVisible(bool(usage))
        if room() < TITLE_ROOM:
            self.cont.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        if room() < TITLE_ROOM and usage:
            self.usage.setVisible(False)
        tip = self.title.text()
        self.title.setToolTip(f"{tip}\n{usage}" if usage and self.usage.isHidden() else tip)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.maximize_requested.emit()
        event.accept()


class Tile(QFrame):
    """One session in the grid. Emits ``focused`` when the user clicks or types in it."""

    focused = Signal(str)
    typed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.session_id: str | None = None
        self.info: TileInfo | None = None
        self._theme_name = "dark"
        self.header = TileHeader(self)
        self.view: TerminalView | None = None
        self.placeholder = QLabel("No session", self)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("tilePlaceholder")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(1, 1, 1, 1)
        self._layout.setSpacing(0)
        self._layout.addWidget(self.header)
        self._layout.addWidget(self.placeholder, 1)
        self.header.hide()

    def attach(
        self,
        info: TileInfo,
        model: TerminalModel,
        send: Callable[[bytes], None],
        on_resize: Callable[[int, int], None],
        theme: str,
    ) -> None:
        """Show ``info.session_id`` with its terminal model."""
        self._theme_name = theme
        if self.view is not None and self.session_id != info.session_id:
            self._drop_view()
        if self.view is None:
            self.view = TerminalView(model, send, on_resize, self, theme=theme)
            self.view.installEventFilter(self)
            self._layout.addWidget(self.view, 1)
        elif self.view.model is not model:  # the session was continued: a new model
            self.view.set_model(model)
        self.session_id = info.session_id
        self.placeholder.hide()
        self.view.show()
        self.header.show()
        self.set_info(info)

    def _drop_view(self) -> None:
        if self.view is not None:
            self._layout.removeWidget(self.view)
            self.view.removeEventFilter(self)
            self.view.deleteLater()
            self.view = None

    def detach(self) -> None:
        self._drop_view()
        self.session_id = None
        self.info = None
        self.header.hide()
        self.placeholder.show()

    def set_info(self, info: TileInfo) -> None:
        self.info = info
        self.header.show_info(info)
        color = theme_colors(self._theme())["needs_input"] if info.needs_input else "transparent"
        self.setStyleSheet(f"QFrame#tile {{ border: 2px solid {color}; }}")

    def _theme(self) -> str:
        return self._theme_name

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.view and self.session_id is not None:
            if event.type() == QEvent.Type.FocusIn and not _given_by_window(event):
                self.focused.emit(self.session_id)
            elif event.type() == QEvent.Type.KeyPress:
                self.typed.emit(self.session_id)
        return False


def _given_by_window(event: QEvent) -> bool:
    """Focus that came with the window's activation (Qt hands it to the first view when the
    window first shows, or back to the last one): not a tile the user chose."""
    return (
        isinstance(event, QFocusEvent) and event.reason() == Qt.FocusReason.ActiveWindowFocusReason
    )


class Grid(QWidget):
    """Tiles laid out in rows × columns; one can be maximized."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("grid")
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._layout.setSpacing(4)
        self.tiles: list[Tile] = []
        self.maximized: str | None = None
        self._shape = (1, 1)

    def ensure_tiles(self, count: int) -> list[Tile]:
        while len(self.tiles) < count:
            self.tiles.append(Tile(self))
        return self.tiles[:count]

    def arrange(self, shape: tuple[int, int], count: int) -> None:
        """Lay ``count`` tiles out on a ``shape`` grid (rows, columns)."""
        self._shape = shape
        rows, cols = shape
        for tile in self.tiles:
            self._layout.removeWidget(tile)
            tile.hide()
        visible = self.ensure_tiles(count)
        if self.maximized not in {tile.session_id for tile in visible}:
            self.maximized = None
        for tile in self.tiles:
            tile.header.set_maximized(
                self.maximized is not None and tile.session_id == self.maximized
            )
        if self.maximized is not None:
            for tile in visible:
                if tile.session_id == self.maximized:
                    self._layout.addWidget(tile, 0, 0)
                    tile.show()
                    return
        for i, tile in enumerate(visible):
            self._layout.addWidget(tile, i // cols, i % cols)
            tile.show()
        for r in range(3):
            self._layout.setRowStretch(r, 1 if r < rows else 0)
        for c in range(3):
            self._layout.setColumnStretch(c, 1 if c < cols else 0)

    def tile_of(self, session_id: str) -> Tile | None:
        for tile in self.tiles:
            if tile.session_id == session_id and tile.isVisible():
                return tile
        return None

    def toggle_maximize(self, session_id: str, count: int) -> None:
        self.maximized = None if self.maximized == session_id else session_id
        self.arrange(self._shape, count)
