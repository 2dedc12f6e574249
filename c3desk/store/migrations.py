"""Numbered schema migrations, carried by ``PRAGMA user_version``.

Each migration is frozen SQL run in one IMMEDIATE transaction together with the version bump, so
a process killed half-way leaves the previous version intact and a rerun simply starts again.
Before an existing database is migrated, a consistent copy is written beside it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from c3desk.errors import Refused


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


def split_sql(script: str) -> tuple[str, ...]:
    """Split a script of ';'-terminated statements (no ';' inside literals), dropping comments."""
    lines = [ln for ln in script.splitlines() if not ln.lstrip().startswith("--")]
    return tuple(s.strip() for s in "\n".join(lines).split(";") if s.strip())


def _v1() -> tuple[str, ...]:
    text = resources.files("c3desk.store").joinpath("schema_v1.sql").read_text("utf-8")
    return split_sql(text)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the seed schema", _v1()),
    Migration(
        2,
        "session prompt, agent, exit code and failure reason; session events; agent command "
        "and scrollback limit settings",
        (
            "ALTER TABLE sessions ADD COLUMN prompt TEXT",
            "ALTER TABLE sessions ADD COLUMN agent TEXT NOT NULL DEFAULT 'claude'",
            "ALTER TABLE sessions ADD COLUMN exit_code INTEGER",
            "ALTER TABLE sessions ADD COLUMN failure_reason TEXT",
            """CREATE TABLE session_events (
                 id INTEGER NOT NULL PRIMARY KEY,
                 session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                 at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
                 kind TEXT NOT NULL,
                 detail TEXT
               )""",
            "CREATE INDEX idx_session_events_session ON session_events(session_id, id)",
            "ALTER TABLE settings ADD COLUMN claude_command TEXT NOT NULL DEFAULT 'claude' "
            "CHECK (length(claude_command) > 0)",
            "ALTER TABLE settings ADD COLUMN scrollback_limit_mb INTEGER NOT NULL DEFAULT 50 "
            "CHECK (scrollback_limit_mb BETWEEN 1 AND 10000)",
        ),
    ),
    Migration(
        3,
        "per-session auto-approve override; queue pause switch",
        (
            "ALTER TABLE sessions ADD COLUMN auto_approve INTEGER",
            "ALTER TABLE settings ADD COLUMN queue_paused INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    Migration(
        4,
        "when the session's current run started (started_at stays its first activation)",
        (
            "ALTER TABLE sessions ADD COLUMN activated_at TEXT",
            "UPDATE sessions SET activated_at = started_at WHERE status = 'active'",
        ),
    ),
    Migration(
        5,
        "what the worker's connection needs to find an active session's process again",
        ("ALTER TABLE sessions ADD COLUMN host_handle TEXT",),
    ),
    Migration(
        6,
        "seconds between heartbeats to SSH workers",
        (
            "ALTER TABLE settings ADD COLUMN worker_heartbeat_seconds INTEGER NOT NULL DEFAULT 10 "
            "CHECK (worker_heartbeat_seconds BETWEEN 1 AND 600)",
        ),
    ),
    Migration(
        7,
        "sessions hosted in tmux so that they outlive c3desk; how long a dropped worker's "
        "hosted sessions wait for it",
        (
            "ALTER TABLE settings ADD COLUMN persistent_sessions TEXT NOT NULL DEFAULT 'auto' "
            "CHECK (persistent_sessions IN ('auto', 'always', 'never'))",
            "ALTER TABLE settings ADD COLUMN reconnect_grace_seconds INTEGER NOT NULL "
            "DEFAULT 600 CHECK (reconnect_grace_seconds BETWEEN 0 AND 86400)",
        ),
    ),
    Migration(
        8,
        "git worktree isolation: a session's branch, base, repository and worktree; where "
        "worktrees go",
        (
            "ALTER TABLE sessions ADD COLUMN worktree_branch TEXT",
            "ALTER TABLE sessions ADD COLUMN worktree_base TEXT",
            "ALTER TABLE sessions ADD COLUMN worktree_repo TEXT",
            "ALTER TABLE sessions ADD COLUMN worktree_path TEXT",
            "ALTER TABLE settings ADD COLUMN worktree_root TEXT NOT NULL DEFAULT ''",
        ),
    ),
    Migration(
        9,
        "usage-limit pauses of an account (an agent on a worker) and the sessions they hold",
        (
            """CREATE TABLE usage_limit_pauses (
                 id INTEGER NOT NULL PRIMARY KEY,
                 agent TEXT NOT NULL,
                 worker_id TEXT NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
                 reset_at TEXT NOT NULL,
                 reset_text TEXT NOT NULL,
                 zone TEXT,
                 detected_at TEXT NOT NULL DEFAULT (datetime('now')),
                 lifted_at TEXT,
                 lifted_by TEXT CHECK (lifted_by IN ('reset', 'user')),
                 continued_at TEXT
               )""",
            "CREATE INDEX idx_usage_limit_pauses_open ON usage_limit_pauses(continued_at)",
            """CREATE TABLE usage_limit_sessions (
                 id INTEGER NOT NULL PRIMARY KEY,
                 pause_id INTEGER NOT NULL REFERENCES usage_limit_pauses(id) ON DELETE CASCADE,
                 session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                 auto_continue INTEGER NOT NULL DEFAULT 0,
                 continued_at TEXT,
                 how TEXT
               )""",
            "CREATE UNIQUE INDEX idx_usage_limit_sessions_pause "
            "ON usage_limit_sessions(pause_id, session_id)",
            "CREATE INDEX idx_usage_limit_sessions_session ON usage_limit_sessions(session_id)",
        ),
    ),
    Migration(
        10,
        "tokens and estimated cost per session, local day and model, read from the agent's "
        "transcripts; how far each transcript has been read",
        (
            """CREATE TABLE session_usage (
                 session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                 day TEXT NOT NULL,
                 model TEXT NOT NULL,
                 input_tokens INTEGER NOT NULL DEFAULT 0,
                 output_tokens INTEGER NOT NULL DEFAULT 0,
                 cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
                 cache_read_tokens INTEGER NOT NULL DEFAULT 0,
                 messages INTEGER NOT NULL DEFAULT 0,
                 cost REAL,
                 PRIMARY KEY (session_id, day, model)
               )""",
            "CREATE INDEX idx_session_usage_day ON session_usage(day)",
            """CREATE TABLE transcript_reads (
                 session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                 path TEXT NOT NULL,
                 offset INTEGER NOT NULL DEFAULT 0,
                 recent TEXT,
                 PRIMARY KEY (session_id, path)
               )""",
        ),
    ),
    Migration(
        11,
        "search across history: an FTS5 index over sessions' scrollback and transcripts",
        (
            # One row per indexed text of a session: how far its file has been read.
            # AUTOINCREMENT: a removed doc's id is never given again (its rows may still wait
            # for the indexer to purge them, see search_removed).
            """CREATE TABLE search_docs (
                 id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
                 session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                 kind TEXT NOT NULL CHECK (kind IN ('scrollback', 'transcript')),
                 inode INTEGER,
                 offset INTEGER NOT NULL DEFAULT 0,
                 lines INTEGER NOT NULL DEFAULT 0
               )""",
            "CREATE UNIQUE INDEX idx_search_docs_session ON search_docs(session_id, kind)",
            # Small groups of consecutive lines; `line` is the first one's number (1-based).
            """CREATE TABLE search_chunks (
                 id INTEGER NOT NULL PRIMARY KEY,
                 doc_id INTEGER NOT NULL,
                 line INTEGER NOT NULL,
                 text TEXT NOT NULL
               )""",
            "CREATE INDEX idx_search_chunks_doc ON search_chunks(doc_id)",
            "CREATE VIRTUAL TABLE search_fts USING fts5(text, content='search_chunks', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
            "CREATE TRIGGER search_chunks_added AFTER INSERT ON search_chunks BEGIN "
            "INSERT INTO search_fts(rowid, text) VALUES (new.id, new.text); END",
            "CREATE TRIGGER search_chunks_removed AFTER DELETE ON search_chunks BEGIN "
            "INSERT INTO search_fts(search_fts, rowid, text) VALUES ('delete', old.id, old.text); "
            "END",
            # A removed session's docs go at once (cascade); their rows, which can be many
            # (unindexing 50 MB of output takes over a second), are purged by the indexer in
            # short batches; searches join the docs, so they no longer show meanwhile.
            "CREATE TABLE search_removed (doc_id INTEGER NOT NULL PRIMARY KEY)",
            "CREATE TRIGGER search_docs_removed AFTER DELETE ON search_docs BEGIN "
            "INSERT OR IGNORE INTO search_removed (doc_id) VALUES (old.id); END",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


class DatabaseTooNew(Refused):
    """The file was written by a newer c3desk; it is left untouched."""


def read_version(path: Path) -> int:
    """Read ``user_version`` without writing to the file (read-only open, no WAL switch)."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def refuse_if_too_new(path: Path, latest: int = LATEST_VERSION) -> None:
    version = read_version(path)
    if version > latest:
        raise DatabaseTooNew(
            f"{path} has schema version {version}, newer than this c3desk understands "
            f"({latest}); upgrade c3desk. The database was not changed."
        )


def backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """Write a consistent copy (WAL included) of the database beside it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.v{version}-{stamp}.bak")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.v{version}-{stamp}-{n}.bak")
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    return target


def migrate(
    conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration] = MIGRATIONS
) -> list[int]:
    """Bring the database to the newest version; return the versions applied.

    ``conn`` must be in autocommit mode (``isolation_level=None``), as peewee's connections are.
    """
    latest = migrations[-1].version
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if current > latest:
        raise DatabaseTooNew(
            f"{path} has schema version {current}, newer than this c3desk understands "
            f"({latest}); upgrade c3desk. The database was not changed."
        )
    if current == latest:
        return []
    if current > 0:
        backup(conn, path, current)
    applied: list[int] = []
    for migration in migrations:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the lock: another process may have migrated meanwhile.
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if migration.version <= current:
                conn.execute("COMMIT")
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(migration.version)
    return applied
