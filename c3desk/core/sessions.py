"""Session operations on the queue: create, find, move, remove, lock, and state transitions.

Queued sessions hold positions 1..n without gaps; every other session has ``position = NULL``.
Every change bumps ``updated_at`` and is recorded in ``session_events``. All writes run in IMMEDIATE
transactions (the database's lock type), so concurrent processes serialise instead of failing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import peewee as pw

from c3desk import clock
from c3desk.core import worktrees as isolation
from c3desk.core.states import STATUSES, allowed
from c3desk.errors import InvalidInput, NotFound, Refused
from c3desk.store.models import Session, SessionEvent, Worker, db

MAX_TITLE = 200

# The columns a session is shown with (`list --json`, `show --json`), in schema order.
COLUMNS: tuple[str, ...] = tuple(f.column_name for f in Session._meta.sorted_fields)
BOOL_COLUMNS = frozenset({"needs_input", "lock", "auto_approve"})


def record_event(session_id: str, kind: str, detail: str | dict[str, Any] | None = None) -> None:
    text = json.dumps(detail, sort_keys=True) if isinstance(detail, dict) else detail
    SessionEvent.insert(session=session_id, kind=kind, detail=text).execute()


def as_dict(session: Session) -> dict[str, Any]:
    """The session's columns by their schema names, booleans as booleans."""
    data = session.__data__
    out: dict[str, Any] = {}
    for field in Session._meta.sorted_fields:
        value = data.get(field.name)
        if field.column_name in BOOL_COLUMNS and value is not None:
            value = bool(value)
        out[field.column_name] = value
    return out


def find_session(ref: str) -> Session:
    """A session by full id or a unique prefix of it."""
    ref = ref.strip()
    if not ref:
        raise InvalidInput("session id is empty")
    session = Session.get_or_none(Session.id == ref)
    if session is not None:
        return session
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    matches = list(
        Session.select().where(pw.SQL("id LIKE ? ESCAPE '\\'", [escaped + "%"])).limit(2)
    )
    if not matches:
        raise NotFound(f"no session with id {ref!r}")
    if len(matches) > 1:
        raise InvalidInput(f"session id prefix {ref!r} matches more than one session")
    return matches[0]


def find_worker(name: str) -> Worker:
    worker = Worker.get_or_none(Worker.name == name)
    if worker is None:
        raise NotFound(f"no worker named {name!r}")
    return worker


def _queue_length() -> int:
    return int(Session.select().where(Session.status == "queued").count())


def validate_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise InvalidInput("title is empty")
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"title is {len(title)} characters long; at most {MAX_TITLE} allowed")
    if any(ord(c) < 32 or ord(c) == 127 for c in title):
        raise InvalidInput(f"title {title!r} contains control characters")
    return title


def create_session(
    *,
    title: str,
    working_directory: str,
    prompt: str | None = None,
    worker: str | None = None,
    agent: str = "claude",
    lock: bool = False,
    known_agents: Iterable[str] | None = None,
    worktree: str | None = None,
) -> Session:
    """Validate and append a new session to the end of the queue.

    ``worktree``: run it in a git worktree on this new branch ("": the default name)."""
    title = validate_title(title)
    if not working_directory or not Path(working_directory).is_absolute():
        raise InvalidInput(f"working directory {working_directory!r} is not an absolute path")
    # No program can be given a NUL (argv and paths end at it): refused here, not at its start.
    if "\x00" in working_directory:
        raise InvalidInput(f"working directory {working_directory!r} contains a NUL character")
    if prompt is not None and "\x00" in prompt:
        raise InvalidInput("the prompt contains a NUL character, which no program can be given")
    if known_agents is not None and agent not in set(known_agents):
        raise InvalidInput(f"unknown agent profile {agent!r}")
    if prompt is not None and not prompt.strip():
        prompt = None
    with db.atomic():
        target: Worker | None = find_worker(worker) if worker else None
        # Only a local folder can be checked here; a remote one is checked on activation.
        if target is None or target.type == "local":
            if not Path(working_directory).is_dir():
                raise InvalidInput(f"working directory {working_directory!r} does not exist")
            working_directory = str(Path(working_directory).resolve())
        sid = str(uuid.uuid4())
        branch = None if worktree is None else isolation.branch_for(worktree, title, sid)
        if branch is not None and (target is None or target.type == "local"):
            isolation.check_local_folder(working_directory)
        now = clock.now()
        session = Session.create(
            id=sid,
            worktree_branch=branch,
            worker=target,
            status="queued",
            working_directory=working_directory,
            title=title,
            position=_queue_length() + 1,
            lock=lock,
            prompt=prompt,
            agent=agent,
            created_at=now,
            updated_at=now,
        )
        record_event(session.id, "created", {"position": session.position})
    return session


