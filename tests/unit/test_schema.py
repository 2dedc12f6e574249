"""The database c3desk creates has the seed's schema exactly, and the models agree with it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import peewee as pw
import pytest

from c3desk.config import Paths
from c3desk.store import models
from c3desk.store.migrations import split_sql

ROOT = Path(__file__).resolve().parents[2]
SEED_SQL = (ROOT / "tests" / "fixtures" / "seed_schema.sql").read_text()
SEED_TABLES = ("workers", "sessions", "artifacts", "settings")
MIGRATION_COLUMNS = {
    "sessions": [
        "prompt",
        "agent",
        "exit_code",
        "failure_reason",
        "auto_approve",
        "activated_at",
        "host_handle",
        "worktree_branch",
        "worktree_base",
        "worktree_repo",
        "worktree_path",
    ],
    "settings": [
        "claude_command",
        "scrollback_limit_mb",
        "queue_paused",
        "worker_heartbeat_seconds",
        "persistent_sessions",
        "reconnect_grace_seconds",
        "worktree_root",
    ],
    "workers": [],
    "artifacts": [],
}


def seed_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    for statement in split_sql(SEED_SQL):
        conn.execute(statement)
    return conn


def table_info(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in conn.execute(f"PRAGMA table_info({table})")]


def index_info(conn: sqlite3.Connection, table: str) -> set[tuple[object, ...]]:
    out = set()
    for _, name, unique, origin, partial in conn.execute(f"PRAGMA index_list({table})"):
        cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
        out.add((name, unique, origin, partial, cols))
    return out


def foreign_keys(conn: sqlite3.Connection, table: str) -> set[tuple[object, ...]]:
    return {tuple(r[2:]) for r in conn.execute(f"PRAGMA foreign_key_list({table})")}


def checks(conn: sqlite3.Connection, table: str) -> set[str]:
    (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    found = set()
    for match in re.finditer(r"CHECK\s*\(", sql):
        depth, i = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        found.add(re.sub(r"\s+", "", sql[match.end() : i - 1]))
    return found


def test_seed_fixture_is_the_seed_ddl() -> None:
    """The copy under tests/fixtures is the SQL of shared/seed/data-model.md, when that is here."""
    doc = ROOT.parent / "shared" / "seed" / "data-model.md"
    if not doc.exists():
        pytest.skip("shared/seed is not beside this checkout")
    block = re.search(r"```sql\n(.*?)```", doc.read_text(), re.S)
    assert block is not None
    assert split_sql(block.group(1)) == split_sql(SEED_SQL)


@pytest.mark.parametrize("table", SEED_TABLES)
def test_created_schema_equals_seed(db: Paths, table: str) -> None:
    ours = sqlite3.connect(db.db)
    seed = seed_db()
    mine = table_info(ours, table)
    theirs = table_info(seed, table)
    # Seed columns first and identical (cid, name, type, notnull, default, pk) ...
    assert mine[: len(theirs)] == theirs
    # ... then only the columns the migrations add.
    assert [c[1] for c in mine[len(theirs) :]] == MIGRATION_COLUMNS[table]
    assert index_info(ours, table) >= index_info(seed, table)
    assert {i[0] for i in index_info(ours, table)} == {i[0] for i in index_info(seed, table)}
    assert foreign_keys(ours, table) == foreign_keys(seed, table)
    assert checks(ours, table) >= checks(seed, table)


def test_five_seed_indexes_exist(db: Paths) -> None:
    conn = sqlite3.connect(db.db)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {
        "idx_sessions_status",
        "idx_sessions_worker",
        "idx_sessions_position",
        "idx_sessions_needs_input",
        "idx_artifacts_session",
    } <= names


def plain_tables(conn: sqlite3.Connection) -> set[str]:
    """The tables, without full-text (virtual) tables and the shadow tables SQLite keeps for
    them: those have no model (c3desk.core.search reads them with SQL)."""
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'").fetchall()
    virtual = [name for name, sql in rows if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    return {
        name for name, _ in rows if not any(name == v or name.startswith(v + "_") for v in virtual)
    }


def test_models_produce_the_migrated_schema(db: Paths) -> None:
    """peewee's own DDL for the models equals what the frozen migrations built."""
    migrated = sqlite3.connect(db.db)
    scratch = pw.SqliteDatabase(":memory:")
    with scratch.bind_ctx(models.ALL_MODELS):
        scratch.create_tables(models.ALL_MODELS)
        conn = scratch.connection()
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert set(tables) == plain_tables(migrated)
        for table in tables:
            assert table_info(conn, table) == table_info(migrated, table), table
            assert index_info(conn, table) == index_info(migrated, table), table
            assert foreign_keys(conn, table) == foreign_keys(migrated, table), table
            assert checks(conn, table) == checks(migrated, table), table


def test_pragmas_on_every_connection(db: Paths) -> None:
    conn = models.db.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sessions (id, working_directory, status) VALUES ('s2', '/tmp', 'paused')",
        "INSERT INTO workers (id, name, type) VALUES ('w2', 'w', 'cloud')",
        "INSERT INTO workers (id, name, type, status) VALUES ('w3', 'w', 'local', 'up')",
        "INSERT INTO artifacts (id, session_id, type, path) VALUES ('a1', 's1', 'video', '/x')",
        "INSERT INTO artifacts (id, session_id, type, path) VALUES ('a2', 'nope', 'file', '/x')",
        "INSERT INTO settings (id) VALUES (2)",
        "INSERT INTO settings (id) VALUES (1)",
        "UPDATE settings SET grid_layout = '4x4'",
        "UPDATE settings SET theme = 'blue'",
        "UPDATE settings SET claude_command = ''",
        "INSERT INTO sessions (id, status) VALUES ('s3', 'queued')",
        "INSERT INTO session_events (session_id, kind) VALUES ('nope', 'x')",
    ],
)
def test_constraints_reject_bad_rows(db: Paths, statement: str) -> None:
    conn = models.db.connection()
    conn.execute("INSERT INTO sessions (id, working_directory) VALUES ('s1', '/tmp')")
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(statement)


def test_artifacts_cascade_with_their_session(db: Paths) -> None:
    conn = models.db.connection()
    conn.execute("INSERT INTO sessions (id, working_directory) VALUES ('s1', '/tmp')")
    conn.execute(
        "INSERT INTO artifacts (id, session_id, type, path) VALUES ('a', 's1', 'pdf', '/x')"
    )
    conn.execute("DELETE FROM sessions WHERE id = 's1'")
    assert conn.execute("SELECT count(*) FROM artifacts").fetchone()[0] == 0


def test_first_use_creates_local_worker_and_default_settings(db: Paths) -> None:
    import socket

    workers = list(models.Worker.select().dicts())
    assert len(workers) == 1
    assert workers[0]["type"] == "local"
    assert workers[0]["status"] == "connected"
    assert workers[0]["name"] == socket.gethostname()
    # Enough for the global default (4) to be reached on first start (issue 15).
    assert workers[0]["max_sessions"] >= 4
    settings = list(models.Settings.select().dicts())
    assert settings == [
        {
            "id": 1,
            "max_concurrent_sessions": 4,
            "max_visible_sessions": 2,
            "auto_approve": False,
            "grid_layout": "auto",
            "theme": "dark",
            "claude_command": "claude",
            "scrollback_limit_mb": 50,
            "queue_paused": False,
            "worker_heartbeat_seconds": 10,
            "persistent_sessions": "auto",
            "reconnect_grace_seconds": 600,
            "worktree_root": "",
        }
    ]
