"""Opening the database: location, pragmas, migrations and the rows that must always exist."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from pathlib import Path

import peewee as pw

from c3desk.core import clock
from c3desk.store import migrations
from c3desk.store.models import Settings, Worker, db

PRAGMAS = (
    ("journal_mode", "wal"),
    ("synchronous", "normal"),
    ("foreign_keys", 1),
    ("busy_timeout", 30_000),
)


def connect(path: Path) -> pw.SqliteDatabase:
    """Open (creating and migrating if needed) the database at ``path`` and bind the models.

    A database from a newer c3desk is refused before anything is written to it.
    """
    migrations.refuse_if_too_new(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # lock_type makes every peewee transaction BEGIN IMMEDIATE: a deferred read-then-write
    # transaction would fail with SQLITE_BUSY at once whatever the busy timeout.
    database = pw.SqliteDatabase(
        str(path), pragmas=PRAGMAS, lock_type="IMMEDIATE", timeout=30, check_same_thread=False
    )
    database.connect(reuse_if_open=True)
    conn: sqlite3.Connection = database.connection()  # type: ignore[no-untyped-call]
    migrations.migrate(conn, path)
    db.initialize(database)
    ensure_defaults()
    return database


def ensure_defaults() -> None:
    """The settings row (seed defaults) and the local worker exist."""
    with db.atomic():
        Settings.insert(id=1).on_conflict_ignore().execute()
        if not Worker.select().where(Worker.type == "local").exists():
            Worker.insert(
                id=str(uuid.uuid4()),
                name=socket.gethostname() or "localhost",
                type="local",
                status="connected",
                last_heartbeat=clock.now(),
            ).execute()


def close() -> None:
    obj = db.obj
    if obj is not None and not obj.is_closed():
        obj.close()
