"""The main window's read model: the figures of its status bar, title and tray, in one statement."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final, cast

import peewee as pw

from c3desk.core import capacity as cap
from c3desk.core import sessions as sess
from c3desk.store.models import Session, Settings, Worker

CHUNK: Final = 500  # ids per IN (...): SQLite limits the bound parameters of one statement


@dataclass(frozen=True, slots=True)
class WindowStatus:
    active: int
    queued: int
    needing_input: int  # active sessions waiting for the user
    workers: int
    workers_connected: int
    max_concurrent_sessions: int
    queue_paused: bool


def _count(model: type[Session] | type[Worker], where: Any = None) -> Any:
    # A scalar subquery each: every one is answered from an index, where one pass with
    # SUM(CASE ...) would read every session row.
    query = model.select(pw.fn.COUNT(pw.SQL("*")))
    return query if where is None else query.where(where)


def status() -> WindowStatus:
    """Session and worker counts with the settings the status bar shows, in one SELECT."""
    row: tuple[Any, ...] = (
        Settings.select(
            _count(Session, Session.status == "active"),
            _count(Session, Session.status == "queued"),
            _count(Session, (Session.status == "active") & (Session.needs_input == True)),  # noqa: E712
            _count(Worker),
            _count(Worker, Worker.status == "connected"),
            Settings.max_concurrent_sessions,
            Settings.queue_paused,
        )
        .where(Settings.id == 1)
        .tuples()
        .get()  # type: ignore[assignment]  # the stubs do not know that tuples() yields tuples
    )
    active, queued, needing, workers, connected, max_concurrent, paused = row
    return WindowStatus(
        active=int(active),
        queued=int(queued),
        needing_input=int(needing),
        workers=int(workers),
        workers_connected=int(connected),
        max_concurrent_sessions=int(max_concurrent),
        queue_paused=bool(paused),
    )


@dataclass(frozen=True, slots=True)
class WorkerDown:
    """A worker that cannot run sessions now, with how many queued sessions wait for it."""

    id: str
    name: str
    status: str  # disconnected or error
    waiting: int  # queued sessions pinned to it


def workers_down() -> list[WorkerDown]:
    """The workers that are not connected, by name (few: read only when the status bar asks)."""
    rows = (
        Worker.select(Worker.id, Worker.name, Worker.status)
        .where(Worker.status != "connected")
        .order_by(Worker.name)
        .tuples()
    )
    down = list(cast("Iterable[tuple[str, str, str]]", rows))
    if not down:
        return []
    waiting = (
        Session.select(Session.worker, pw.fn.COUNT(Session.id))
        .where((Session.status == "queued") & Session.worker.in_([wid for wid, _n, _s in down]))
        .group_by(Session.worker)
        .tuples()
    )
    counts = {str(wid): int(n) for wid, n in cast("Iterable[tuple[str, int]]", waiting)}
    return [WorkerDown(str(w), str(n), str(s), counts.get(str(w), 0)) for w, n, s in down]


def capacity() -> cap.Capacity:
    """What the status bar's "Active a/b" divides by: the global limit as the connected workers'
    limits let it be reached (a separate read, so :class:`WindowStatus` keeps its fields)."""
    return cap.current()


def active_text(active: int, capacity: cap.Capacity) -> str:
    """ "Active a/b" with the effective b, and why it is below the global limit when it is."""
    note = capacity.status_note()
    return f"Active {active}/{capacity.effective}" + (f" ({note})" if note else "")


def existing_sessions(session_ids: Collection[str]) -> set[str]:
    """Those of ``session_ids`` that still name a session (the others were removed)."""
    ids = list(session_ids)
    found: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        query = Session.select(Session.id).where(Session.id.in_(ids[start : start + CHUNK]))
        found.update(sid for (sid,) in cast("Iterable[tuple[str]]", query.tuples()))
    return found


def working_directory(ref: str) -> str:
    """The folder of the session ``ref`` (an id or a unique prefix, as on the command line).

    Raises the command line's errors: NotFound, or InvalidInput for an ambiguous prefix.
    """
    return str(sess.find_session(ref).working_directory)
