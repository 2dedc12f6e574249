"""Schema versions: upgrades keep rows, newer files are refused untouched, crashes are harmless."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from c3desk.errors import Refused
from c3desk.store import database, migrations
from c3desk.store.models import Session, Settings, Worker


def make_v1(path: Path) -> None:
    """A database as the seed schema (version 1) leaves it, with rows in every table."""
    conn = sqlite3.connect(path)
    for statement in migrations.MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO workers (id, name, type, status) VALUES ('w1', 'box', 'local', 'connected')"
    )
    conn.execute(
        "INSERT INTO sessions (id, worker_id, status, working_directory, title, position, lock)"
        " VALUES ('s1', 'w1', 'queued', '/tmp', 'First', 1, 1)"
    )
    conn.execute(
        "INSERT INTO sessions (id, status, working_directory, title, claude_session_id)"
        " VALUES ('s2', 'completed', '/srv', 'Second', 'abc')"
    )
    conn.execute(
        "INSERT INTO artifacts (id, session_id, type, path)"
        " VALUES ('a1', 's2', 'pdf', '/srv/x.pdf')"
    )
    conn.execute("INSERT INTO settings (id, max_concurrent_sessions, theme) VALUES (1, 7, 'light')")
    conn.commit()
    conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_version_1_database_upgrades_with_rows_intact(tmp_path: Path) -> None:
    path = tmp_path / "c3desk.db"
    make_v1(path)
    database.connect(path)
    try:
        assert migrations.read_version(path) == migrations.LATEST_VERSION
        s1 = Session.get_by_id("s1")
        assert (s1.title, s1.position, s1.lock, s1.worker_id) == ("First", 1, True, "w1")
        assert s1.agent == "claude" and s1.prompt is None and s1.exit_code is None
        assert Session.get_by_id("s2").claude_session_id == "abc"
        assert [a.path for a in Session.get_by_id("s2").artifacts] == ["/srv/x.pdf"]
        settings = Settings.get_by_id(1)
        assert (settings.max_concurrent_sessions, settings.theme) == (7, "light")
        assert settings.claude_command == "claude" and settings.scrollback_limit_mb == 50
        # The existing local worker is kept, not duplicated.
        assert [w.id for w in Worker.select()] == ["w1"]
    finally:
        database.close()
    backups = list(tmp_path.glob("c3desk.db.v1-*.bak"))
    assert len(backups) == 1
    conn = sqlite3.connect(backups[0])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 2


def test_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "c3desk.db"
    make_v1(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST_VERSION + 5}")
    conn.commit()
    conn.close()
    before = digest(path)
    with pytest.raises(Refused, match="newer"):
        database.connect(path)
    assert digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c3desk.db"]


def test_newer_database_is_refused_by_the_cli(tmp_path: Path, cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    path = home / "c3desk.db"
    make_v1(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    before = digest(path)
    result = cli("list")
    assert result.returncode == 1
    assert "999" in result.stderr and "newer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert digest(path) == before


CRASHER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import peewee as pw
    from c3desk.store import migrations

    path = Path(sys.argv[1])
    real = migrations.MIGRATIONS[1]
    half = len(real.statements) // 2
    # A migration 2 whose process dies after half of its statements ran.
    class Dying(tuple):
        def __iter__(self):
            for i, statement in enumerate(tuple.__iter__(self)):
                if i == half:
                    os._exit(9)
                yield statement
    crashing = migrations.Migration(2, real.description, Dying(real.statements))
    db = pw.SqliteDatabase(str(path), pragmas=[("journal_mode", "wal")])
    db.connect()
    migrations.migrate(db.connection(), path, [migrations.MIGRATIONS[0], crashing])
    """
)


def test_migration_killed_half_way_leaves_a_usable_database(tmp_path: Path) -> None:
    path = tmp_path / "c3desk.db"
    make_v1(path)
    proc = subprocess.run([sys.executable, "-c", CRASHER, str(path)], capture_output=True)
    assert proc.returncode == 9, proc.stderr
    # Half of migration 2 ran and was rolled back: still version 1, no new column.
    assert migrations.read_version(path) == 1
    conn = sqlite3.connect(path)
    assert "prompt" not in [r[1] for r in conn.execute("PRAGMA table_info(sessions)")]
    conn.close()
    database.connect(path)
    try:
        assert migrations.read_version(path) == migrations.LATEST_VERSION
        assert Session.get_by_id("s1").title == "First"
    finally:
        database.close()


def test_fresh_database_is_not_backed_up(tmp_path: Path) -> None:
    database.connect(tmp_path / "c3desk.db")
    database.close()
    assert not list(tmp_path.glob("*.bak"))
