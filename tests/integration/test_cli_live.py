"""Commands that talk to a running instance: `screen`, `send`, `run --headless --until-idle`.

Real parts throughout: a headless instance in a subprocess, the fake Claude Code in real PTYs,
the CLI as a subprocess against the same data directory.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from helpers.cli import asks_session, one_line_error, stderr_line
from helpers.polling import wait_for

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"


def serving(cli: Any, home: Path) -> bool:
    return (home / "control.sock").exists() and cli("resume").returncode == 0


def by_title(cli: Any) -> dict[str, dict[str, Any]]:
    return {s["title"]: s for s in cli("list", "--json", check=True).json()}


# --- defect 4: screen and send agree on sessions that are not running ---------------------------


def test_screen_of_a_session_not_running_is_one_line_like_send(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("pause", check=True)  # nothing starts: the sessions stay queued
    queued = cli("add", "--title", "q", "--dir", str(tmp_path), check=True).stdout.strip()
    done = cli("add", "--title", "d", "--dir", str(tmp_path), check=True).stdout.strip()
    conn = sqlite3.connect(home / "c3desk.db")
    conn.execute("UPDATE sessions SET status='completed', position=NULL WHERE id=?", (done,))
    conn.commit()
    conn.close()
    headless()
    wait_for(lambda: (home / "control.sock").exists(), what="the control socket")

    for sid, status in ((queued, "queued"), (done, "completed")):
        screen = cli("screen", sid)
        assert screen.stdout == ""  # not fifty blank rows
        shown = one_line_error(screen, 1, sid, f"is {status}, not running")
        sent = one_line_error(cli("send", sid, "hello"), 1)
        assert shown == sent
    one_line_error(cli("screen", "deadbeef"), 2, "deadbeef")
    one_line_error(cli("screen", "deadbeef", "--all"), 2, "deadbeef")
    # With an instance running, `show` gives the queue's own reason (defect 10).
    assert cli("show", queued, "--json", check=True).json()["waiting"] == "the queue is paused"


def test_screen_drops_trailing_blank_rows_unless_all(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = cli(
        "add", "--title", "s", "--dir", str(tmp_path), "--prompt", "say hello", check=True
    ).stdout.strip()
    headless()
    # needs_input: the idle prompt has settled, so the screen no longer changes.
    wait_for(lambda: by_title(cli)["s"]["needs_input"], what="the idle prompt")
    trimmed = cli("screen", sid, check=True).stdout.split("\n")
    full = cli("screen", sid, "--all", check=True).stdout.split("\n")
    assert trimmed[-1] == "" and full[-1] == ""  # each row ends with a newline
    trimmed, full = trimmed[:-1], full[:-1]
    assert trimmed[-1].strip()  # the last row printed has text
    assert len(full) > len(trimmed)  # the fake draws inline: blank rows below it
    assert full[: len(trimmed)] == trimmed
    assert not any(row.strip() for row in full[len(trimmed) :])


# --- defect 7: --until-idle ends when the work is done; --exit-idle completes idle sessions ------


def test_until_idle_ends_sessions_idle_at_their_prompt_so_they_complete(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    """One slot, three sessions: each idle session is done and makes way for the next (before,
    the first one sat at its prompt and the run never ended)."""
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    cli("settings", "set", "max_concurrent_sessions", "1", check=True)
    for title in ("first", "second", "no prompt"):
        extra = [] if title == "no prompt" else ["--prompt", f"say I am {title}"]
        cli("add", "--title", title, "--dir", str(tmp_path), *extra, check=True)
    proc = headless("--until-idle")
    assert proc.wait(90) == 0
    final = by_title(cli)
    assert {t: (s["status"], s["exit_code"], s["failure_reason"]) for t, s in final.items()} == {
        "first": ("completed", 0, None),
        "second": ("completed", 0, None),
        "no prompt": ("completed", 0, None),
    }
    log = Path(final["second"]["terminal_scrollback"]).read_bytes()
    assert b"I am second" in log and b"/exit" in log
    states = [
        json.loads(e["detail"])["state"]
        for e in cli("events", final["first"]["id"], "--json", check=True).json()
        if e["kind"] == "agent"
    ]
    assert "idle" in states  # it ended from its idle prompt, not in the middle of its turn


def test_exit_idle_ends_an_idle_session_while_another_is_busy(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    for title, prompt in (("quick", "say done"), ("slow", "think 600")):
        cli("add", "--title", title, "--dir", str(tmp_path), "--prompt", prompt, check=True)
    proc = headless("--exit-idle")
    wait_for(lambda: by_title(cli)["quick"]["status"] == "completed", what="quick to complete")
    assert by_title(cli)["slow"]["status"] == "active"  # still thinking: not idle, left alone
    assert proc.poll() is None
    cli("kill", by_title(cli)["slow"]["id"], check=True)
    assert proc.wait(30) == 0
    assert by_title(cli)["quick"]["exit_code"] == 0


def test_until_idle_waits_for_a_session_that_needs_an_answer(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = asks_session(cli, tmp_path)
    proc = headless("--exit-idle")
    line = stderr_line(proc)
    assert f"session {sid[:8]} waits for input" in line and "c3desk send" in line
    assert proc.poll() is None  # it said it waits: a permission box is not idle
    assert by_title(cli)["asks"]["needs_input"] is True
    cli("send", sid, "1", check=True)  # approve: the turn ends, then /exit completes it
    assert proc.wait(60) == 0
    row = by_title(cli)["asks"]
    assert row["status"] == "completed"
    assert b"Ran make test" in Path(row["terminal_scrollback"]).read_bytes()


def test_until_idle_says_why_queued_sessions_stay_queued(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("pause", check=True)
    sid = cli("add", "--title", "held", "--dir", str(tmp_path), check=True).stdout.strip()
    proc = headless("--until-idle")
    line = stderr_line(proc)
    assert f"session {sid[:8]} stays queued: the queue is paused" in line
    cli("rm", sid, check=True)  # nothing left: the run ends
    assert proc.wait(30) == 0
