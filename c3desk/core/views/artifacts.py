"""The artifacts panel's read model: a session's artifacts, its recent events, its last scan."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from c3desk.store.models import Artifact, Session, SessionEvent


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


def session_artifacts(session_id: str) -> SessionArtifacts | None:
    """The session's title and artifacts, or None when there is no such session."""
    title = Session.select(Session.title).where(Session.id == session_id).scalar()
    if title is None:
        return None
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
    return SessionArtifacts(session_id, str(title), rows)


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
