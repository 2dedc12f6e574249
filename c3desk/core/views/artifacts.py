"""The artifacts panel's read model: a session's artifacts, its recent events, its last scan,
and the worker whose machine the files are on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from peewee import JOIN

from c3desk.store.models import Artifact, Session, SessionEvent, Worker


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    id: str
    type: str  # image | pdf | diff | file
    path: str
    detected_at: str


@dataclass(frozen=True, slots=True)
class EventRow:
    at: str
    kind: str
    detail: str | None  # JSON text as recorded


@dataclass(frozen=True, slots=True)
class SessionArtifacts:
    session_id: str
    title: str
    artifacts: tuple[ArtifactRow, ...]  # newest first, then by path
    # The worker it runs (or ran) on; a remote one's artifact paths are paths on that machine
    # (the diff excepted: c3desk keeps it in its own data folder), previewed from a copy.
    worker_id: str | None = None
    worker_name: str | None = None
    remote: bool = False

    def on_worker(self, row: ArtifactRow) -> bool:
        """Whether the artifact is a file on the remote worker's machine (not this one)."""
        return self.remote and row.type != "diff"


def session_artifacts(session_id: str) -> SessionArtifacts | None:
    """The session's title and artifacts, or None when there is no such session."""
    found = (
        Session.select(Session.title, Worker.id, Worker.name, Worker.type)
        .join(Worker, join_type=JOIN.LEFT_OUTER, on=(Session.worker == Worker.id))
        .where(Session.id == session_id)
        .tuples()
        .first()
    )
    if found is None:
        return None
    title, worker_id, worker_name, worker_type = cast("tuple[Any, ...]", found)
    query = (
        Artifact.select(Artifact.id, Artifact.type, Artifact.path, Artifact.detected_at)
        .where(Artifact.session == session_id)
        .order_by(Artifact.detected_at.desc(), Artifact.path)
        .tuples()
    )
    rows = tuple(
        ArtifactRow(str(aid), str(kind), str(path), str(at))
        for aid, kind, path, at in cast("Iterable[tuple[Any, ...]]", query)
    )
    return SessionArtifacts(
        session_id,
        "" if title is None else str(title),
        rows,
        worker_id=None if worker_id is None else str(worker_id),
        worker_name=None if worker_name is None else str(worker_name),
        remote=worker_type == "remote",
    )


def events(session_id: str, limit: int) -> tuple[EventRow, ...]:
    """The session's latest ``limit`` events, newest first."""
    query = (
        SessionEvent.select(SessionEvent.at, SessionEvent.kind, SessionEvent.detail)
        .where(SessionEvent.session == session_id)
        .order_by(SessionEvent.id.desc())
        .limit(limit)
        .tuples()
    )
    return tuple(
        EventRow(str(at), str(kind), None if detail is None else str(detail))
        for at, kind, detail in cast("Iterable[tuple[Any, ...]]", query)
    )


def last_scan(session_id: str) -> str | None:
    """The detail (JSON text) of the session's latest ``artifacts`` event: where the listed
    files came from; None when there is none."""
    detail = (
        SessionEvent.select(SessionEvent.detail)
        .where((SessionEvent.session == session_id) & (SessionEvent.kind == "artifacts"))
        .order_by(SessionEvent.id.desc())
        .limit(1)
        .scalar()
    )
    return None if detail is None else str(detail)
