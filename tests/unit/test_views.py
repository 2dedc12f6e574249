"""The read models of the window, the queue dock, the grid and the artifacts panel
(core.views.window / queue / grid / artifacts) against a real SQLite file."""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as core_settings
from c3desk.core import workers as core_workers
from c3desk.core.views import artifacts as artifacts_view
from c3desk.core.views import grid as grid_view
from c3desk.core.views import queue as queue_view
from c3desk.core.views import window as window_view
from c3desk.errors import InvalidInput, NotFound
from c3desk.store.models import Artifact, Session, Worker


def new(tmp_path: Path, title: str, *, worker: str | None = None, lock: bool = False) -> str:
    return sess.create_session(
        title=title, working_directory=str(tmp_path), worker=worker, lock=lock
    ).id


# -- views.window ------------------------------------------------------------------------------


def test_window_status_counts_sessions_workers_and_settings(db: Paths, tmp_path: Path) -> None:
    # A fresh database: the local worker, registered as connected.
    assert window_view.status() == window_view.WindowStatus(
        active=0,
        queued=0,
        needing_input=0,
        workers=1,
        workers_connected=1,
        max_concurrent_sessions=4,
        queue_paused=False,
    )
    ids = [new(tmp_path, f"s{i}") for i in range(6)]
    sess.transition(ids[0], "active", needs_input=True)
    sess.transition(ids[1], "active")
    sess.transition(ids[2], "active")
    sess.transition(ids[2], "completed")
    core_workers.add_worker("far", host="far.example.org")
    Worker.update(status="connected").where(Worker.name == "far").execute()
    Worker.update(status="error").where(Worker.type == "local").execute()
    core_settings.set_setting("max_concurrent_sessions", "7")
    core_settings.set_setting("queue_paused", "true")

    status = window_view.status()
    assert (status.active, status.queued, status.needing_input) == (2, 3, 1)
    assert (status.workers, status.workers_connected) == (2, 1)
    assert (status.max_concurrent_sessions, status.queue_paused) == (7, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.active = 0  # type: ignore[misc]


def test_window_status_is_one_statement(
    db: Paths, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    new(tmp_path, "one")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        window_view.status()
    statements = [r for r in caplog.records if r.name == "peewee"]
    assert len(statements) == 1, statements


def test_a_finished_session_that_needed_input_is_not_counted(db: Paths, tmp_path: Path) -> None:
    sid = new(tmp_path, "one")
    sess.transition(sid, "active", needs_input=True)
    assert window_view.status().needing_input == 1
    sess.transition(sid, "failed")
    # Even with the flag left set, only an active session can be waiting for the user.
    Session.update(needs_input=True).where(Session.id == sid).execute()
    assert window_view.status().needing_input == 0


def test_existing_sessions_leaves_out_removed_and_unknown_ids(db: Paths, tmp_path: Path) -> None:
    keep, gone = new(tmp_path, "keep"), new(tmp_path, "gone")
    sess.remove_session(gone)
    assert window_view.existing_sessions([keep, gone, "nope"]) == {keep}
    assert window_view.existing_sessions([]) == set()
    # More ids than one statement may bind are asked in parts.
    many = [str(uuid.uuid4()) for _ in range(1200)] + [keep]
    assert window_view.existing_sessions(many) == {keep}


def test_working_directory_by_id_or_prefix(db: Paths, tmp_path: Path) -> None:
    sid = new(tmp_path, "folder")
    assert window_view.working_directory(sid) == str(tmp_path.resolve())
    assert window_view.working_directory(sid[:8]) == str(tmp_path.resolve())
    with pytest.raises(NotFound):
        window_view.working_directory("zzzz-not-there")
    with pytest.raises(InvalidInput):
        window_view.working_directory("   ")


# -- views.queue -------------------------------------------------------------------------------


def test_queue_rows_are_plain_tuples_in_the_field_order(db: Paths, tmp_path: Path) -> None:
    core_workers.add_worker("far", host="far.example.org")
    sid = new(tmp_path, "Port the parser", worker="far", lock=True)
    (row,) = list(queue_view.rows())
    assert type(row) is tuple and len(row) == len(queue_view.FIELDS)
    assert row[queue_view.ID] == sid
    assert row[queue_view.TITLE] == "Port the parser"
    assert row[queue_view.STATUS] == "queued"
    assert row[queue_view.WD] == str(tmp_path.resolve())
    assert queue_view.worker_names()[row[queue_view.WORKER]] == "far"
    assert row[queue_view.LOCK] and not row[queue_view.NEEDS]
    assert (row[queue_view.POSITION], row[queue_view.CONT], row[queue_view.STARTED]) == (1, 0, None)
    assert queue_view.group_of(row) is queue_view.Group.QUEUED


def test_queue_started_is_the_current_run(db: Paths, tmp_path: Path) -> None:
    sid = new(tmp_path, "again")
    sess.transition(sid, "active")
    Session.update(started_at="2020-01-01 00:00:00", activated_at="2024-05-05 10:00:00").where(
        Session.id == sid
    ).execute()
    assert queue_view.rows_of([sid])[sid][queue_view.STARTED] == "2024-05-05 10:00:00"
    Session.update(activated_at=None).where(Session.id == sid).execute()
    assert queue_view.rows_of([sid])[sid][queue_view.STARTED] == "2020-01-01 00:00:00"


def test_rows_of_reads_only_the_asked_sessions_in_parts(db: Paths, tmp_path: Path) -> None:
    a, b = new(tmp_path, "a"), new(tmp_path, "b")
    unknown = [str(uuid.uuid4()) for _ in range(1100)]
    fresh = queue_view.rows_of([*unknown, b])
    assert list(fresh) == [b]
    assert fresh[b] == next(r for r in queue_view.rows() if r[queue_view.ID] == b)
    assert set(queue_view.rows_of([a, b])) == {a, b}
    assert queue_view.rows_of([]) == {}


def test_queue_positions_follow_moves_and_leave_out_the_unqueued(db: Paths, tmp_path: Path) -> None:
    a, b, c = (new(tmp_path, t) for t in "abc")
    assert queue_view.queue_positions() == {a: 1, b: 2, c: 3}
    sess.move_session(c, 1)
    assert queue_view.queue_positions() == {c: 1, a: 2, b: 3}
    sess.transition(a, "active")
    assert queue_view.queue_positions() == {c: 1, b: 2}


def test_groups_order_and_filter_text(db: Paths, tmp_path: Path) -> None:
    ids = [new(tmp_path, f"Session {i}") for i in range(5)]
    sess.transition(ids[0], "active", needs_input=True)
    sess.transition(ids[1], "active")
    sess.transition(ids[2], "active")
    sess.transition(ids[2], "completed")
    sess.transition(ids[3], "active")
    sess.transition(ids[3], "failed")
    rows = queue_view.rows_of(ids)
    G = queue_view.Group
    assert [queue_view.group_of(rows[s]) for s in ids] == [
        G.NEEDS_INPUT,
        G.ACTIVE,
        G.COMPLETED,
        G.FAILED,
        G.QUEUED,
    ]
    assert queue_view.descending(G.ACTIVE) and not queue_view.descending(G.QUEUED)
    queued = rows[ids[4]]
    assert queue_view.sort_key(G.QUEUED, queued) == (1, ids[4])
    done = rows[ids[2]]
    assert queue_view.sort_key(G.COMPLETED, done) == (done[queue_view.COMPLETED], ids[2])
    hay = queue_view.haystack(rows[ids[1]])
    assert "session 1" in hay and str(tmp_path.resolve()).casefold() in hay


# -- views.grid --------------------------------------------------------------------------------


def agent_event(sid: str, detail: object) -> None:
    sess.record_event(sid, "agent", detail if isinstance(detail, str) else json.dumps(detail))


def test_tile_rows_are_the_active_sessions_and_those_asked_for(db: Paths, tmp_path: Path) -> None:
    running, done, queued, other = (new(tmp_path, t) for t in ("run", "done", "wait", "x"))
    for sid in (running, done, other):
        sess.transition(sid, "active")
    sess.transition(done, "completed")
    sess.transition(other, "completed")
    Session.update(needs_input=True, lock=True).where(Session.id == running).execute()

    rows = {r.id: r for r in grid_view.tile_rows()}
    assert set(rows) == {running}
    row = rows[running]
    assert (row.title, row.status, row.pinned, row.needs_input) == ("run", "active", True, True)
    assert row.started_at is not None and row.completed_at is None

    rows = {r.id: r for r in grid_view.tile_rows({done, queued, "gone"})}
    assert set(rows) == {running, done, queued}
    assert rows[done].status == "completed" and rows[done].completed_at is not None
    assert not rows[done].pinned
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows[done].status = "active"  # type: ignore[misc]


def test_last_agent_is_the_latest_agent_event(db: Paths, tmp_path: Path) -> None:
    sid = new(tmp_path, "agent")
    assert grid_view.last_agent(sid) == grid_view.AgentNote(None, "")
    agent_event(sid, {"state": "waiting", "reason": "permission prompt", "source": "hook"})
    agent_event(sid, {"state": "idle", "reason": "idle at the prompt"})
    sess.record_event(sid, "state", {"from": "queued", "to": "active"})
    assert grid_view.last_agent(sid) == grid_view.AgentNote("idle", "idle at the prompt")
    agent_event(sid, "not json {")
    assert grid_view.last_agent(sid) == grid_view.AgentNote()
    agent_event(sid, [1, 2])
    assert grid_view.last_agent(sid) == grid_view.AgentNote()
    agent_event(sid, {"state": 3})
    assert grid_view.last_agent(sid) == grid_view.AgentNote(None, "")


def test_tile_heading_names_the_worker_and_why_input_is_needed(db: Paths, tmp_path: Path) -> None:
    assert grid_view.tile_heading("no-such-session") is None
    core_workers.add_worker("far", host="far.example.org")
    anywhere, placed = new(tmp_path, "anywhere"), new(tmp_path, "placed", worker="far")
    agent_event(anywhere, {"state": "waiting", "reason": "permission prompt"})

    heading = grid_view.tile_heading(anywhere)
    assert heading == grid_view.TileHeading(
        anywhere, "anywhere", None, "queued", needs_input=False, pinned=False, reason=""
    )
    sess.transition(anywhere, "active", needs_input=True)
    sess.set_lock(anywhere, True)
    heading = grid_view.tile_heading(anywhere)
    assert heading is not None
    assert (heading.status, heading.needs_input, heading.pinned) == ("active", True, True)
    assert heading.reason == "permission prompt"
    far_id = str(Worker.get(Worker.name == "far").id)
    # The header also says whether the worker can serve the session (never connected here).
    assert grid_view.tile_heading(placed) == grid_view.TileHeading(
        placed,
        "placed",
        "far",
        "queued",
        needs_input=False,
        pinned=False,
        reason="",
        worker_id=far_id,
        worker_status="disconnected",
    )


# -- views.artifacts ---------------------------------------------------------------------------


def add_artifact(sid: str, kind: str, path: str, at: str) -> str:
    aid = str(uuid.uuid4())
    Artifact.create(id=aid, session=sid, type=kind, path=path, detected_at=at)
    return aid


def test_session_artifacts_newest_first_then_by_path(db: Paths, tmp_path: Path) -> None:
    assert artifacts_view.session_artifacts("no-such-session") is None
    sid, other = new(tmp_path, "Make a report"), new(tmp_path, "other")
    old = add_artifact(sid, "file", "/w/z.txt", "2024-01-01 10:00:00")
    b = add_artifact(sid, "image", "/w/b.png", "2024-01-02 10:00:00")
    a = add_artifact(sid, "diff", "/w/a.diff", "2024-01-02 10:00:00")
    add_artifact(other, "pdf", "/w/other.pdf", "2024-01-03 10:00:00")

    view = artifacts_view.session_artifacts(sid)
    assert view is not None
    assert (view.session_id, view.title) == (sid, "Make a report")
    assert [x.id for x in view.artifacts] == [a, b, old]
    assert view.artifacts[0] == artifacts_view.ArtifactRow(
        a, "diff", "/w/a.diff", "2024-01-02 10:00:00"
    )
    empty = artifacts_view.session_artifacts(new(tmp_path, "none yet"))
    assert empty is not None and empty.artifacts == ()


def test_events_newest_first_up_to_the_limit(db: Paths, tmp_path: Path) -> None:
    sid = new(tmp_path, "events")
    for i in range(5):
        sess.record_event(sid, "note", {"i": i})
    sess.record_event(sid, "bare")
    rows = artifacts_view.events(sid, 4)
    assert [r.kind for r in rows] == ["bare", "note", "note", "note"]
    assert rows[0].detail is None
    assert [json.loads(r.detail or "")["i"] for r in rows[1:]] == [4, 3, 2]
    assert all(len(r.at) >= 19 for r in rows)
    assert artifacts_view.events("no-such-session", 10) == ()
    # created: the first event of every session
    assert artifacts_view.events(sid, 100)[-1].kind == "created"


def test_last_scan_is_the_latest_artifacts_event(db: Paths, tmp_path: Path) -> None:
    sid = new(tmp_path, "scan")
    assert artifacts_view.last_scan(sid) is None
    sess.record_event(sid, "artifacts", {"source": "scan", "files": 1})
    sess.record_event(sid, "artifacts", {"source": "git", "files": 3})
    sess.record_event(sid, "note", {"x": 1})
    latest = artifacts_view.last_scan(sid)
    assert latest is not None and json.loads(latest) == {"source": "git", "files": 3}


def test_window_active_text_shows_the_effective_limit_and_why(db: Paths) -> None:
    # A fresh database: the local worker reaches the global default, nothing to explain.
    assert window_view.active_text(0, window_view.capacity()) == "Active 0/4"
    local = core_workers.local_worker().name
    core_workers.update_worker(local, max_sessions=2)
    core_settings.set_setting("max_concurrent_sessions", "9")
    assert window_view.active_text(2, window_view.capacity()) == (
        "Active 2/2 (limit 9; workers allow 2)"
    )
    Worker.update(status="disconnected").where(Worker.type == "local").execute()
    assert window_view.active_text(0, window_view.capacity()) == (
        "Active 0/0 (limit 9; workers allow 0)"
    )
