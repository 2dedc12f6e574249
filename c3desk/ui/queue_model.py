"""The queue as a flat Qt table model: five group header rows, each followed by its sessions.

No widget per row, and no tree: a collapsed group simply has no session rows, so the view (a
QTableView with fixed row heights) lays out in constant time and a model reset makes no Python
call per row: with 10,000 sessions, filtering or clearing the filter takes about 25 ms, repaint
included (benchmarks/queue_dock.py).

Rows are plain tuples straight from one SELECT (:mod:`c3desk.core.views.queue`, which also says
how they group, sort and filter; no peewee model objects): 10,000 sessions load in a few tens of
milliseconds. The filter is built in (a substring test over precomputed lowercase
text) instead of a QSortFilterProxyModel, whose per-row Python callback is the slow part at this
size. Engine events call :meth:`QueueModel.refresh_session`; calls are coalesced and applied as
row-level changes so that the view keeps its selection and scroll position.
"""

from __future__ import annotations

import enum
import functools
import json
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QImage, QPainter, QPainterPath, QPixmap

from c3desk.core import sessions as sess
from c3desk.core import waiting
from c3desk.core.views import queue as view
from c3desk.core.views import worktrees as worktree_views
from c3desk.core.views.queue import (
    CLAUDE_ID,
    COMPLETED,
    CONT,
    ID,
    LOCK,
    NEEDS,
    POSITION,
    STARTED,
    STATUS,
    TITLE,
    WD,
    WORKER,
    Row,
    group_of,
)
from c3desk.core.views.queue import Group as Group  # re-exported: the dock names groups from here
from c3desk.errors import C3Error
from c3desk.ui import usage_view

ModelIndex = QModelIndex | QPersistentModelIndex

MIME_TYPE: Final = "application/x-c3desk-session-ids"


GROUP_LABELS: Final = {
    Group.NEEDS_INPUT: "Needs input",
    Group.ACTIVE: "Active",
    Group.QUEUED: "Queued",
    Group.COMPLETED: "Completed",
    Group.FAILED: "Failed",
}


class Column(enum.IntEnum):
    TITLE = 0
    WORKER = 1
    STATE = 2
    ELAPSED = 3
    CONTINUATIONS = 4
    PINNED = 5


COLUMN_LABELS: Final = ("Title", "Worker", "State", "Elapsed", "Cont.", "Pin")
COLUMN_TIPS: Final = (
    "Session title",
    "Worker running the session",
    "Session state",
    "Time since the session started (finished: how long it ran)",
    "How many times the session was continued",
    "Pinned sessions stay in the grid",
)

# Custom roles
SessionIdRole: Final = int(Qt.ItemDataRole.UserRole) + 1
StatusRole: Final = SessionIdRole + 1
NeedsInputRole: Final = SessionIdRole + 2
PinnedRole: Final = SessionIdRole + 3
GroupRole: Final = SessionIdRole + 4
ClaudeSessionIdRole: Final = SessionIdRole + 5
WorkingDirectoryRole: Final = SessionIdRole + 6
IsGroupRole: Final = SessionIdRole + 7

# Plain ints: data() compares roles for every painted cell.
DISPLAY: Final = int(Qt.ItemDataRole.DisplayRole)
DECORATION: Final = int(Qt.ItemDataRole.DecorationRole)
TOOLTIP: Final = int(Qt.ItemDataRole.ToolTipRole)
FOREGROUND: Final = int(Qt.ItemDataRole.ForegroundRole)
FONT: Final = int(Qt.ItemDataRole.FontRole)
ALIGNMENT: Final = int(Qt.ItemDataRole.TextAlignmentRole)
SIZE_HINT: Final = int(Qt.ItemDataRole.SizeHintRole)
BACKGROUND: Final = int(Qt.ItemDataRole.BackgroundRole)
HANDLED_ROLES: Final = frozenset(
    {DISPLAY, DECORATION, TOOLTIP, FOREGROUND, FONT, ALIGNMENT, SIZE_HINT, BACKGROUND}
    | set(range(int(Qt.ItemDataRole.UserRole) + 1, int(Qt.ItemDataRole.UserRole) + 9))
)
RIGHT_ALIGNED: Final = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

STATE_COLOURS: Final = {
    "needs input": QColor("#f5a524"),
    "active": QColor("#3fb950"),
    "queued": QColor("#8b949e"),
    "completed": QColor("#58a6ff"),
    "failed": QColor("#f85149"),
}

