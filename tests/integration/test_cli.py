"""The command line end to end: real subprocesses against a real database file."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import one_line_error

from c3desk.core.sessions import COLUMNS


def test_version(cli: Any) -> None:
    from c3desk import __version__

    result = cli("--version", check=True)
    assert result.stdout.strip() == f"c3desk {__version__}"


def test_add_list_move_settings(cli: Any, home: Path, tmp_path: Path) -> None:
    work = tmp_path / "proj"
    work.mkdir()
    ids = []
    for title in ("Refactor Auth", "Fix Nav Bug", "Write docs"):
        result = cli("add", "--title", title, "--dir", str(work), check=True)
        lines = result.stdout.splitlines()
        assert len(lines) == 1
        ids.append(str(uuid.UUID(lines[0])))
    result = cli("add", "--title", "Pinned", "--dir", str(work), "--prompt", "hello", "--lock")
    ids.append(result.stdout.strip())

    listed = cli("list", "--json", check=True).json()
    assert [s["id"] for s in listed] == ids
    assert [s["position"] for s in listed] == [1, 2, 3, 4]
    for row in listed:
        assert set(row) == set(COLUMNS)
        assert row["status"] == "queued" and row["needs_input"] is False
        assert row["working_directory"] == str(work.resolve())
    assert listed[3]["lock"] is True and listed[3]["prompt"] == "hello"
    assert listed[3]["agent"] == "claude"

    cli("move", ids[2][:8], "1", check=True)
    listed = cli("list", "--json", check=True).json()
    assert [(s["title"], s["position"]) for s in listed] == [
        ("Write docs", 1),
        ("Refactor Auth", 2),
        ("Fix Nav Bug", 3),
        ("Pinned", 4),
    ]
    # The database file itself agrees (another program reading it sees the same queue).
    conn = sqlite3.connect(home / "c3desk.db")
    rows = conn.execute(
        "SELECT title, position FROM sessions WHERE status = 'queued' ORDER BY position"
    ).fetchall()
    assert rows == [(s["title"], s["position"]) for s in listed]

    cli("rm", ids[0], check=True)
    listed = cli("list", "--json", check=True).json()
    assert [s["position"] for s in listed] == [1, 2, 3]

    cli("unlock", ids[3], check=True)
    assert cli("show", ids[3], "--json", check=True).json()["lock"] is False
    table = cli("list", check=True).stdout
    assert "Write docs" in table and "POS" in table

    cli("settings", "set", "max_concurrent_sessions", "2", check=True)
    cli("settings", "set", "theme", "light", check=True)
    settings = cli("settings", "--json", check=True).json()
    assert settings["max_concurrent_sessions"] == 2 and settings["theme"] == "light"
    assert cli("list", "--json", "--status", "queued", check=True).json()[0]["title"] == (
        "Write docs"
    )
    events = cli("events", ids[2], "--json", check=True).json()
    assert [e["kind"] for e in events] == ["created", "moved"]


def test_workers(cli: Any, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    cli(
        "worker",
        "add",
        "vps-01",
        "--host",
        "127.0.0.1",
        "--port",
        "2222",
        "--user",
        "me",
        "--key",
        str(key),
        "--max-sessions",
        "3",
        check=True,
    )
    workers = cli("worker", "list", "--json", check=True).json()
    remote = [w for w in workers if w["type"] == "remote"]
    assert len(workers) == 2 and len(remote) == 1
    assert (remote[0]["ssh_port"], remote[0]["ssh_user"], remote[0]["max_sessions"]) == (
        2222,
        "me",
        3,
    )
    assert remote[0]["status"] == "disconnected"
    work = tmp_path / "w"
    work.mkdir()
    cli("add", "--title", "t", "--dir", "/remote/path", "--worker", "vps-01", check=True)
    cli("worker", "set", "vps-01", "--max-sessions", "5", "--port", "2200", check=True)
    local = next(w["name"] for w in workers if w["type"] == "local")
    cli("worker", "set", local, "--max-sessions", "9", check=True)
    changed = {w["name"]: w for w in cli("worker", "list", "--json", check=True).json()}
    assert (changed["vps-01"]["max_sessions"], changed["vps-01"]["ssh_port"]) == (5, 2200)
    assert changed[local]["max_sessions"] == 9
    # Its queued session is not moved silently: the removal asks where it goes.
    refused = cli("worker", "rm", "vps-01")
    one_line_error(refused, 1, "vps-01", "1 queued", "--reassign-to", "--drop")
    assert len(cli("worker", "list", "--json", check=True).json()) == 2
    moved = cli("worker", "rm", "vps-01", "--reassign-to", "any", check=True).stdout
    assert "1 queued session(s) now wait for any worker" in moved
    assert len(cli("worker", "list", "--json", check=True).json()) == 1
    assert cli("list", "--json", check=True).json()[0]["worker_id"] is None


@pytest.mark.parametrize(
    "args,code,needles",
    [
        (["add", "--title", "x", "--dir", "/no/such/dir"], 2, ["/no/such/dir"]),
        (["add", "--title", "", "--dir", "/tmp"], 2, ["title"]),
        (["add", "--title", "x", "--dir", "relative"], 2, ["relative"]),
        (["add", "--title", "x", "--dir", "/tmp", "--worker", "ghost"], 2, ["ghost"]),
        (["add", "--title", "x", "--dir", "/tmp", "--agent", "nobody"], 2, ["nobody"]),
        (["add", "--dir", "/tmp"], 2, ["--title"]),
        (["show", "deadbeef"], 2, ["deadbeef"]),
        (["move", "deadbeef", "1"], 2, ["deadbeef"]),
        (["move", "x", "two"], 2, ["two"]),
        (["rm", "deadbeef"], 2, ["deadbeef"]),
        (["lock", "deadbeef"], 2, ["deadbeef"]),
        (["settings", "set", "max_concurrent_sessions", "0"], 2, ["0", "max_concurrent"]),
        (["settings", "set", "max_visible_sessions", "12"], 2, ["12"]),
        (["settings", "set", "grid_layout", "5x5"], 2, ["5x5"]),
        (["settings", "set", "theme", "pink"], 2, ["pink"]),
        (["settings", "set", "auto_approve", "perhaps"], 2, ["perhaps"]),
        (["settings", "set", "claude_command", ""], 2, ["claude_command"]),
        (["settings", "set", "colour", "red"], 2, ["colour"]),
        (["worker", "rm", "ghost"], 2, ["ghost"]),
        (["worker", "set", "ghost", "--max-sessions", "3"], 2, ["ghost"]),
        (["worker", "add", "w", "--host", "h", "--port", "99999"], 2, ["99999"]),
        (["list", "--status", "sleeping"], 2, ["sleeping"]),
        (["frobnicate"], 2, ["frobnicate"]),
    ],
)
def test_bad_input_one_line_nothing_written(
    cli: Any, home: Path, args: list[str], code: int, needles: list[str]
) -> None:
    cli("list", check=True)  # the database exists
    before = cli("list", "--json", check=True).stdout
    settings_before = cli("settings", "--json", check=True).stdout
    one_line_error(cli(*args), code, *needles)
    assert cli("list", "--json", check=True).stdout == before
    assert cli("settings", "--json", check=True).stdout == settings_before


def test_refused_operations_exit_1(cli: Any, home: Path, tmp_path: Path) -> None:
    sid = cli("add", "--title", "x", "--dir", str(tmp_path), check=True).stdout.strip()
    conn = sqlite3.connect(home / "c3desk.db")
    conn.execute("UPDATE sessions SET status='active', position=NULL WHERE id=?", (sid,))
    conn.commit()
    one_line_error(cli("rm", sid), 1, sid, "active")
    one_line_error(cli("move", sid, "1"), 1, "active")
    local = cli("worker", "list", "--json", check=True).json()[0]["name"]
    one_line_error(cli("worker", "rm", local), 1, "local")
    one_line_error(cli("worker", "set", local, "--host", "example"), 1, "local")
    one_line_error(cli("worker", "set", local, "--max-sessions", "65"), 2, "65")
    cli("worker", "add", "dup", "--host", "127.0.0.1", check=True)
    one_line_error(cli("worker", "add", "dup", "--host", "127.0.0.1"), 1, "dup")


def test_home_flag_overrides_environment(cli: Any, tmp_path: Path) -> None:
    other = tmp_path / "other-home"
    cli("--home", str(other), "add", "--title", "x", "--dir", str(tmp_path), check=True)
    assert (other / "c3desk.db").exists()
    assert cli("list", "--json", check=True).json() == []
    assert len(cli("--home", str(other), "list", "--json", check=True).json()) == 1


def test_unusable_home_is_one_line_error(cli: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    one_line_error(cli("--home", str(blocker / "sub"), "list"), 2, str(blocker))


def test_corrupt_database_is_one_line_error(cli: Any, home: Path) -> None:
    (home / "c3desk.db").write_bytes(b"this is not sqlite" * 100)
    result = cli("list")
    one_line_error(result, 1, "database")


def test_no_display_is_one_line_error(home: Path) -> None:
    import os
    import subprocess
    import sys

    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["C3DESK_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-m", "c3desk"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--headless" in proc.stderr
