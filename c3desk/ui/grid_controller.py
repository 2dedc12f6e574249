"""Keeps the grid showing the right sessions, fed by engine events. No widgets of its own."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, SignalInstance

from c3desk import clock
from c3desk.core import settings as cfg
from c3desk.core.engine import Engine, EngineEvent
from c3desk.core.focus import Candidate, FocusPolicy, capacity, grid_shape
from c3desk.core.views import grid as view
from c3desk.errors import C3Error
from c3desk.terminal import TerminalModel
from c3desk.ui import usage_view
from c3desk.ui.grid import Grid, Tile, TileInfo
from c3desk.ui.terminal_view import TerminalView


class GridController(QObject):
    """Chooses the tiles (FocusPolicy), attaches views to models, forwards input to the engine.

    ``needs_input_changed(session_id, needs_input, title, reason)`` fires once per transition.
    """

    needs_input_changed = Signal(str, bool, str, str)
    counts_changed = Signal()
    kill_requested = Signal(str)
    continue_requested = Signal(str)
    pin_requested = Signal(str, bool)

    def __init__(self, engine: Engine, grid: Grid, theme: str = "dark") -> None:
        super().__init__(grid)
        self.engine = engine
        self.grid = grid
        self.theme = theme
        self.policy = FocusPolicy()
        self._needs: dict[str, bool] = {}
        self._needs_since: dict[str, float] = {}
        self._models: dict[str, TerminalModel] = {}
        self._refresh_timer = QTimer(self, singleShot=True, interval=30)
        self._refresh_timer.timeout.connect(self.refresh)
        self.on_error: Callable[[str], None] = lambda _msg: None
        engine.subscribe(self._on_engine_event)
        self._wired: set[int] = set()
        self._sized: set[int] = set()

    # -- engine events -----------------------------------------------------------------------

    def _on_engine_event(self, event: EngineEvent) -> None:
        if event.kind == "output" and event.session_id is not None:
            tile = self.grid.tile_of(event.session_id)
            if tile is not None and tile.view is not None:
                tile.view.model_changed()
            return
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    # -- choosing tiles ----------------------------------------------------------------------

    def request(self, session_id: str) -> None:
        """Bring a session into view (selected in the queue, notification clicked...)."""
        self.policy.request(session_id, time.monotonic())
        self.refresh()
        tile = self.grid.tile_of(session_id)
        if tile is not None and tile.view is not None:
            tile.view.setFocus()

    def candidates(self) -> list[Candidate]:
        keep = {t for t in self.policy.tiles if t} | self.policy.requested
        now = time.monotonic()
        out = []
        for s in view.tile_rows(keep):
            last = self.engine.last_activity(s.id)
            if last is not None:
                activity = last
            else:
                stamp = s.completed_at or s.started_at
                activity = now - (time.time() - clock.parse(stamp).timestamp()) if stamp else 0.0
            out.append(
                Candidate(
                    s.id,
                    s.status,
                    pinned=s.pinned,
                    needs_input=s.needs_input,
                    needs_input_since=self._needs_since.get(s.id, 0.0),
                    last_activity=activity,
                )
            )
        return [c for c in out if c.status != "queued"]

    def refresh(self) -> None:
        settings = cfg.get_settings()
        self._track_needs_input()
        layout = str(settings["grid_layout"])
        max_visible = int(settings["max_visible_sessions"])
        slots = capacity(layout, max_visible)
        tiles = self.policy.update(self.candidates(), slots)
        shown = [t for t in tiles if t]
        count = slots if layout != "auto" else max(1, len(shown))
        shape = grid_shape(layout, count, max_visible)
        ordered = shown + [None] * (count - len(shown)) if layout == "auto" else tiles[:count]
        widgets = self.grid.ensure_tiles(count)
        for tile, sid in zip(widgets, ordered, strict=False):
            self._wire(tile)
            if sid is None:
                tile.detach()
            else:
                self._show(tile, sid)
        for tile in self.grid.tiles[count:]:
            tile.detach()
        self.grid.arrange(shape, count)
        self.counts_changed.emit()

    def size_new_sessions(self) -> None:
        """Tell the engine the terminal size of a tile, measured with a real view and header,
        so sessions start at the size they will be shown at."""
        settings = cfg.get_settings()
        count = capacity(str(settings["grid_layout"]), int(settings["max_visible_sessions"]))
        rows, cols = grid_shape(str(settings["grid_layout"]), count, count)
        layout = self.grid.layout()
        if layout is None:  # the grid lays its tiles out in a layout of its own; never None
            return
        margins = layout.contentsMargins()
        spacing = layout.spacing()
        width = (self.grid.width() - margins.left() - margins.right()) // cols - spacing
        height = (self.grid.height() - margins.top() - margins.bottom()) // rows - spacing
        if width < 100 or height < 60:
            return
        probe_tile = Tile()
        header = probe_tile.header.sizeHint().height()
        probe = TerminalView(TerminalModel(10, 5, 0), lambda _data: None, theme=self.theme)
        term_cols, term_rows = probe.grid_size_for(width - 6, height - header - 6)
        probe.deleteLater()
        probe_tile.deleteLater()
        self.engine.set_default_size(term_cols, term_rows)

    def _show(self, tile: Tile, sid: str) -> None:
        info = self.info(sid)
        if info is None:
            tile.detach()
            return
        model = self.engine.current_model(sid) or self._models.get(sid)
        if model is None:
            model = self.engine.model_of(sid)
        self._models[sid] = model

        def send(data: bytes, sid: str = sid) -> None:
            try:
                self.engine.write(sid, data)
            except C3Error as exc:
                self.on_error(str(exc))

        def resize(cols: int, rows: int, sid: str = sid) -> None:
            with contextlib.suppress(C3Error):
                self.engine.resize(sid, cols, rows)

        tile.attach(info, model, send, resize, self.theme)
        if tile.view is not None and id(tile.view) not in self._sized:
            self._sized.add(id(tile.view))
            # New sessions start at the size of the tiles that will show them, so agents
            # never draw for 120 columns and then redraw for a narrower tile.
            tile.view.grid_resized.connect(self.engine.set_default_size)

    def info(self, sid: str) -> TileInfo | None:
        h = view.tile_heading(sid)
        if h is None:
            return None
        worker_status, worker_reason = h.worker_status or "connected", ""
        if worker_status != "connected" and h.worker_id is not None:
            worker_reason = self.engine.worker_status(h.worker_id)[1] or ""
        spent, spent_tip = usage_view.header_text(usage_view.session_totals(sid))
        return TileInfo(
            sid,
            h.title,
            h.worker or "any worker",
            h.status,
            h.needs_input,
            h.reason,
            h.pinned,
            worker_status,
            worker_reason,
            spent,
            spent_tip,
        )

    def _track_needs_input(self) -> None:
        now = time.monotonic()
        seen = set()
        for s in view.tile_rows(self._needs):
            seen.add(s.id)
            flag = s.needs_input
            if flag != self._needs.get(s.id, False):
                if flag:
                    self._needs_since[s.id] = now
                info = self.info(s.id) if flag else None
                self.needs_input_changed.emit(s.id, flag, s.title, info.reason if info else "")
            self._needs[s.id] = flag
        for gone in set(self._needs) - seen:
            del self._needs[gone]

    def _wire(self, tile: Tile) -> None:
        if id(tile) in self._wired:
            return
        self._wired.add(id(tile))
        tile.focused.connect(self._on_tile_focus)
        tile.typed.connect(self._on_tile_focus)
        h = tile.header
        h.maximize_requested.connect(lambda t=tile: self._maximize(t))
        h.kill_requested.connect(lambda t=tile: self._emit_for(t, self.kill_requested))
        h.continue_requested.connect(lambda t=tile: self._emit_for(t, self.continue_requested))
        h.pin_toggled.connect(lambda on, t=tile: self._pin(t, on))

    def _on_tile_focus(self, sid: str) -> None:
        self.policy.typing = sid
        self.engine.set_focus(sid)
        self.policy.touch(sid, time.monotonic())

    def _maximize(self, tile: Tile) -> None:
        if tile.session_id is not None:
            self.grid.toggle_maximize(
                tile.session_id, len([t for t in self.grid.tiles if t.isVisible()]) or 1
            )
            self.refresh()

    def toggle_maximize_focused(self) -> None:
        sid = self.grid.maximized or self.policy.typing
        tile = self.grid.tile_of(sid) if sid else None
        if tile is not None:
            self._maximize(tile)

    def _pin(self, tile: Tile, on: bool) -> None:
        if tile.session_id:
            self.pin_requested.emit(tile.session_id, on)

    @staticmethod
    def _emit_for(tile: Tile, signal: SignalInstance) -> None:
        if tile.session_id is not None:
            signal.emit(tile.session_id)

    def needing_input(self) -> list[str]:
        """Sessions needing input: those blocked on a prompt first, then idle ones, oldest
        first within each."""
        waiting = [sid for sid, flag in self._needs.items() if flag]
        states = {sid: view.last_agent(sid).state for sid in waiting}
        return sorted(
            waiting,
            key=lambda sid: (states[sid] != "waiting", self._needs_since.get(sid, 0.0)),
        )

    def set_theme(self, theme: str) -> None:
        self.theme = theme
        for tile in self.grid.tiles:
            if tile.view is not None:
                tile.view.set_theme(theme)