FULL_REFRESH_ABOVE = 200  # pending single-row updates beyond this: one full reload is cheaper
N_GROUPS: Final = len(Group)
GROUPS: Final = tuple(Group)
# Precomputed: enum arithmetic in a per-cell callback is measurable at 10,000 rows.
NO_FLAGS: Final = Qt.ItemFlag.NoItemFlags
ROOT_FLAGS: Final = Qt.ItemFlag.ItemIsDropEnabled  # drops between rows; the model decides
GROUP_FLAGS: Final = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
QUEUED_GROUP_FLAGS: Final = GROUP_FLAGS | Qt.ItemFlag.ItemIsDropEnabled
ROW_FLAGS: Final = (
    Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren
)
QUEUED_ROW_FLAGS: Final = ROW_FLAGS | Qt.ItemFlag.ItemIsDragEnabled
N_COLUMNS: Final = len(Column)
ROOT: Final = QModelIndex()


_sort_key = view.sort_key
_descending = view.descending


@functools.lru_cache(maxsize=65_536)
def _epoch(stamp: str) -> float:
    """An SQLite UTC timestamp as POSIX seconds (cached: the same few hundred are drawn often)."""
    return datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()


def format_elapsed(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m {s:02}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h {m:02}m"
    d, h = divmod(h, 24)
    return f"{d}d {h}h"


def _dot_icon(colour: QColor, *, mark: str | None = None, size: int = 16) -> QIcon:
    image = QImage(size * 2, size * 2, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(2.0)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    if mark is None:
        painter.drawEllipse(QRectF(size * 0.3, size * 0.3, size * 0.4, size * 0.4))
    else:
        painter.drawEllipse(QRectF(1, 1, size - 2, size - 2))
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int(size * 0.75))
        painter.setFont(font)
        painter.setPen(QColor("#1b1300"))
        painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, mark)
    painter.end()
    return QIcon(QPixmap.fromImage(image))


def _pin_icon(size: int = 16) -> QIcon:
    image = QImage(size * 2, size * 2, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(2.0)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor("#d29922")
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    head = QPainterPath()
    head.addRoundedRect(QRectF(size * 0.28, size * 0.1, size * 0.44, size * 0.18), 1.5, 1.5)
    head.addRect(QRectF(size * 0.36, size * 0.28, size * 0.28, size * 0.25))
    head.addRoundedRect(QRectF(size * 0.2, size * 0.5, size * 0.6, size * 0.12), 1.5, 1.5)
    painter.drawPath(head)
    painter.setPen(colour.darker(115))
    painter.drawLine(int(size * 0.5), int(size * 0.62), int(size * 0.5), int(size * 0.92))
    painter.end()
    return QIcon(QPixmap.fromImage(image))


def _arrow_icon(expanded: bool, size: int = 16) -> QIcon:
    """The disclosure triangle of a group row: pointing down when expanded, right when not."""
    image = QImage(size * 2, size * 2, QImage.Format.Format_ARGB32_Premultiplied)
    image.setDevicePixelRatio(2.0)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(140, 140, 140))
    s = float(size)
    path = QPainterPath()
    if expanded:
        path.moveTo(s * 0.25, s * 0.35)
        path.lineTo(s * 0.75, s * 0.35)
        path.lineTo(s * 0.5, s * 0.7)
    else:
        path.moveTo(s * 0.35, s * 0.25)
        path.lineTo(s * 0.7, s * 0.5)
        path.lineTo(s * 0.35, s * 0.75)
    path.closeSubpath()
    painter.drawPath(path)
    painter.end()
    return QIcon(QPixmap.fromImage(image))


def _same(a: Sequence[Row], b: Sequence[Row]) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b, strict=True))


class _GroupRows:
    """One group's sessions: all of them, and those the filter shows, in display order."""

    __slots__ = ("_shown_pos", "all", "group", "shown")

    def __init__(self, group: Group) -> None:
        self.group = group
        self.all: list[Row] = []
        self.shown: list[Row] = []
        self._shown_pos: dict[str, int] | None = None

    def shown_row(self, session_id: str) -> int | None:
        if self._shown_pos is None:
            self._shown_pos = {r[ID]: i for i, r in enumerate(self.shown)}
        return self._shown_pos.get(session_id)

    def changed(self) -> None:
        self._shown_pos = None

    def insertion(self, rows: Sequence[Row], row: Row) -> int:
        """Where ``row`` goes in ``rows`` (sorted by the group's order)."""
        key = _sort_key(self.group, row)
        if _descending(self.group):
            for i, other in enumerate(rows):
                if _sort_key(self.group, other) < key:
                    return i
        else:
            for i, other in enumerate(rows):
                if _sort_key(self.group, other) > key:
                    return i
        return len(rows)