def _close_gap(position: int) -> None:
    Session.update(position=Session.position - 1).where(
        (Session.status == "queued") & (Session.position > position)
    ).execute()


def move_session(ref: str, position: int) -> Session:
    """Move a queued session to ``position`` (1-based); the others shift to keep 1..n."""
    with db.atomic():
        session = find_session(ref)
        if session.status != "queued":
            raise Refused(f"session {session.id} is {session.status}; only queued sessions move")
        n = _queue_length()
        if not 1 <= position <= n:
            raise InvalidInput(f"position {position} is out of range 1..{n}")
        old = session.position
        if old is None:  # a queued session always has one; the schema cannot say so
            raise Refused(f"session {session.id} has no queue position")
        if old == position:
            return session
        if position < old:
            Session.update(position=Session.position + 1).where(
                (Session.status == "queued")
                & (Session.position >= position)
                & (Session.position < old)
            ).execute()
        else:
            Session.update(position=Session.position - 1).where(
                (Session.status == "queued")
                & (Session.position > old)
                & (Session.position <= position)
            ).execute()
        Session.update(position=position, updated_at=clock.now()).where(
            Session.id == session.id
        ).execute()
        record_event(session.id, "moved", {"from": old, "to": position})
    return Session.get_by_id(session.id)


def remove_session(ref: str) -> str:
    with db.atomic():
        session = find_session(ref)
        if session.status == "active":
            raise Refused(f"session {session.id} is active; kill it before removing it")
        if session.status == "queued" and session.position is not None:
            _close_gap(session.position)
        Session.delete().where(Session.id == session.id).execute()
    return str(session.id)


def set_lock(ref: str, locked: bool) -> Session:
    with db.atomic():
        session = find_session(ref)
        if bool(session.lock) != locked:
            Session.update(lock=locked, updated_at=clock.now()).where(
                Session.id == session.id
            ).execute()
            record_event(session.id, "locked" if locked else "unlocked")
    return Session.get_by_id(session.id)


def transition(session_id: str, new: str, **fields: Any) -> Session:
    """Move a session to state ``new`` if the data model allows it; keep the queue gapless.

    ``fields`` are further columns to set (``pid``, ``exit_code``, ``failure_reason``...).
    """
    if new not in STATUSES:
        raise InvalidInput(f"unknown session status {new!r}")
    with db.atomic():
        session = Session.get_or_none(Session.id == session_id)
        if session is None:
            raise NotFound(f"no session with id {session_id!r}")
        old = session.status
        if not allowed(old, new):
            raise Refused(f"session {session_id} cannot go from {old} to {new}")
        now = clock.now()
        values: dict[str, Any] = {"status": new, "updated_at": now, **fields}
        if old == "queued" and session.position is not None:
            _close_gap(session.position)
        if new == "queued":
            values["position"] = _queue_length() + 1
        else:
            values["position"] = None
        if old in ("completed", "failed"):
            # Continued or retried: the session is no longer finished.
            values["completed_at"] = None
        if new == "active":
            if session.started_at is None:
                values["started_at"] = now
            values["activated_at"] = now
            values.setdefault("needs_input", False)
            values.setdefault("exit_code", None)
            values.setdefault("failure_reason", None)
        if new in ("completed", "failed"):
            values["completed_at"] = now
            values["pid"] = None
            values["needs_input"] = False
        Session.update(**values).where(Session.id == session_id).execute()
        detail: dict[str, Any] = {"from": old, "to": new}
        for key in ("exit_code", "failure_reason", "pid"):
            if fields.get(key) is not None:
                detail[key] = fields[key]
        record_event(session_id, "state", detail)
    return Session.get_by_id(session_id)


def list_sessions(status: str | None = None) -> list[Session]:
    """Queued sessions in position order first, then active, then the finished, newest first."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"unknown status {status!r}; expected one of {', '.join(STATUSES)}")
    rank = pw.Case(
        Session.status,
        [("queued", 0), ("active", 1), ("completed", 2), ("failed", 3)],
        4,
    )
    query = Session.select()
    if status is not None:
        query = query.where(Session.status == status)
    return list(
        query.order_by(rank, Session.position, Session.updated_at.desc(), Session.created_at.desc())
    )


def events(ref: str) -> list[SessionEvent]:
    session = find_session(ref)
    return list(
        SessionEvent.select().where(SessionEvent.session == session.id).order_by(SessionEvent.id)
    )
