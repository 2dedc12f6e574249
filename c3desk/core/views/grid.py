"""The grid's read model: which sessions may have a tile, what a tile's header says, and the last
needs-input change the engine recorded for a session."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, cast

import peewee as pw

from c3desk.store.models import Session, SessionEvent, Worker


@dataclass(frozen=True, slots=True)
class TileRow:
    """A session that may be shown in a tile (FocusPolicy decides)."""

    id: str
    title: str
    status: str
    pinned: bool
    needs_input: bool
    started_at: str | None
    completed_at: str | None


@dataclass(frozen=True, slots=True)
class AgentNote:
    """The session's latest needs-input change as recorded (an ``agent`` event)."""

    state: str | None = None  # e.g. "waiting" (blocked on a prompt) or "idle"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TileHeading:
    """What a tile's header shows."""

    id: str
    title: str
    worker: str | None  # the worker's name; None: any worker
    status: str
    needs_input: bool
    pinned: bool
    reason: str  # why it needs input ("" when it does not)
    worker_id: str | None = None
    worker_status: str | None = None  # connected / disconnected / error; None: any worker


def tile_rows(also: Collection[str] = ()) -> list[TileRow]:
    """Every active session, and those of ``also`` (sessions kept in a tile or asked for)."""
    query = Session.select(
        Session.id,
        Session.title,
        Session.status,
        Session.lock,
        Session.needs_input,
        Session.started_at,
        Session.completed_at,
    ).where((Session.status == "active") | (Session.id.in_(list(also))))
    return [
        TileRow(sid, title, status, bool(lock), bool(needs), started, completed)
        for sid, title, status, lock, needs, started, completed in cast(
            "Iterable[tuple[Any, ...]]", query.tuples()
        )
    ]


def _note(detail: str | None) -> AgentNote:
    try:
        data = json.loads(detail or "{}")
    except ValueError:
        return AgentNote()
    if not isinstance(data, dict):
        return AgentNote()
    state = data.get("state")
    return AgentNote(state if isinstance(state, str) else None, str(data.get("reason", "")))


def last_agent(session_id: str) -> AgentNote:
    """The session's latest needs-input change (empty when none was recorded)."""
    # Newest first through the (session_id, id) index: stops at the first agent event.
    detail = (
        SessionEvent.select(SessionEvent.detail)
        .where((SessionEvent.session == session_id) & (SessionEvent.kind == "agent"))
        .order_by(SessionEvent.id.desc())
        .limit(1)
        .scalar()
    )
    if detail is None:
        return AgentNote()
    return _note(str(detail))


def tile_heading(session_id: str) -> TileHeading | None:
    """The header of ``session_id``'s tile, or None when there is no such session."""
    row = (
        Session.select(
            Session.title,
            Worker.name,
            Session.status,
            Session.needs_input,
            Session.lock,
            Worker.id,
            Worker.status,
        )
        .join(Worker, pw.JOIN.LEFT_OUTER, on=(Session.worker == Worker.id))
        .where(Session.id == session_id)
        .tuples()
        .first()
    )
    if row is None:
        return None
    title, worker, status, needs, lock, worker_id, worker_status = cast("tuple[Any, ...]", row)
    reason = last_agent(session_id).reason if needs else ""
    return TileHeading(
        session_id,
        title,
        worker,
        status,
        bool(needs),
        bool(lock),
        reason,
        worker_id,
        worker_status,
    )
