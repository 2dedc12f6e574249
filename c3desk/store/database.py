"""Opening the database: location, pragmas, migrations and the rows that must always exist.

A database that cannot be written (a read-only folder or file) is opened read-only, without
migrations or default rows, so the commands that only read still work. Errors a user meets here
(cannot write, damaged file) become :class:`DatabaseUnavailable`, one line naming the file.
"""

from __future__ import annotations

import errno
import os
import socket
import sqlite3
import uuid
from pathlib import Path

import peewee as pw

from c3desk import clock
from c3desk.errors import C3Error
from c3desk.store import migrations
from c3desk.store.models import Settings, Worker, db

PRAGMAS = (
    ("journal_mode", "wal"),
    ("synchronous", "normal"),
    ("foreign_keys", 1),
    ("busy_timeout", 30_000),
)


# Read-only connections: no journal-mode switch (a write), and SQLite refuses any write.
READ_ONLY_PRAGMAS = (("foreign_keys", 1), ("busy_timeout", 30_000), ("query_only", 1))

# SQLite's answers for a file that is not (or no longer) a database.
_DAMAGED = frozenset({"SQLITE_NOTADB", "SQLITE_CORRUPT"})
_READ_ONLY = frozenset({"SQLITE_READONLY", "SQLITE_READONLY_DBMOVED", "SQLITE_READONLY_DIRECTORY"})


class DatabaseUnavailable(C3Error):
    """The database cannot be used as asked (read-only, damaged); the message names the file."""


def write_problem(path: Path) -> str | None:
    """Why the database at ``path`` cannot be written (None when it can).

    The folder counts too: SQLite writes its WAL and shared-memory files beside the database.
    ``os.access`` answers for this process, so root on a read-only mount is refused as well.
    """
    folder = path.parent
    if folder.exists() and not os.access(folder, os.W_OK):
        return f"its folder {folder} is {_unwritable(folder)}"
    if path.exists() and not os.access(path, os.W_OK):
        return f"the file is {_unwritable(path)}"
    return None


def _unwritable(target: Path) -> str:
    try:
        if os.statvfs(target).f_flag & os.ST_RDONLY:
            return "on a read-only file system"
    except OSError:
        pass
    return "read-only (permission denied)"


def cannot_write(path: Path, problem: str | None = None) -> DatabaseUnavailable:
    why = problem or write_problem(path) or "read-only"
    return DatabaseUnavailable(f"cannot write {path}: {why}")


