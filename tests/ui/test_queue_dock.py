"""The queue dock and its model: grouping, collapsing, row refresh, drag and drop, filter, keys."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import QApplication, QHeaderView
from pytestqt.qtbot import QtBot

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.store.models import Session, Worker
from c3desk.ui.queue_dock import QueueDock
from c3desk.ui.queue_model import (
    MIME_TYPE,
    ClaudeSessionIdRole,
    Column,
    Group,
    GroupRole,
    IsGroupRole,
    NeedsInputRole,
    PinnedRole,
    QueueModel,
    SessionIdRole,
    StatusRole,
    format_elapsed,
)

NOW = 1_700_000_000.0

# The offscreen platform cannot pass a window's size constraints on; harmless here.
pytestmark = pytest.mark.qt_log_ignore(r"This plugin does not support propagateSizeHints")


def ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")


def add(
    title: str,
    status: str = "queued",
    *,
    wd: str = "/srv/project",
    needs: bool = False,
    lock: bool = False,
    cont: int = 0,
    started: float | None = None,
    completed: float | None = None,
    position: int | None = None,
    worker: str | None = None,
    claude_id: str | None = None,
) -> str:
    sid = str(uuid.uuid4())
    Session.insert(
        id=sid,
        title=title,
        status=status,
        working_directory=wd,
        needs_input=needs,
        lock=lock,
        continuation_count=cont,
        started_at=ts(started) if started else None,
        completed_at=ts(completed) if completed else None,
        position=position,
        worker=worker,
        claude_session_id=claude_id,
        created_at=ts(NOW - 10_000),
        updated_at=ts(completed or started or NOW - 10_000),
    ).execute()
    return sid


@pytest.fixture
def ids(db: Paths) -> dict[str, str]:
    """A queue with every state: two needing input, one running, three queued, two finished."""
    local = Worker.get(Worker.type == "local").id
    return {
        "ask": add("Answer me", "active", needs=True, started=NOW - 120, worker=local),
        "ask2": add("Also asking", "active", needs=True, started=NOW - 60, worker=local),
        "run": add(
            "Running", "active", started=NOW - 3725, worker=local, cont=2, claude_id="claude-run"
        ),
        "q1": add("First queued", position=1, wd="/srv/alpha"),
        "q2": add("Second queued", position=2, wd="/srv/beta", lock=True),
        "q3": add("Third queued", position=3, wd="/srv/gamma"),
        "done": add(
            "Finished",
            "completed",
            started=NOW - 9000,
            completed=NOW - 7000,
            worker=local,
            claude_id="claude-done",
        ),
        "bad": add("Broken", "failed", started=NOW - 500, completed=NOW - 490, worker=local),
    }


@pytest.fixture
def model(ids: dict[str, str], qtbot: QtBot) -> Iterator[QueueModel]:
    m = QueueModel(now=lambda: NOW, coalesce_ms=10)
    m.refresh()
    yield m
    m.deleteLater()


@pytest.fixture
def dock(model: QueueModel, qtbot: QtBot) -> QueueDock:
    d = QueueDock(model)
    qtbot.addWidget(d)
    d.resize(700, 500)
    return d


def shown(model: QueueModel, group: Group) -> list[str]:
    return model.session_ids(group)


def queued_in_db() -> list[str]:
    return [s.id for s in sess.list_sessions("queued")]


def cell(
    model: QueueModel, sid: str, column: Column, role: int = Qt.ItemDataRole.DisplayRole
) -> Any:
    return model.index_of(sid, column).data(role)


def table(model: QueueModel) -> list[Group | str]:
    """The model's rows as the view shows them: a Group per header row, an id per session row."""
    rows: list[Group | str] = []
    for r in range(model.rowCount()):
        index = model.index(r, 0)
        if index.data(IsGroupRole):
            rows.append(Group(index.data(GroupRole)))
        else:
            rows.append(index.data(SessionIdRole))
    return rows


# -- grouping and data -------------------------------------------------------------------------


