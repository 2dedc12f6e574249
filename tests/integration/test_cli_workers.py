"""Issue 13, defect 10 on the command line: why a queued session waits (`show`), and removing a
worker with queued sessions only when told where they go (`worker rm --reassign-to/--drop`)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from helpers.cli import one_line_error


def add_worker(cli: Any, name: str) -> None:
    cli("worker", "add", name, "--host", "127.0.0.1", "--port", "2222", check=True)


def add(cli: Any, title: str, worker: str | None = None) -> str:
    # A remote worker's folder is not checked here; a local one must exist.
    extra = ["--worker", worker] if worker else []
    folder = "/srv/project" if worker else "/tmp"
    result = cli("add", "--title", title, "--dir", folder, *extra, check=True)
    return str(result.stdout.strip())


def by_title(cli: Any) -> dict[str, dict[str, Any]]:
    return {s["title"]: s for s in cli("list", "--json", check=True).json()}


def worker_names(cli: Any) -> set[str]:
    return {w["name"] for w in cli("worker", "list", "--json", check=True).json()}


def test_worker_rm_with_queued_sessions_asks_where_they_go(cli: Any) -> None:
    add_worker(cli, "vps")
    add_worker(cli, "other")
    a, b = add(cli, "a", "vps"), add(cli, "b", "vps")
    before = cli("list", "--json", check=True).stdout

    one_line_error(cli("worker", "rm", "vps"), 1, "'vps'", "2 queued", "--reassign-to", "--drop")
    both = cli("worker", "rm", "vps", "--drop", "--reassign-to", "any")
    one_line_error(both, 2, "--drop", "--reassign-to")
    one_line_error(cli("worker", "rm", "vps", "--reassign-to", "ghost"), 2, "ghost")
    assert "vps" in worker_names(cli)
    assert cli("list", "--json", check=True).stdout == before  # nothing moved, nothing gone

    out = cli("worker", "rm", "vps", "--reassign-to", "other", check=True).stdout
    assert out.strip() == "removed worker vps; its 2 queued session(s) now wait for other"
    other = next(
        w for w in cli("worker", "list", "--json", check=True).json() if w["name"] == "other"
    )
    now = by_title(cli)
    assert {now["a"]["worker_id"], now["b"]["worker_id"]} == {other["id"]}
    assert [now["a"]["id"], now["b"]["id"]] == [a, b]
    assert "worker_removed" in [e["kind"] for e in cli("events", a, "--json", check=True).json()]


def test_worker_rm_drop_and_reassign_to_any(cli: Any) -> None:
    add_worker(cli, "gone")
    add_worker(cli, "spare")
    add(cli, "dropped", "gone")
    add(cli, "kept", "spare")
    add(cli, "anywhere")
    out = cli("worker", "rm", "gone", "--drop", check=True).stdout
    assert out.strip() == "removed worker gone; dropped its 1 queued session(s)"
    assert set(by_title(cli)) == {"kept", "anywhere"}
    assert [s["position"] for s in by_title(cli).values()] == [1, 2]  # no gap left

    out = cli("worker", "rm", "spare", "--reassign-to", "ANY", check=True).stdout
    assert out.strip() == "removed worker spare; its 1 queued session(s) now wait for any worker"
    assert by_title(cli)["kept"]["worker_id"] is None
    # No queued sessions: nothing to ask.
    add_worker(cli, "empty")
    assert cli("worker", "rm", "empty", check=True).stdout.strip() == "removed worker empty"


def test_show_says_why_a_queued_session_waits(cli: Any, home: Path) -> None:
    add_worker(cli, "vps")
    remote = add(cli, "remote", "vps")
    local = add(cli, "local")

    shown = cli("show", remote, check=True).stdout
    line = next(ln for ln in shown.splitlines() if ln.startswith("waiting"))
    assert "worker 'vps' is disconnected" in line
    assert (
        cli("show", remote, "--json", check=True)
        .json()["waiting"]
        .startswith("worker 'vps' is disconnected")
    )

    cli("pause", check=True)
    assert "the queue is paused" in cli("show", local, "--json", check=True).json()["waiting"]
    cli("resume", check=True)
    # A free slot, but no instance to start it: the answer says so instead of "starting".
    waiting = cli("show", local, "--json", check=True).json()["waiting"]
    assert waiting == "no c3desk instance is running to start it"

    conn = sqlite3.connect(home / "c3desk.db")
    conn.execute("UPDATE sessions SET status='completed', position=NULL WHERE id=?", (local,))
    conn.commit()
    conn.close()
    assert cli("show", local, "--json", check=True).json()["waiting"] is None
    assert "waiting" not in cli("show", local, check=True).stdout
