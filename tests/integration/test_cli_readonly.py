"""A data folder or database that cannot be written, and a damaged database (issue 13, defect 6).

Tests run as root, for whom permission bits change nothing, so "read-only" here is the real
thing for everyone: a read-only bind mount, made in a private mount namespace (`unshare -m`)
around one CLI process, so nothing outside that process sees it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import one_line_error

from c3desk.store import migrations

CLI = (sys.executable, "-m", "c3desk")
READ_ONLY_MOUNT = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'


def run_read_only(target: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``c3desk ARGS`` with ``target`` (a folder or a file) mounted read-only."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", READ_ONLY_MOUNT, str(target), *CLI, *args],
        env=dict(os.environ, C3DESK_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def filled(cli: Any, home: Path, tmp_path: Path) -> str:
    """A data folder with a session, its events and changed settings; every file closed."""
    sid = cli("add", "--title", "kept", "--dir", str(tmp_path), check=True).stdout.strip()
    cli("settings", "set", "theme", "light", check=True)
    assert not (home / "c3desk.db-shm").exists()  # the last connection cleaned up after itself
    return str(sid)


READING = [
    ["list"],
    ["list", "--json"],
    ["show", "SID"],
    ["show", "SID", "--json"],
    ["events", "SID"],
    ["artifacts", "SID"],
    ["settings"],
    ["settings", "--json"],
    ["worker", "list"],
]

WRITING = [
    ["add", "--title", "new", "--dir", "/tmp"],
    ["move", "SID", "1"],
    ["rm", "SID"],
    ["lock", "SID"],
    ["settings", "set", "theme", "dark"],
    ["worker", "add", "w", "--host", "127.0.0.1"],
    ["pause"],
    ["run", "--headless"],
]


def _fill(args: list[str], sid: str) -> list[str]:
    return [sid if a == "SID" else a for a in args]


def test_reading_commands_work_on_a_read_only_folder(cli: Any, home: Path, filled: str) -> None:
    expected = {tuple(a): cli(*_fill(a, filled), check=True).stdout for a in READING}
    for args in READING:
        result = run_read_only(home, home, *_fill(args, filled))
        assert (result.returncode, result.stderr) == (0, ""), (args, result.stderr)
        assert result.stdout == expected[tuple(args)], args
    # Live commands still say what they need (no instance), in one line.
    one_line_error(run_read_only(home, home, "screen", filled), 1, "no c3desk instance")


def test_writing_commands_on_a_read_only_folder_name_the_file(
    cli: Any, home: Path, filled: str
) -> None:
    before = cli("list", "--json", check=True).stdout
    settings = cli("settings", "--json", check=True).stdout
    db = str(home / "c3desk.db")
    for args in WRITING:
        result = run_read_only(home, home, *_fill(args, filled))
        one_line_error(result, 1, f"cannot write {db}", "read-only")
    assert cli("list", "--json", check=True).stdout == before
    assert cli("settings", "--json", check=True).stdout == settings


def test_a_read_only_database_file_in_a_writable_folder(cli: Any, home: Path, filled: str) -> None:
    db = home / "c3desk.db"
    expected = cli("list", "--json", check=True).stdout
    result = run_read_only(db, home, "list", "--json")
    assert (result.returncode, result.stderr, result.stdout) == (0, "", expected)
    line = one_line_error(run_read_only(db, home, "lock", filled), 1, f"cannot write {db}")
    assert "read-only" in line
    assert cli("show", filled, "--json", check=True).json()["lock"] is False


def test_a_read_only_folder_without_a_database(tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    result = run_read_only(home, home, "list")
    one_line_error(result, 1, str(home / "c3desk.db"), "read-only")
    assert list(home.iterdir()) == []


def test_a_damaged_database_names_its_file_and_backups(cli: Any, home: Path) -> None:
    db = home / "c3desk.db"
    db.write_bytes(b"this is not sqlite" * 300)
    line = one_line_error(cli("list"), 1, str(db), "damaged", "no backups")
    assert "add" not in line  # a plain sentence, not a usage message
    one_line_error(cli("add", "--title", "x", "--dir", "/tmp"), 1, str(db), "no backups")


def test_a_damaged_database_lists_the_backups_migrations_made(cli: Any, home: Path) -> None:
    db = home / "c3desk.db"
    # An older schema: the CLI migrates it, leaving a copy beside it.
    conn = sqlite3.connect(db, isolation_level=None)
    migrations.migrate(conn, db, migrations.MIGRATIONS[:2])
    conn.close()
    cli("list", check=True)
    backups = sorted(p.name for p in home.glob("c3desk.db.v2-*.bak"))
    assert len(backups) == 1
    for extra in ("c3desk.db-wal", "c3desk.db-shm"):
        (home / extra).unlink(missing_ok=True)
    db.write_bytes(b"\x00garbage" * 1000)
    one_line_error(cli("list"), 1, str(db), "damaged", *backups)


def test_a_read_only_database_that_needs_upgrading_is_one_line_error(home: Path) -> None:
    db = home / "c3desk.db"
    conn = sqlite3.connect(db, isolation_level=None)
    migrations.migrate(conn, db, migrations.MIGRATIONS[:2])
    conn.close()
    result = run_read_only(home, home, "list")
    one_line_error(result, 1, str(db), "schema version 2", "read-only")
    assert sorted(p.name for p in home.iterdir()) == ["c3desk.db"]  # no backup, no log