def test_sessions_are_grouped_needs_input_apart_from_active(
    model: QueueModel, ids: dict[str, str]
) -> None:
    labels = [model.group_index(g).data() for g in Group]
    assert labels == [
        "Needs input  (2)",
        "Active  (1)",
        "Queued  (3)",
        "Completed  (1)",
        "Failed  (1)",
    ]
    assert shown(model, Group.NEEDS_INPUT) == [ids["ask2"], ids["ask"]]  # newest first
    assert shown(model, Group.ACTIVE) == [ids["run"]]
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"], ids["q3"]]
    assert shown(model, Group.COMPLETED) == [ids["done"]]
    assert shown(model, Group.FAILED) == [ids["bad"]]
    # One flat table: each group's header row, then its sessions.
    assert table(model) == [
        Group.NEEDS_INPUT,
        ids["ask2"],
        ids["ask"],
        Group.ACTIVE,
        ids["run"],
        Group.QUEUED,
        ids["q1"],
        ids["q2"],
        ids["q3"],
        Group.COMPLETED,
        ids["done"],
        Group.FAILED,
        ids["bad"],
    ]
    for g in Group:
        assert model.group_index(g).row() == model.group_row(g) == table(model).index(g)
        assert model.rowCount(model.group_index(g)) == 0  # a table: no children


def test_row_data_and_roles(model: QueueModel, ids: dict[str, str]) -> None:
    run = ids["run"]
    assert cell(model, run, Column.TITLE) == "Running"
    assert cell(model, run, Column.WORKER) == Worker.get(Worker.type == "local").name
    assert cell(model, run, Column.STATE) == "active"
    assert cell(model, run, Column.ELAPSED) == "1h 02m"
    assert cell(model, run, Column.CONTINUATIONS) == "2"
    assert cell(model, run, Column.TITLE, SessionIdRole) == run
    assert cell(model, run, Column.TITLE, StatusRole) == "active"
    assert cell(model, run, Column.TITLE, NeedsInputRole) is False
    assert cell(model, run, Column.TITLE, ClaudeSessionIdRole) == "claude-run"
    ask = ids["ask"]
    assert cell(model, ask, Column.TITLE, NeedsInputRole) is True
    assert cell(model, ask, Column.STATE) == "needs input"
    assert cell(model, ask, Column.TITLE, Qt.ItemDataRole.DecorationRole) is not None
    # Finished sessions show how long they ran; queued ones their place and no time.
    assert cell(model, ids["done"], Column.ELAPSED) == "33m 20s"
    assert cell(model, ids["q2"], Column.STATE) == "queued #2"
    assert cell(model, ids["q2"], Column.ELAPSED) == ""
    assert cell(model, ids["q2"], Column.WORKER) == "any"
    # The pin mark.
    assert cell(model, ids["q2"], Column.TITLE, PinnedRole) is True
    assert cell(model, ids["q2"], Column.PINNED, Qt.ItemDataRole.DecorationRole) is not None
    assert cell(model, ids["q1"], Column.PINNED, Qt.ItemDataRole.DecorationRole) is None
    # Group rows carry no session.
    assert model.group_index(Group.QUEUED).data(SessionIdRole) is None
    assert model.group_index(Group.QUEUED).data(IsGroupRole) is True
    assert cell(model, run, Column.TITLE, IsGroupRole) is False


def test_elapsed_format() -> None:
    assert format_elapsed(-3) == "0s"
    assert format_elapsed(59) == "59s"
    assert format_elapsed(61) == "1m 01s"
    assert format_elapsed(3600 * 5 + 61) == "5h 01m"
    assert format_elapsed(86400 * 2 + 3600 * 3) == "2d 3h"


def test_running_rows_tick_every_second(ids: dict[str, str], qtbot: QtBot) -> None:
    clock = [NOW]
    m = QueueModel(now=lambda: clock[0], tick_ms=20)
    m.refresh()
    assert cell(m, ids["run"], Column.ELAPSED) == "1h 02m"
    clock[0] += 120
    with qtbot.waitSignal(m.dataChanged, timeout=2000) as blocker:
        pass
    top, bottom = blocker.args[0], blocker.args[1]
    assert top.column() == bottom.column() == Column.ELAPSED
    assert cell(m, ids["run"], Column.ELAPSED) == "1h 04m"


def test_refresh_session_updates_one_row_in_place(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.select_session(ids["run"])
    changes: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, *_: changes.append((a.row(), b.row())))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    Session.update(title="Renamed").where(Session.id == ids["run"]).execute()
    for _ in range(5):  # engine events come in bursts; they are applied once
        model.refresh_session(ids["run"])
    qtbot.waitUntil(lambda: cell(model, ids["run"], Column.TITLE) == "Renamed", timeout=2000)
    row = model.index_of(ids["run"]).row()
    assert changes == [(row, row)]
    assert not resets
    assert dock.current_session_id() == ids["run"]