class QueueModel(QAbstractTableModel):
    """Sessions grouped by what they need from the user; reorderable within Queued.

    A flat table: each group is a header row (a :class:`Group` in the row list) followed by its
    shown sessions; a collapsed group simply has no session rows. The view lays out only what it
    paints (fixed row heights), so a model reset costs no Python call per row.
    """

    moveFailed = Signal(str)  # a refused drop: the reason, for the status bar
    filterChanged = Signal(str)
    groupToggled = Signal(int, bool)  # group, collapsed

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        now: Callable[[], float] = time.time,
        coalesce_ms: int = 50,
        tick_ms: int = 1000,
    ) -> None:
        super().__init__(parent)
        self._now = now
        self._groups = [_GroupRows(g) for g in Group]
        self._collapsed: set[Group] = set()
        # What the view shows, row by row: Group members (header rows) and session tuples.
        self._flat: list[Any] = list(GROUPS)
        self._starts: list[int] = list(range(N_GROUPS))  # the row of each group's header
        self._where: dict[str, Group] = {}
        self._workers: dict[str, str] = {}
        self._worker_status: dict[str, str] = {}  # connected / disconnected / error, by id
        self._filter = ""
        self._hay: dict[Row, str] = {}
        self._pending: set[str] = set()
        self._coalesce = QTimer(self, singleShot=True, interval=coalesce_ms)
        self._coalesce.timeout.connect(self.flush)
        # Elapsed times of running sessions change every second; nothing else does.
        self._ticker = QTimer(self, interval=tick_ms)
        self._ticker.timeout.connect(self._tick)
        self._group_font = QFont()
        self._group_font.setBold(True)
        self._icons = {name: _dot_icon(c) for name, c in STATE_COLOURS.items()}
        self._needs_icon = _dot_icon(STATE_COLOURS["needs input"], mark="!")
        self._worker_down_icon = _dot_icon(STATE_COLOURS["failed"], mark="!")
        self._worker_down_brush = QBrush(STATE_COLOURS["failed"])
        self._pin = _pin_icon()
        self._arrows = {True: _arrow_icon(True), False: _arrow_icon(False)}
        self._dim = QBrush(QColor(128, 128, 128))
        self._group_background = QBrush(QColor(128, 128, 128, 36))

    # -- the flat row list -------------------------------------------------------------------

    def _rebuild_flat(self) -> None:
        flat: list[Any] = []
        starts: list[int] = []
        for rows_of in self._groups:
            starts.append(len(flat))
            flat.append(rows_of.group)
            if rows_of.group not in self._collapsed:
                flat.extend(rows_of.shown)
        self._flat = flat
        self._starts = starts

    def _shift(self, group: Group, delta: int) -> None:
        for g in range(group + 1, N_GROUPS):
            self._starts[g] += delta

    def _visible(self, group: Group) -> int:
        """How many session rows of ``group`` the view has (none while collapsed)."""
        return 0 if group in self._collapsed else len(self._groups[group].shown)

    # -- loading -----------------------------------------------------------------------------

    def _load_workers(self) -> None:
        states = view.worker_states()
        self._workers = {wid: name for wid, (name, _status) in states.items()}
        self._worker_status = {wid: status for wid, (_name, status) in states.items()}

    def _worker_down(self, row: Row) -> bool:
        """The session waits for or runs on a worker that is not connected."""
        wid = row[WORKER]
        return (
            wid is not None
            and row[STATUS] in ("queued", "active")
            and self._worker_status.get(wid, "connected") != "connected"
        )

    def refresh(self) -> None:
        """Re-read every session from the database.

        The rows are swapped in one model reset (constant work for the view); the dock keeps
        the current session and the scroll position across it.
        """
        self._pending.clear()
        self._coalesce.stop()
        workers_before = self._workers
        status_before = self._worker_status
        self._load_workers()
        parts: list[list[Row]] = [[] for _ in Group]
        where: dict[str, Group] = {}
        for row in view.rows():
            g = group_of(row)
            parts[g].append(row)
            where[row[ID]] = g
        for g, rows in zip(Group, parts, strict=True):
            rows.sort(key=functools.partial(_sort_key, g), reverse=_descending(g))
        self._where = where
        shown = [self._apply_filter(rows) for rows in parts]
        unchanged = workers_before == self._workers and all(
            _same(rows_of.all, rows) for rows_of, rows in zip(self._groups, parts, strict=True)
        )
        if unchanged:
            if status_before != self._worker_status and self._flat:
                # Only a worker connected or went away: repaint its column, keep the rows.
                last = len(self._flat) - 1
                self.dataChanged.emit(self.index(0, Column.WORKER), self.index(last, Column.WORKER))
            self._update_ticker()
            return
        self._swap(parts, shown)
        self._update_ticker()

    def _swap(self, parts: Sequence[list[Row]] | None, shown: Sequence[list[Row]]) -> None:
        """Replace every group's rows (``parts``: all; ``shown``: after the filter)."""
        self.beginResetModel()
        for g, rows_of in enumerate(self._groups):
            if parts is not None:
                rows_of.all = parts[g]
            rows_of.shown = shown[g]
            rows_of.changed()
        self._rebuild_flat()
        self.endResetModel()

    def refresh_session(self, session_id: str) -> None:
        """Schedule a re-read of one session; calls within ``coalesce_ms`` are applied together."""
        self._pending.add(session_id)
        if not self._coalesce.isActive():
            self._coalesce.start()

    def flush(self) -> None:
        """Apply the pending :meth:`refresh_session` calls now, as row-level changes."""
        self._coalesce.stop()
        pending, self._pending = self._pending, set()
        if not pending:
            return
        if len(pending) > FULL_REFRESH_ABOVE:
            self.refresh()
            return
        ids = sorted(pending)
        fresh = view.rows_of(ids)
        if any(r[WORKER] is not None and r[WORKER] not in self._workers for r in fresh.values()):
            self._load_workers()
        queue_touched = False
        for sid in ids:
            row = fresh.get(sid)
            old = self._where.get(sid)
            queue_touched |= Group.QUEUED in (old, None if row is None else group_of(row))
            self._apply_row(sid, row)
        if queue_touched:
            # A session entering or leaving the queue shifts every later position.
            self._reload_queue_positions()
        self._update_ticker()

    def _apply_row(self, sid: str, row: Row | None) -> None:
        old = self._where.get(sid)
        new = None if row is None else group_of(row)
        if old is not None and old == new and row is not None:
            rows_of = self._groups[old]
            i_all = next(i for i, r in enumerate(rows_of.all) if r[ID] == sid)
            before = rows_of.all[i_all]
            if _sort_key(old, before) == _sort_key(old, row):
                rows_of.all[i_all] = row
                shown = rows_of.shown_row(sid)
                visible = self._accepts(row)
                if shown is not None and visible:
                    rows_of.shown[shown] = row
                    if old not in self._collapsed:
                        flat_row = self._starts[old] + 1 + shown
                        self._flat[flat_row] = row
                        self.dataChanged.emit(
                            self.index(flat_row, 0), self.index(flat_row, N_COLUMNS - 1)
                        )
                    return
                if shown is None and not visible:
                    return
            # The order or the visibility changed: take it out and put it back in place.
        if old is not None:
            self._remove_row(old, sid)
        if row is not None and new is not None:
            self._insert_row(new, row)

    def _remove_row(self, group: Group, sid: str) -> None:
        rows_of = self._groups[group]
        rows_of.all = [r for r in rows_of.all if r[ID] != sid]
        shown = rows_of.shown_row(sid)
        if shown is not None:
            if group in self._collapsed:
                del rows_of.shown[shown]
                rows_of.changed()
            else:
                at = self._starts[group] + 1 + shown
                self.beginRemoveRows(ROOT, at, at)
                del rows_of.shown[shown]
                del self._flat[at]
                rows_of.changed()
                self._shift(group, -1)
                self.endRemoveRows()
            self._group_changed(group)
        self._where.pop(sid, None)

    def _insert_row(self, group: Group, row: Row) -> None:
        rows_of = self._groups[group]
        rows_of.all.insert(rows_of.insertion(rows_of.all, row), row)
        self._where[row[ID]] = group
        if not self._accepts(row):
            return
        i = rows_of.insertion(rows_of.shown, row)
        if group in self._collapsed:
            rows_of.shown.insert(i, row)
            rows_of.changed()
        else:
            at = self._starts[group] + 1 + i
            self.beginInsertRows(ROOT, at, at)
            rows_of.shown.insert(i, row)
            self._flat.insert(at, row)
            rows_of.changed()
            self._shift(group, 1)
            self.endInsertRows()
        self._group_changed(group)

    def _group_changed(self, group: Group) -> None:
        index = self.index(self._starts[group], 0)
        self.dataChanged.emit(index, index)

    def _reload_queue_positions(self) -> None:
        """Re-read the queue order and rearrange the Queued rows without resetting the view."""
        positions = view.queue_positions()
        rows_of = self._groups[Group.QUEUED]
        if set(positions) != {r[ID] for r in rows_of.all}:
            self.refresh()  # someone else changed the queue meanwhile
            return
        if all(positions[r[ID]] == r[POSITION] for r in rows_of.all):
            return
        self.layoutAboutToBeChanged.emit()
        old_ids = [r[ID] for r in rows_of.shown]
        fix = POSITION
        rows_of.all = sorted(
            ((*r[:fix], positions[r[ID]], *r[fix + 1 :]) for r in rows_of.all),
            key=lambda r: r[POSITION],
        )
        rows_of.shown = self._apply_filter(rows_of.all)
        rows_of.changed()
        if Group.QUEUED not in self._collapsed:
            first = self._starts[Group.QUEUED] + 1
            self._flat[first : first + len(old_ids)] = rows_of.shown
            new_row = {r[ID]: i for i, r in enumerate(rows_of.shown)}
            for persistent in self.persistentIndexList():
                old_row = persistent.row() - first
                if 0 <= old_row < len(old_ids):
                    target = first + new_row[old_ids[old_row]]
                    self.changePersistentIndex(
                        persistent, self.createIndex(target, persistent.column())
                    )
        self.layoutChanged.emit()

    # -- collapsing --------------------------------------------------------------------------

    def is_collapsed(self, group: Group) -> bool:
        return group in self._collapsed

    def set_collapsed(self, group: Group, collapsed: bool) -> None:
        """Hide (or show again) the session rows of ``group``; its header row stays."""
        group = Group(group)
        if collapsed == (group in self._collapsed):
            return
        n = len(self._groups[group].shown)
        first = self._starts[group] + 1
        if collapsed:
            if n:
                self.beginRemoveRows(ROOT, first, first + n - 1)
            self._collapsed.add(group)
            if n:
                del self._flat[first : first + n]
                self._shift(group, -n)
                self.endRemoveRows()
        else:
            if n:
                self.beginInsertRows(ROOT, first, first + n - 1)
            self._collapsed.discard(group)
            if n:
                self._flat[first:first] = self._groups[group].shown
                self._shift(group, n)
                self.endInsertRows()
        self._group_changed(group)
        self._update_ticker()
        self.groupToggled.emit(int(group), collapsed)

    def toggle_group(self, group: Group) -> None:
        self.set_collapsed(group, group not in self._collapsed)

    # -- filtering ---------------------------------------------------------------------------

    @property
    def filter_text(self) -> str:
        return self._filter

    def _haystack(self, row: Row) -> str:
        # Keyed by the row tuple itself: a re-read row (new title or folder) gets a new entry.
        hay = self._hay.get(row)
        if hay is None:
            hay = self._hay[row] = view.haystack(row)
        return hay

    def _accepts(self, row: Row) -> bool:
        return not self._filter or self._filter in self._haystack(row)

    def _apply_filter(self, rows: list[Row]) -> list[Row]:
        if not self._filter:
            return list(rows)
        needle = self._filter
        hay = self._hay
        if len(hay) > 4 * len(self._where) + 1000:  # drop entries of rows long gone
            hay.clear()
        get = self._haystack
        return [r for r in rows if needle in (hay.get(r) or get(r))]

    def set_filter(self, text: str) -> None:
        """Show only sessions whose title or working directory contains ``text`` (any case)."""
        needle = text.strip().casefold()
        if needle == self._filter:
            return
        narrowing = bool(self._filter) and needle.startswith(self._filter)
        self._filter = needle
        # Typing more letters only narrows: search what is shown, not everything.
        shown = [
            self._apply_filter(rows_of.shown if narrowing else rows_of.all)
            for rows_of in self._groups
        ]
        if not all(_same(r.shown, s) for r, s in zip(self._groups, shown, strict=True)):
            self._swap(None, shown)
        self._update_ticker()
        self.filterChanged.emit(text)

    # -- ticking -----------------------------------------------------------------------------

    def _update_ticker(self) -> None:
        running = self._visible(Group.ACTIVE) or self._visible(Group.NEEDS_INPUT)
        if running and not self._ticker.isActive():
            self._ticker.start()
        elif not running and self._ticker.isActive():
            self._ticker.stop()

    def _tick(self) -> None:
        for g in (Group.NEEDS_INPUT, Group.ACTIVE):
            n = self._visible(g)
            if n:
                first = self._starts[g] + 1
                self.dataChanged.emit(
                    self.index(first, Column.ELAPSED),
                    self.index(first + n - 1, Column.ELAPSED),
                    [Qt.ItemDataRole.DisplayRole],
                )

    # -- lookups -----------------------------------------------------------------------------

    def group_count(self, group: Group) -> int:
        """Sessions shown in ``group`` (after the filter; collapsed or not)."""
        return len(self._groups[group].shown)

    def total_count(self, group: Group) -> int:
        return len(self._groups[group].all)

    def session_ids(self, group: Group) -> list[str]:
        """The ids of the sessions shown in ``group`` (after the filter; collapsed or not)."""
        return [r[ID] for r in self._groups[group].shown]

    def group_row(self, group: Group) -> int:
        """The row of ``group``'s header."""
        return self._starts[group]

    def group_index(self, group: Group, column: int = 0) -> QModelIndex:
        """The index of ``group``'s header row.

        As a drop target (``parent``) it reads ``row`` as a row within the group, as in a tree:
        ``dropMimeData(data, MoveAction, 0, 0, group_index(Group.QUEUED))`` moves to the top.
        """
        return self.createIndex(self._starts[group], column)

    def group_at(self, index: ModelIndex) -> Group | None:
        """The group whose header row ``index`` is, or None (a session row, or invalid)."""
        if not index.isValid():
            return None
        r = index.row()
        item = self._flat[r] if 0 <= r < len(self._flat) else None
        return item if isinstance(item, Group) else None

    def index_of(self, session_id: str, column: int = 0) -> QModelIndex:
        """The index of a shown session (not in a collapsed group), or an invalid index."""
        group = self._where.get(session_id)
        if group is None or group in self._collapsed:
            return QModelIndex()
        row = self._groups[group].shown_row(session_id)
        if row is None:
            return QModelIndex()
        return self.createIndex(self._starts[group] + 1 + row, column)

    def group_of_session(self, session_id: str) -> Group | None:
        return self._where.get(session_id)

    def row_of(self, index: ModelIndex) -> Row | None:
        if not index.isValid():
            return None
        r = index.row()
        item = self._flat[r] if 0 <= r < len(self._flat) else None
        return item if type(item) is tuple else None

    # -- the model interface -----------------------------------------------------------------

    def index(self, row: int, column: int, parent: ModelIndex = ROOT) -> QModelIndex:
        # Overridden: the base class would ask rowCount() and columnCount() for every index.
        if 0 <= row < len(self._flat) and 0 <= column < N_COLUMNS and not parent.isValid():
            return self.createIndex(row, column)
        return QModelIndex()

    def rowCount(self, parent: ModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else len(self._flat)

    def columnCount(self, parent: ModelIndex = ROOT) -> int:
        return 0 if parent.isValid() else N_COLUMNS

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMN_LABELS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # The delegate asks about a dozen roles per painted cell; most are answered here.
        if role not in HANDLED_ROLES:
            return None
        r = index.row()
        if not 0 <= r < len(self._flat) or not index.isValid():
            return None
        item = self._flat[r]
        if type(item) is tuple:
            return self._session_data(item, group_of(item), index.column(), role)
        return self._group_data(item, index.column(), role)

    def _group_data(self, group: Group, column: int, role: int) -> Any:
        if role == DISPLAY:
            if column != 0:
                return None
            shown, total = len(self._groups[group].shown), len(self._groups[group].all)
            count = f"{shown}" if shown == total else f"{shown} of {total}"
            return f"{GROUP_LABELS[group]}  ({count})"
        if role == DECORATION:
            return self._arrows[group not in self._collapsed] if column == 0 else None
        if role == FONT:
            return self._group_font
        if role == FOREGROUND and not self._groups[group].shown:
            return self._dim
        if role == BACKGROUND:
            return self._group_background
        if role == GroupRole:
            return int(group)
        if role == IsGroupRole:
            return True
        if role == TOOLTIP:
            verb = "expand" if group in self._collapsed else "collapse"
            return f"Click or press Enter to {verb} {GROUP_LABELS[group]}"
        return None

    def _state_text(self, row: Row) -> str:
        if row[STATUS] == "active" and row[NEEDS]:
            return "needs input"
        if row[STATUS] == "queued" and row[POSITION] is not None:
            return f"queued #{row[POSITION]}"
        return str(row[STATUS])

    def _elapsed(self, row: Row) -> str:
        started = row[STARTED]
        if not started or row[STATUS] == "queued":
            return ""
        try:
            start = _epoch(started)
            end = _epoch(row[COMPLETED]) if row[COMPLETED] else self._now()
        except ValueError:
            return ""
        return format_elapsed(end - start)

    def _session_data(self, row: Row, group: Group, column: int, role: int) -> Any:
        if role == DISPLAY:
            if column == Column.TITLE:
                return row[TITLE] or "(untitled)"
            if column == Column.WORKER:
                return self._workers.get(row[WORKER], "any") if row[WORKER] else "any"
            if column == Column.STATE:
                return self._state_text(row)
            if column == Column.ELAPSED:
                return self._elapsed(row)
            if column == Column.CONTINUATIONS:
                return str(row[CONT]) if row[CONT] else ""
            return None
        if role == DECORATION:
            if column == Column.TITLE:
                if group is Group.NEEDS_INPUT:
                    return self._needs_icon
                return self._icons.get(str(row[STATUS]))
            if column == Column.WORKER and self._worker_down(row):
                return self._worker_down_icon
            if column == Column.PINNED and row[LOCK]:
                return self._pin
            return None
        if role == SessionIdRole:
            return row[ID]
        if role == StatusRole:
            return row[STATUS]
        if role == NeedsInputRole:
            return bool(row[NEEDS]) and row[STATUS] == "active"
        if role == PinnedRole:
            return bool(row[LOCK])
        if role == GroupRole:
            return int(group)
        if role == ClaudeSessionIdRole:
            return row[CLAUDE_ID]
        if role == WorkingDirectoryRole:
            return row[WD]
        if role == IsGroupRole:
            return False
        if role == TOOLTIP:
            lines = [row[TITLE] or "(untitled)", row[WD], f"state: {self._state_text(row)}"]
            if row[WORKER] is not None:
                name = self._workers.get(row[WORKER], "?")
                status = self._worker_status.get(row[WORKER], "connected")
                if status != "connected" and row[STATUS] == "active":
                    status = f"{status}: reconnecting"
                lines.append(f"worker: {name}" + ("" if status == "connected" else f" ({status})"))
            if row[STATUS] == "queued":
                # Asked only when the pointer rests on the row: one look at the queue.
                reason = waiting.wait_reason(str(row[ID]))
                if reason:
                    lines.append(f"waiting: {reason}")
            if row[CLAUDE_ID]:
                lines.append(f"Claude session: {row[CLAUDE_ID]}")
                spent = usage_view.queue_tooltip_line(str(row[ID]))  # read on hover only
                if spent:
                    lines.append(spent)
            tree = worktree_views.worktree(str(row[ID]))  # asked only on hover, like waiting
            if tree is not None:
                lines.append(
                    f"worktree: {tree.branch}" + (f" from {tree.base}" if tree.base else "")
                )
            return "\n".join(lines)
        if role == FOREGROUND and column == Column.WORKER and self._worker_down(row):
            return self._worker_down_brush
        if role == FOREGROUND and column == Column.STATE:
            colour = STATE_COLOURS.get(self._state_text(row).split(" #")[0])
            return QBrush(colour) if colour is not None else None
        if role == ALIGNMENT and column in (
            Column.ELAPSED,
            Column.CONTINUATIONS,
        ):
            return RIGHT_ALIGNED
        if role == SIZE_HINT and column == Column.PINNED:
            return QSize(24, 0)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        # Asked for every painted cell: plain comparisons only.
        if not index.isValid():
            return ROOT_FLAGS
        r = index.row()
        if not 0 <= r < len(self._flat):
            return NO_FLAGS
        item = self._flat[r]
        if type(item) is tuple:
            return QUEUED_ROW_FLAGS if item[STATUS] == "queued" else ROW_FLAGS
        return QUEUED_GROUP_FLAGS if item is Group.QUEUED else GROUP_FLAGS

    # -- drag and drop -----------------------------------------------------------------------

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [MIME_TYPE]

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        """The ids of the dragged queued sessions (rows of other groups are left out)."""
        ids: list[str] = []
        for index in indexes:
            row = self.row_of(index)
            if row is not None and row[STATUS] == "queued" and row[ID] not in ids:
                ids.append(row[ID])
        mime = QMimeData()
        mime.setData(MIME_TYPE, QByteArray(json.dumps(ids).encode()))
        return mime

    @staticmethod
    def _ids_from(data: QMimeData) -> list[str]:
        if not data.hasFormat(MIME_TYPE):
            return []
        try:
            ids = json.loads(bytes(data.data(MIME_TYPE).data()).decode())
        except (ValueError, UnicodeDecodeError):
            return []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return []
        return ids

    def _drop_target(self, row: int, parent: ModelIndex) -> int | None:
        """The shown row in Queued a drop lands before (``len`` = the end), or None if refused.

        ``parent`` invalid: ``row`` is a table row, the drop goes before it (between the queued
        rows, or just after the last one). ``parent`` the Queued header: ``row`` counts within
        the group (-1: onto the header = to the top). ``parent`` a queued row: take its place.
        """
        n = len(self._groups[Group.QUEUED].shown)
        header = self._starts[Group.QUEUED]
        if not parent.isValid():
            if row < 0 or Group.QUEUED in self._collapsed:
                return None
            return row - header - 1 if header < row <= header + 1 + n else None
        if self.group_at(parent) is Group.QUEUED:
            return 0 if row < 0 else min(row, n)
        item = self.row_of(parent)
        if item is None or group_of(item) is not Group.QUEUED:
            return None
        return parent.row() - header - 1

    def canDropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: ModelIndex,
    ) -> bool:
        if action not in (Qt.DropAction.MoveAction, Qt.DropAction.IgnoreAction):
            return False
        ids = self._ids_from(data)
        if len(ids) != 1 or self._where.get(ids[0]) is not Group.QUEUED:
            return False
        return self._drop_target(row, parent) is not None

    def dropMimeData(
        self,
        data: QMimeData,
        action: Qt.DropAction,
        row: int,
        column: int,
        parent: ModelIndex,
    ) -> bool:
        """Move the dropped queued session in the database at once, then show the new order."""
        if action == Qt.DropAction.IgnoreAction:
            return True
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        target = self._drop_target(row, parent)
        assert target is not None
        sid = self._ids_from(data)[0]
        position = self._new_position(sid, target)
        if position is None:
            return False
        try:
            sess.move_session(sid, position)
        except C3Error as exc:
            self.moveFailed.emit(str(exc))
            self.refresh()
            return False
        self._reload_queue_positions()
        return True

    def _new_position(self, sid: str, target: int) -> int | None:
        """The queue position (1-based, whole queue) that puts ``sid`` before shown row ``target``.

        With a filter only some rows are shown: the position is that of the shown neighbour.
        """
        shown = self._groups[Group.QUEUED].shown
        mine = next((r[POSITION] for r in shown if r[ID] == sid), None)
        if mine is None:
            mine = next((r[POSITION] for r in self._groups[Group.QUEUED].all if r[ID] == sid), None)
        if mine is None:
            return None
        if target < len(shown):
            before = shown[target][POSITION]
            return int(before if before <= mine else before - 1)
        last = shown[-1][POSITION] if shown else mine
        return int(last if last >= mine else last + 1)

    def move_to(self, session_id: str, position: int) -> bool:
        """Move a queued session to ``position`` (1-based) as a drop would; False if refused."""
        try:
            sess.move_session(session_id, position)
        except C3Error as exc:
            self.moveFailed.emit(str(exc))
            return False
        self._reload_queue_positions()
        return True
