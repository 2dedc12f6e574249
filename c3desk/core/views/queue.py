"""The queue dock's read model: every session as one plain tuple, its group, order and filter text.

Rows are tuples straight from one SELECT (no peewee model objects are built): 10,000 sessions load
in a few tens of milliseconds (benchmarks/queue_dock.py). The positions of the fields in a row are
the constants ``ID``, ``TITLE``... below; the Qt model indexes rows with them.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Iterator
from typing import Any, Final, cast

import peewee as pw

from c3desk.store.models import Session, Worker


class Group(enum.IntEnum):
    """The groups of the queue, in display order."""

    NEEDS_INPUT = 0
    ACTIVE = 1
    QUEUED = 2
    COMPLETED = 3
    FAILED = 4


# Row tuple layout: the SELECT below, in this order.
FIELDS: Final = (
    Session.id,
    Session.title,
    Session.status,
    Session.working_directory,
    Session.worker,
    Session.needs_input,
    Session.lock,
    Session.continuation_count,
    # Elapsed counts the current run: a continued or retried session starts from zero.
    pw.fn.COALESCE(Session.activated_at, Session.started_at),
    Session.completed_at,
    Session.position,
    Session.claude_session_id,
    Session.updated_at,
)
(
    ID,
    TITLE,
    STATUS,
    WD,
    WORKER,
    NEEDS,
    LOCK,
    CONT,
    STARTED,
    COMPLETED,
    POSITION,
    CLAUDE_ID,
    UPDATED,
) = range(len(FIELDS))
Row = tuple[Any, ...]

CHUNK: Final = 500  # ids per IN (...): SQLite limits the bound parameters of one statement


def _select() -> Any:
    return Session.select(*FIELDS).tuples()


def rows() -> Iterator[Row]:
    """Every session, in no particular order (the model groups and sorts them)."""
    return cast("Iterator[Row]", _select().iterator())


def rows_of(session_ids: Collection[str]) -> dict[str, Row]:
    """The rows of these sessions by id; an id without a session is left out."""
    ids = list(session_ids)
    fresh: dict[str, Row] = {}
    for start in range(0, len(ids), CHUNK):
        query = _select().where(Session.id.in_(ids[start : start + CHUNK]))
        fresh.update((row[ID], row) for row in query)
    return fresh


def worker_names() -> dict[str, str]:
    """Every worker's name by id (a row holds the worker's id)."""
    query = Worker.select(Worker.id, Worker.name).tuples()
    return dict(cast("Iterable[tuple[str, str]]", query))


def worker_states() -> dict[str, tuple[str, str]]:
    """Every worker's name and connection status (connected, disconnected, error) by id."""
    query = Worker.select(Worker.id, Worker.name, Worker.status).tuples()
    return {
        str(wid): (str(name), str(status))
        for wid, name, status in cast("Iterable[tuple[str, str, str]]", query)
    }


def queue_positions() -> dict[str, int]:
    """The position of every queued session by id."""
    query = (
        Session.select(Session.id, Session.position)
        .where(Session.status == "queued")
        .order_by(Session.position)
        .tuples()
    )
    return dict(cast("Iterable[tuple[str, int]]", query))


def group_of(row: Row) -> Group:
    status = row[STATUS]
    if status == "active":
        return Group.NEEDS_INPUT if row[NEEDS] else Group.ACTIVE
    if status == "queued":
        return Group.QUEUED
    if status == "completed":
        return Group.COMPLETED
    return Group.FAILED


def sort_key(group: Group, row: Row) -> tuple[Any, ...]:
    """The order within ``group`` (see :func:`descending`); the id breaks ties."""
    if group is Group.QUEUED:
        return (row[POSITION] or 0, row[ID])
    if group is Group.NEEDS_INPUT:
        return (row[UPDATED] or "", row[ID])
    if group is Group.ACTIVE:
        return (row[STARTED] or "", row[ID])
    return (row[COMPLETED] or "", row[ID])


def descending(group: Group) -> bool:
    """Queued in queue order; every other group newest first."""
    return group is not Group.QUEUED


def haystack(row: Row) -> str:
    """The text the filter searches: title and working directory, case-folded."""
    return f"{row[TITLE]}\n{row[WD]}".casefold()