def test_refresh_session_moves_rows_between_groups(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.select_session(ids["q3"])
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    # The first queued session starts; it then asks for input; another finishes.
    sess.transition(ids["q1"], "active")
    model.refresh_session(ids["q1"])
    model.flush()
    assert shown(model, Group.QUEUED) == [ids["q2"], ids["q3"]]
    assert shown(model, Group.ACTIVE)[0] == ids["q1"]
    assert cell(model, ids["q3"], Column.STATE) == "queued #2"  # positions re-read
    Session.update(needs_input=True, updated_at=ts(NOW + 5)).where(
        Session.id == ids["q1"]
    ).execute()
    model.refresh_session(ids["q1"])
    sess.transition(ids["run"], "completed")
    model.refresh_session(ids["run"])
    model.flush()
    assert shown(model, Group.NEEDS_INPUT)[0] == ids["q1"]
    assert ids["q1"] not in shown(model, Group.ACTIVE)
    assert shown(model, Group.COMPLETED)[0] == ids["run"]  # newest first
    assert model.group_index(Group.NEEDS_INPUT).data() == "Needs input  (3)"
    # A new session appears, a removed one disappears.
    new = add("Brand new", position=3)
    model.refresh_session(new)
    sess.remove_session(ids["bad"])
    model.refresh_session(ids["bad"])
    model.flush()
    assert shown(model, Group.QUEUED) == [ids["q2"], ids["q3"], new]
    assert shown(model, Group.FAILED) == []
    assert not resets
    assert dock.current_session_id() == ids["q3"]


# -- drag and drop -----------------------------------------------------------------------------


def drag(model: QueueModel, sid: str) -> QMimeData:
    return model.mimeData([model.index_of(sid)])


def test_drop_reorders_the_queue_in_the_database(
    model: QueueModel, ids: dict[str, str], cli: Any
) -> None:
    queued = model.group_index(Group.QUEUED)
    # Drag the third to the top (before row 0 of the group).
    assert model.dropMimeData(drag(model, ids["q3"]), Qt.DropAction.MoveAction, 0, 0, queued)
    expected = [ids["q3"], ids["q1"], ids["q2"]]
    assert queued_in_db() == expected
    assert shown(model, Group.QUEUED) == expected
    # Drag the (new) first to the end.
    n = model.group_count(Group.QUEUED)
    assert model.dropMimeData(drag(model, ids["q3"]), Qt.DropAction.MoveAction, n, 0, queued)
    expected = [ids["q1"], ids["q2"], ids["q3"]]
    assert queued_in_db() == expected
    # Dropped onto a row: takes that row's place.
    target = model.index_of(ids["q1"])
    assert model.dropMimeData(drag(model, ids["q2"]), Qt.DropAction.MoveAction, -1, -1, target)
    expected = [ids["q2"], ids["q1"], ids["q3"]]
    assert queued_in_db() == expected
    assert [cell(model, s, Column.STATE) for s in expected] == [
        "queued #1",
        "queued #2",
        "queued #3",
    ]
    # `c3desk list` sees the new order.
    listed = [s["id"] for s in cli("list", "--json", check=True).json() if s["status"] == "queued"]
    assert listed == expected


def test_drop_keeps_selection_on_the_moved_row(
    dock: QueueDock, model: QueueModel, ids: dict[str, str]
) -> None:
    dock.select_session(ids["q1"])
    queued = model.group_index(Group.QUEUED)
    assert model.dropMimeData(drag(model, ids["q1"]), Qt.DropAction.MoveAction, 3, 0, queued)
    assert dock.current_session_id() == ids["q1"]
    assert dock.view.currentIndex().row() == model.group_row(Group.QUEUED) + 3


def test_drop_between_table_rows(model: QueueModel, ids: dict[str, str]) -> None:
    """What the view passes for a drop between rows: a table row and no parent."""
    header = model.group_row(Group.QUEUED)
    move, root = Qt.DropAction.MoveAction, QModelIndex()
    # Just below the Queued header (above the first queued row): to the top.
    assert model.dropMimeData(drag(model, ids["q3"]), move, header + 1, 0, root)
    assert queued_in_db() == [ids["q3"], ids["q1"], ids["q2"]]
    # Between the second and the third.
    assert model.dropMimeData(drag(model, ids["q3"]), move, header + 3, 0, root)
    assert queued_in_db() == [ids["q1"], ids["q3"], ids["q2"]]
    # Below the last queued row (above the Completed header): to the end.
    assert model.dropMimeData(drag(model, ids["q1"]), move, header + 4, 0, root)
    assert queued_in_db() == [ids["q3"], ids["q2"], ids["q1"]]
    assert shown(model, Group.QUEUED) == [ids["q3"], ids["q2"], ids["q1"]]
    assert table(model)[header + 1 : header + 4] == [ids["q3"], ids["q2"], ids["q1"]]


def test_only_queued_rows_drag_and_only_into_the_queue(
    model: QueueModel, ids: dict[str, str]
) -> None:
    flags = model.flags(model.index_of(ids["q1"]))
    assert flags & Qt.ItemFlag.ItemIsDragEnabled
    for key in ("ask", "run", "done", "bad"):
        assert not model.flags(model.index_of(ids[key])) & Qt.ItemFlag.ItemIsDragEnabled
    before = queued_in_db()
    queued = model.group_index(Group.QUEUED)
    move = Qt.DropAction.MoveAction
    # A running session's row carries nothing to drop.
    data = drag(model, ids["run"])
    assert not model.canDropMimeData(data, move, 0, 0, queued)
    assert not model.dropMimeData(data, move, 0, 0, queued)
    # A queued row dropped into another group, between groups or on a finished row.
    data = drag(model, ids["q3"])
    header = model.group_row(Group.QUEUED)
    for row, parent in (
        (0, model.group_index(Group.COMPLETED)),
        (1, QModelIndex()),  # between the rows needing input
        (header, QModelIndex()),  # above the Queued header: the end of Active
        (header + 5, QModelIndex()),  # below the first completed row
        (-1, QModelIndex()),  # onto empty space
        (-1, model.index_of(ids["done"])),
        (0, model.group_index(Group.ACTIVE)),
    ):
        assert not model.canDropMimeData(data, move, row, 0, parent)
        assert not model.dropMimeData(data, move, row, 0, parent)
    # Foreign data, or a copy.
    foreign = QMimeData()
    foreign.setText(ids["q3"])
    assert not model.dropMimeData(foreign, move, 0, 0, queued)
    assert not model.dropMimeData(data, Qt.DropAction.CopyAction, 0, 0, queued)
    assert queued_in_db() == before


def test_refused_move_is_reported_and_the_view_resynced(
    model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    data = drag(model, ids["q3"])
    sess.transition(ids["q3"], "active")  # started meanwhile, the model not yet told
    with qtbot.waitSignal(model.moveFailed, timeout=1000) as blocker:
        assert not model.dropMimeData(
            data, Qt.DropAction.MoveAction, 0, 0, model.group_index(Group.QUEUED)
        )
    assert "only queued sessions move" in blocker.args[0]
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"]]


def test_drop_with_a_filter_uses_the_neighbours_positions(
    model: QueueModel, ids: dict[str, str]
) -> None:
    model.set_filter("queued")  # all three; then narrow to two
    model.set_filter("/srv/")
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"], ids["q3"]]
    model.set_filter("i")  # "First queued", "Third queued"; "Second" hidden
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q3"]]
    queued = model.group_index(Group.QUEUED)
    assert model.dropMimeData(drag(model, ids["q3"]), Qt.DropAction.MoveAction, 0, 0, queued)
    assert queued_in_db() == [ids["q3"], ids["q1"], ids["q2"]]
    assert shown(model, Group.QUEUED) == [ids["q3"], ids["q1"]]


def _drop_on_view(dock: QueueDock, data: QMimeData, point: QPoint) -> bool:
    """Enter, move and drop as a drag does (without QDrag's own event loop); True if accepted."""
    viewport = dock.view.viewport()
    move = Qt.DropAction.MoveAction
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for kind in (QDragEnterEvent, QDragMoveEvent):
        QApplication.sendEvent(viewport, kind(point, move, data, left, none))
    drop = QDropEvent(QPointF(point), move, data, left, none)
    QApplication.sendEvent(viewport, drop)
    return drop.isAccepted()


def test_drop_through_the_view(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.show()
    qtbot.waitExposed(dock)
    view = dock.view
    # Drop the third queued row on the upper edge of the first: it goes before it.
    top = view.visualRect(model.index_of(ids["q1"]))
    data = drag(model, ids["q3"])
    assert _drop_on_view(dock, data, QPoint(top.center().x(), top.top() + 1))
    assert queued_in_db() == [ids["q3"], ids["q1"], ids["q2"]]
    # Onto a completed row: refused, nothing moves.
    done = view.visualRect(model.index_of(ids["done"]))
    data = drag(model, ids["q3"])
    assert not _drop_on_view(dock, data, done.center())
    assert queued_in_db() == [ids["q3"], ids["q1"], ids["q2"]]
    # Below the last queued row: to the end.
    last = view.visualRect(model.index_of(ids["q2"]))
    data = drag(model, ids["q3"])
    assert _drop_on_view(dock, data, QPoint(last.center().x(), last.bottom()))
    assert queued_in_db() == [ids["q1"], ids["q2"], ids["q3"]]
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"], ids["q3"]]


def test_view_drag_starts_only_from_queued_rows(
    dock: QueueDock, model: QueueModel, ids: dict[str, str]
) -> None:
    assert dock.view.dragEnabled()
    payload = model.mimeData([model.index_of(ids["run"]), model.index_of(ids["q1"])])
    assert payload.hasFormat(MIME_TYPE)
    assert bytes(payload.data(MIME_TYPE).data()).decode() == f'["{ids["q1"]}"]'


# -- filter ------------------------------------------------------------------------------------


def test_filter_on_title_and_folder(
    dock: QueueDock, model: QueueModel, ids: dict[str, str]
) -> None:
    dock.filter_edit.setText("BETA")  # folder, any case
    assert shown(model, Group.QUEUED) == [ids["q2"]]
    assert sum(model.group_count(g) for g in Group) == 1
    assert model.group_index(Group.QUEUED).data() == "Queued  (1 of 3)"
    assert table(model) == [
        Group.NEEDS_INPUT,
        Group.ACTIVE,
        Group.QUEUED,
        ids["q2"],
        Group.COMPLETED,
        Group.FAILED,
    ]
    dock.filter_edit.setText("queued")  # title
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"], ids["q3"]]
    dock.filter_edit.setText("nothing like this")
    assert sum(model.group_count(g) for g in Group) == 0
    dock.filter_edit.clear()
    assert sum(model.group_count(g) for g in Group) == len(ids)
    # Groups stay expanded across the filter's resets, every header spanning the table.
    assert not any(model.is_collapsed(g) for g in Group)
    assert len(table(model)) == len(Group) + len(ids)
    for g in Group:
        assert dock.view.columnSpan(model.group_row(g), 0) == len(Column)


def test_clearing_the_filter_keeps_the_current_session(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.filter_edit.setText("beta")
    dock.select_session(ids["q2"])
    with qtbot.assertNotEmitted(dock.sessionSelected):  # the filter moved it, not the user
        dock.filter_edit.clear()
        dock.filter_edit.setText("queued")
    assert dock.current_session_id() == ids["q2"]
    assert dock.view.currentIndex().row() == model.index_of(ids["q2"]).row()
    dock.filter_edit.setText("nothing like this")
    assert dock.current_session_id() is None
    dock.filter_edit.clear()
    assert len(table(model)) == len(Group) + len(ids)


def test_filter_applies_to_rows_refreshed_later(model: QueueModel, ids: dict[str, str]) -> None:
    model.set_filter("alpha")
    assert shown(model, Group.QUEUED) == [ids["q1"]]
    Session.update(title="Now with alpha").where(Session.id == ids["q2"]).execute()
    Session.update(working_directory="/srv/elsewhere").where(Session.id == ids["q1"]).execute()
    model.refresh_session(ids["q1"])
    model.refresh_session(ids["q2"])
    model.flush()
    assert shown(model, Group.QUEUED) == [ids["q2"]]
    model.set_filter("")
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"], ids["q3"]]


def test_ten_thousand_sessions_load_and_filter(db: Paths) -> None:
    rows = [
        {
            "id": f"s{i:05}",
            "title": f"Task {i}",
            "status": "queued",
            "working_directory": f"/srv/p{i % 100}",
            "position": i + 1,
        }
        for i in range(10_000)
    ]
    with Session._meta.database.atomic():
        for start in range(0, len(rows), 500):
            Session.insert_many(rows[start : start + 500]).execute()
    m = QueueModel()
    m.refresh()
    assert m.group_count(Group.QUEUED) == 10_000
    m.set_filter("/srv/p7")  # p7 and p70..p79
    assert m.group_count(Group.QUEUED) == 1_100
    m.set_filter("task 9999")
    assert m.session_ids(Group.QUEUED) == ["s09999"]


# -- actions -----------------------------------------------------------------------------------

ENABLED = {
    "ask": {"kill", "pin", "open_folder", "artifacts"},
    "run": {"kill", "pin", "open_folder", "copy_id", "artifacts"},
    "q1": {"remove", "pin", "open_folder", "artifacts"},
    "done": {"continue", "remove", "pin", "open_folder", "copy_id", "artifacts"},
    "bad": {"retry", "remove", "pin", "open_folder", "artifacts"},
}


@pytest.mark.parametrize("key", sorted(ENABLED))
def test_actions_enabled_per_state(dock: QueueDock, ids: dict[str, str], key: str) -> None:
    assert dock.select_session(ids[key])
    enabled = {name for name, a in dock.actions_by_name.items() if a.isEnabled()}
    assert enabled == ENABLED[key]
    menu = dock.build_menu()
    assert {a.objectName() for a in menu.actions() if a.isEnabled() and not a.isSeparator()} == {
        f"queue_{n}" for n in ENABLED[key]
    }


def test_nothing_enabled_on_a_group_row(dock: QueueDock, model: QueueModel) -> None:
    dock.view.setCurrentIndex(model.group_index(Group.QUEUED))
    assert not any(a.isEnabled() for a in dock.actions_by_name.values())


def test_actions_emit_signals(dock: QueueDock, ids: dict[str, str], qtbot: QtBot) -> None:
    a = dock.actions_by_name
    cases = [
        ("done", "continue", dock.continueRequested),
        ("bad", "retry", dock.retryRequested),
        ("run", "kill", dock.killRequested),
        ("q1", "remove", dock.removeRequested),
        ("q1", "open_folder", dock.openFolderRequested),
        ("run", "artifacts", dock.artifactsRequested),
    ]
    for key, name, signal in cases:
        dock.select_session(ids[key])
        with qtbot.waitSignal(signal, timeout=1000) as blocker:
            a[name].trigger()
        assert blocker.args == [ids[key]]
    dock.select_session(ids["q2"])  # pinned
    assert a["pin"].text().replace("&", "") == "Unpin"
    with qtbot.waitSignal(dock.pinRequested, timeout=1000) as blocker:
        a["pin"].trigger()
    assert blocker.args == [ids["q2"], False]
    dock.select_session(ids["q1"])
    assert a["pin"].text().replace("&", "") == "Pin"
    with qtbot.waitSignal(dock.pinRequested, timeout=1000) as blocker:
        a["pin"].trigger()
    assert blocker.args == [ids["q1"], True]


def test_copy_claude_session_id(dock: QueueDock, ids: dict[str, str]) -> None:
    dock.select_session(ids["done"])
    dock.actions_by_name["copy_id"].trigger()
    assert QGuiApplication.clipboard().text() == "claude-done"


def test_state_change_updates_enabled_actions(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.select_session(ids["run"])
    assert dock.actions_by_name["kill"].isEnabled()
    sess.transition(ids["run"], "completed")
    model.refresh_session(ids["run"])
    with qtbot.assertNotEmitted(dock.sessionSelected):  # the model moved it, not the user
        model.flush()
    assert dock.current_session_id() == ids["run"]
    assert not dock.actions_by_name["kill"].isEnabled()
    assert dock.actions_by_name["continue"].isEnabled()


def test_keys_trigger_actions(dock: QueueDock, ids: dict[str, str], qtbot: QtBot) -> None:
    dock.show()
    qtbot.waitExposed(dock)
    dock.activateWindow()
    dock.view.setFocus()
    qtbot.waitUntil(dock.view.hasFocus, timeout=2000)
    dock.select_session(ids["q1"])
    with qtbot.waitSignal(dock.removeRequested, timeout=1000) as blocker:
        qtbot.keyClick(dock.view, Qt.Key.Key_Delete)
    assert blocker.args == [ids["q1"]]
    dock.select_session(ids["run"])
    with qtbot.waitSignal(dock.killRequested, timeout=1000) as blocker:
        qtbot.keyClick(
            dock.view,
            Qt.Key.Key_K,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    assert blocker.args == [ids["run"]]


def test_selection_and_activation_emit_session_selected(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    with qtbot.waitSignal(dock.sessionSelected, timeout=1000) as blocker:
        dock.view.setCurrentIndex(model.index_of(ids["ask"]))
    assert blocker.args == [ids["ask"]]
    with qtbot.waitSignal(dock.sessionSelected, timeout=1000) as blocker:
        dock.view.activated.emit(model.index_of(ids["ask"]))
    assert blocker.args == [ids["ask"]]
    # Programmatic selection (the window revealing a session) does not echo back.
    with qtbot.assertNotEmitted(dock.sessionSelected):
        dock.select_session(ids["run"])


@pytest.mark.qt_log_ignore(r"This plugin does not support (raise|grabbing|propagateSizeHints)")
def test_context_menu_pops_up_for_a_session_row(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.show()
    qtbot.waitExposed(dock)
    rect = dock.view.visualRect(model.index_of(ids["done"]))
    dock.view.customContextMenuRequested.emit(rect.center())
    menu = dock.findChild(type(dock.build_menu()), "queueMenu")
    assert menu is not None
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    assert dock.current_session_id() == ids["done"]
    menu.close()


def test_dock_identity(dock: QueueDock) -> None:
    assert dock.objectName() == "queueDock"
    assert dock.filter_edit.placeholderText()


# -- collapsing groups ---------------------------------------------------------------------------


def _header_point(dock: QueueDock, group: Group) -> QPoint:
    return dock.view.visualRect(dock.group_index(group)).center()


def test_group_rows_collapse_on_click(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.show()
    qtbot.waitExposed(dock)
    viewport = dock.view.viewport()
    expanded_icon = model.group_index(Group.QUEUED).data(Qt.ItemDataRole.DecorationRole)
    with qtbot.assertNotEmitted(dock.sessionSelected):
        qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_header_point(dock, Group.QUEUED))
    assert model.is_collapsed(Group.QUEUED)
    assert not {ids["q1"], ids["q2"], ids["q3"]} & set(table(model))
    assert model.index_of(ids["q1"]).isValid() is False
    # The header stays, with its count; the groups after it move up.
    assert model.group_index(Group.QUEUED).data() == "Queued  (3)"
    assert shown(model, Group.QUEUED) == [ids["q1"], ids["q2"], ids["q3"]]
    assert table(model)[model.group_row(Group.QUEUED) + 1] == Group.COMPLETED
    collapsed_icon = model.group_index(Group.QUEUED).data(Qt.ItemDataRole.DecorationRole)
    assert collapsed_icon is not None and collapsed_icon is not expanded_icon
    for g in Group:
        assert dock.view.columnSpan(model.group_row(g), 0) == len(Column)
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_header_point(dock, Group.QUEUED))
    assert not model.is_collapsed(Group.QUEUED)
    assert len(table(model)) == len(Group) + len(ids)
    # A double click toggles twice, like two clicks.
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_header_point(dock, Group.FAILED))
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=_header_point(dock, Group.FAILED))
    assert not model.is_collapsed(Group.FAILED)
    # Clicking a session row does not collapse anything.
    qtbot.mouseClick(
        viewport,
        Qt.MouseButton.LeftButton,
        pos=dock.view.visualRect(model.index_of(ids["run"])).center(),
    )
    assert dock.current_session_id() == ids["run"]
    assert not any(model.is_collapsed(g) for g in Group)


def test_group_rows_collapse_on_keys(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.show()
    qtbot.waitExposed(dock)
    dock.view.setFocus()
    dock.view.setCurrentIndex(model.group_index(Group.ACTIVE))
    qtbot.keyClick(dock.view, Qt.Key.Key_Return)
    assert model.is_collapsed(Group.ACTIVE)
    assert dock.view.currentIndex() == model.group_index(Group.ACTIVE)
    qtbot.keyClick(dock.view, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    assert not model.is_collapsed(Group.ACTIVE)
    qtbot.keyClick(dock.view, Qt.Key.Key_Left)
    assert model.is_collapsed(Group.ACTIVE)
    qtbot.keyClick(dock.view, Qt.Key.Key_Right)
    assert not model.is_collapsed(Group.ACTIVE)
    # Enter on a session row selects it, as before.
    dock.select_session(ids["run"])
    with qtbot.waitSignal(dock.sessionSelected, timeout=1000) as blocker:
        qtbot.keyClick(dock.view, Qt.Key.Key_Return)
    assert blocker.args == [ids["run"]]
    assert not model.is_collapsed(Group.ACTIVE)


def test_collapsed_group_keeps_its_sessions_up_to_date(
    dock: QueueDock, model: QueueModel, ids: dict[str, str]
) -> None:
    data = drag(model, ids["q3"])
    model.set_collapsed(Group.QUEUED, True)
    model.set_collapsed(Group.ACTIVE, True)
    # A queued session starts (into a collapsed group), another is dropped to the top.
    sess.transition(ids["q1"], "active")
    model.refresh_session(ids["q1"])
    model.flush()
    assert shown(model, Group.QUEUED) == [ids["q2"], ids["q3"]]
    assert shown(model, Group.ACTIVE) == [ids["q1"], ids["run"]]
    assert model.group_index(Group.ACTIVE).data() == "Active  (2)"
    queued = model.group_index(Group.QUEUED)
    assert model.dropMimeData(data, Qt.DropAction.MoveAction, -1, 0, queued)
    assert queued_in_db() == [ids["q3"], ids["q2"]]
    # Table rows of a collapsed queue are no drop targets.
    assert not model.canDropMimeData(
        data, Qt.DropAction.MoveAction, model.group_row(Group.QUEUED) + 1, 0, QModelIndex()
    )
    # The filter leaves the groups collapsed; selecting a hidden session expands its group.
    model.set_filter("second")
    model.set_filter("")
    assert model.is_collapsed(Group.QUEUED)
    assert table(model) == [
        Group.NEEDS_INPUT,
        ids["ask2"],
        ids["ask"],
        Group.ACTIVE,
        Group.QUEUED,
        Group.COMPLETED,
        ids["done"],
        Group.FAILED,
        ids["bad"],
    ]
    assert dock.select_session(ids["q2"])
    assert not model.is_collapsed(Group.QUEUED)
    assert dock.current_session_id() == ids["q2"]
    assert table(model)[model.group_row(Group.QUEUED) + 1 :][:2] == [ids["q3"], ids["q2"]]


def test_rows_have_one_fixed_height(dock: QueueDock, model: QueueModel) -> None:
    """Fixed heights and no per-row layout: 10,000 rows lay out in constant time."""
    rows = dock.view.verticalHeader()
    assert rows.isHidden()
    assert rows.sectionResizeMode(0) == QHeaderView.ResizeMode.Fixed
    heights = {dock.view.rowHeight(r) for r in range(model.rowCount())}
    assert len(heights) == 1 and heights.pop() > 0


def test_refresh_keeps_the_current_session(
    dock: QueueDock, model: QueueModel, ids: dict[str, str], qtbot: QtBot
) -> None:
    dock.select_session(ids["done"])
    new = add("Arrived from the CLI", position=4)
    with qtbot.assertNotEmitted(dock.sessionSelected):
        model.refresh()
    assert shown(model, Group.QUEUED)[-1] == new
    assert dock.current_session_id() == ids["done"]


# -- workers ------------------------------------------------------------------------------------


def test_a_worker_that_is_down_is_marked_on_its_sessions_until_it_connects(
    db: Paths, qtbot: QtBot
) -> None:
    from c3desk.core import workers as core_workers
    from c3desk.ui.queue_model import DECORATION, FOREGROUND, TOOLTIP

    far = core_workers.add_worker("far", host="far.example.org")
    waiting = add("Waits for far", position=1, worker=far.id)
    done = add("Ran on far", "completed", started=NOW - 60, completed=NOW - 30, worker=far.id)
    anywhere = add("Anywhere", position=2)
    model = QueueModel(now=lambda: NOW, coalesce_ms=10)
    model.refresh()
    cell = model.index_of(waiting, Column.WORKER)
    assert model.data(cell) == "far"
    assert model.data(cell, DECORATION) is not None
    assert model.data(cell, FOREGROUND) is not None
    assert "worker: far (disconnected)" in model.data(model.index_of(waiting), TOOLTIP)
    # A finished session does not wait for anything: named, not marked.
    assert model.data(model.index_of(done, Column.WORKER)) == "far"
    assert model.data(model.index_of(done, Column.WORKER), DECORATION) is None
    assert model.data(model.index_of(anywhere, Column.WORKER)) == "any"
    assert model.data(model.index_of(anywhere, Column.WORKER), DECORATION) is None

    Worker.update(status="connected").where(Worker.id == far.id).execute()
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as changed:
        model.refresh()  # what an engine "worker" event leads to
    first, last = changed.args[0], changed.args[1]
    assert first.column() == last.column() == Column.WORKER
    cell = model.index_of(waiting, Column.WORKER)
    assert model.data(cell, DECORATION) is None and model.data(cell, FOREGROUND) is None
    assert "worker: far\n" in model.data(model.index_of(waiting), TOOLTIP) + "\n"
    model.deleteLater()


def test_the_worker_notice_shows_above_the_queue_and_links_to_the_workers(
    db: Paths, qtbot: QtBot
) -> None:
    dock = QueueDock()
    qtbot.addWidget(dock)
    dock.show()
    assert not dock.worker_notice.isVisible() and dock.worker_notice_text == ""
    dock.set_worker_notice(["far: error; 2 queued session(s) wait for it"], "far: error (why)")
    assert dock.worker_notice.isVisible()
    assert dock.worker_notice_text.startswith("far: error; 2 queued session(s) wait for it")
    assert dock.worker_notice.toolTip() == "far: error (why)"
    with qtbot.waitSignal(dock.workersRequested, timeout=1000):
        dock.worker_notice.linkActivated.emit("workers")
    dock.set_worker_notice(())
    assert not dock.worker_notice.isVisible()