def backups_of(path: Path) -> list[Path]:
    """The copies migrations left beside the database, newest first."""
    found = [p for p in path.parent.glob(f"{path.name}.v*.bak") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def damaged(path: Path, detail: str) -> DatabaseUnavailable:
    backups = backups_of(path)
    if backups:
        names = ", ".join(p.name for p in backups)
        advice = (
            f"backups beside it (newest first): {names}. "
            "Copy one in its place, or move the file away to start afresh."
        )
    else:
        advice = "there are no backups of it. Move it away to start afresh."
    return DatabaseUnavailable(f"{path} is damaged or not a c3desk database ({detail}); {advice}")


def _chain(exc: BaseException, limit: int = 16) -> list[BaseException]:
    """``exc`` and what it wraps (peewee keeps the sqlite3 error as its first argument) or
    happened during (a failed COMMIT is followed by a failed ROLLBACK, which hides it)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < limit:
        item = todo.pop(0)
        if any(item is s for s in seen):
            continue
        seen.append(item)
        if item.args and isinstance(item.args[0], BaseException):
            todo.append(item.args[0])
        for linked in (item.__cause__, item.__context__):
            if linked is not None:
                todo.append(linked)
    return seen


def _sqlite_error(exc: BaseException) -> sqlite3.Error | None:
    """The sqlite3 error behind ``exc`` (peewee wraps them)."""
    return next((e for e in _chain(exc) if isinstance(e, sqlite3.Error)), None)


def _no_space(err: BaseException) -> bool:
    if isinstance(err, sqlite3.Error):
        name = getattr(err, "sqlite_errorname", "")
        return name == "SQLITE_FULL" or "database or disk is full" in str(err)
    return isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)


def _read_only(err: BaseException) -> bool:
    if isinstance(err, sqlite3.Error):
        name = getattr(err, "sqlite_errorname", "")
        return name in _READ_ONLY or "readonly database" in str(err)
    return isinstance(err, OSError) and err.errno == errno.EROFS


def no_space(path: Path) -> str:
    return f"no space left on the disk that holds {path.parent}"


def storage_problem(exc: BaseException, path: Path) -> str | None:
    """One line naming why the data folder of the database at ``path`` takes no writes (its
    disk is full, it is read-only), when that is what ``exc`` comes from; else None."""
    chain = _chain(exc)
    if any(_no_space(e) for e in chain):
        return f"cannot write {path}: {no_space(path)}"
    if any(_read_only(e) for e in chain):
        return str(cannot_write(path))
    return None


def explain(exc: BaseException, path: Path) -> DatabaseUnavailable | None:
    """A one-line error for a database failure a user can act on, or None."""
    if any(_no_space(e) for e in _chain(exc)):
        return DatabaseUnavailable(
            f"cannot write {path}: {no_space(path)}; free some and try again"
        )
    err = _sqlite_error(exc)
    if err is None:
        return None
    name = getattr(err, "sqlite_errorname", "")
    text = str(err)
    if name in _DAMAGED or "not a database" in text or "malformed" in text:
        return damaged(path, text)
    if any(_read_only(e) for e in _chain(exc)):
        return cannot_write(path)
    if name == "SQLITE_CANTOPEN" or "unable to open" in text:
        return DatabaseUnavailable(f"cannot open {path}: {write_problem(path) or text}")
    return None


def connect(path: Path, *, read_only: bool = False) -> pw.SqliteDatabase:
    """Open the database at ``path`` and bind the models.

    Writable: created and migrated if needed, with its default rows. ``read_only``: opened as
    it is (it must exist and be up to date), nothing written. A database from a newer c3desk is
    refused before anything is written to it. Damaged files raise :class:`DatabaseUnavailable`.
    """
    try:
        return _open_read_only(path) if read_only else _open(path)
    except (sqlite3.Error, pw.DatabaseError) as exc:
        close()
        explained = explain(exc, path)
        if explained is None:
            raise
        raise explained from None


def _open(path: Path) -> pw.SqliteDatabase:
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


def _open_read_only(path: Path) -> pw.SqliteDatabase:
    if not path.exists():
        raise DatabaseUnavailable(
            f"there is no database at {path} yet, and it cannot be created: "
            f"{write_problem(path) or 'read-only'}"
        )
    uri = path.resolve().as_uri()
    database: pw.SqliteDatabase | None = None
    # A WAL database opens read-only only where SQLite can find or create its shared-memory
    # file; in a read-only folder with no writer about (no -shm file), nothing can change the
    # file meanwhile, so it may be read as immutable.
    for suffix in ("?mode=ro", "?mode=ro&immutable=1"):
        candidate = pw.SqliteDatabase(
            uri + suffix, uri=True, pragmas=READ_ONLY_PRAGMAS, timeout=30, check_same_thread=False
        )
        try:
            candidate.connect(reuse_if_open=True)
            conn: sqlite3.Connection = candidate.connection()  # type: ignore[no-untyped-call]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except (sqlite3.OperationalError, pw.OperationalError) as exc:
            candidate.close()
            err = _sqlite_error(exc)
            code = getattr(err, "sqlite_errorcode", 0) if err is not None else 0
            if code & 0xFF == sqlite3.SQLITE_CANTOPEN:
                continue
            raise
        database = candidate
        break
    if database is None:
        raise DatabaseUnavailable(f"cannot open {path} read-only: {write_problem(path)}")
    db.initialize(database)
    latest = migrations.LATEST_VERSION
    if version > latest:
        close()
        raise migrations.DatabaseTooNew(
            f"{path} has schema version {version}, newer than this c3desk understands "
            f"({latest}); upgrade c3desk. The database was not changed."
        )
    if version < latest:
        close()
        raise DatabaseUnavailable(
            f"{path} has schema version {version} and needs upgrading to {latest}, "
            f"which writes to it: {write_problem(path) or 'read-only'}"
        )
    return database


# The most sessions one worker may take (the range `worker add/set --max-sessions` accepts).
WORKER_LIMIT_MAX = 64


def local_worker_limit(global_limit: int, cpus: int | None) -> int:
    """The session limit the local worker is registered with.

    The schema's default (2) sits below the global limit's default (4), so a new user's global
    limit could never be reached and nothing said why. The local worker is the only worker at
    first start, so it takes at least the global limit; on a machine with more CPUs it takes
    one session per CPU, since an agent session is a CLI process plus the builds and tests it
    runs, and a core each keeps them from starving one another: a user raising the global limit
    up to the CPU count then gets what they asked for. Capped at :data:`WORKER_LIMIT_MAX`.
    """
    return max(1, min(WORKER_LIMIT_MAX, max(global_limit, cpus or 1)))


def ensure_defaults() -> None:
    """The settings row (seed defaults) and the local worker exist.

    The local worker's limit is chosen only when it is registered here, never afterwards: in
    an existing database a limit of 2 may be the schema's old default or a value the user set,
    and SQLite cannot tell the two apart, so the row is left as it is (no migration) and the
    capacity warning (c3desk.core.capacity, shown by `settings set` and the status bar) says
    when it holds the global limit back.
    """
    with db.atomic():
        Settings.insert(id=1).on_conflict_ignore().execute()
        if not Worker.select().where(Worker.type == "local").exists():
            global_limit = int(Settings.get_by_id(1).max_concurrent_sessions)
            Worker.insert(
                id=str(uuid.uuid4()),
                name=socket.gethostname() or "localhost",
                type="local",
                status="connected",
                last_heartbeat=clock.now(),
                max_sessions=local_worker_limit(global_limit, os.cpu_count()),
            ).execute()


def close() -> None:
    obj = db.obj
    if obj is not None and not obj.is_closed():
        obj.close()
