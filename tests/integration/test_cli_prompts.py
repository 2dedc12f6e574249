"""Answering prompts from the command line: `run --until-idle` says one line per prompt, and
`send` types exactly what it is given (several lines as one message; nothing only when asked).

Real parts: a headless instance in a subprocess, the fake Claude Code (and `cat`) in real
terminals, the CLI as a subprocess against the same data folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from helpers.cli import asks_session, one_line_error, stderr_line
from helpers.polling import wait_for

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"


def session(cli: Any, sid: str) -> dict[str, Any]:
    row: dict[str, Any] = cli("show", sid, "--json", check=True).json()
    return row


def agent_states(cli: Any, sid: str) -> list[tuple[str, str, str]]:
    """(state, reason, source) of each change of the session's agent, oldest first."""
    found = []
    for event in cli("events", sid, "--json", check=True).json():
        if event["kind"] == "agent":
            detail = json.loads(event["detail"])
            found.append((detail["state"], detail["reason"], detail["source"]))
    return found


def user_messages(config: Path) -> list[str]:
    """What the fake Claude Code took as the user's messages, from its transcripts."""
    texts = []
    for path in sorted(config.glob("projects/*/*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            content = entry.get("message", {}).get("content")
            if entry.get("type") == "user" and isinstance(content, str):
                texts.append(content)
    return texts


def test_until_idle_says_one_line_for_one_permission_box(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    """The fake, as Claude Code, runs its PermissionRequest hook before it draws the box: the
    hook reports the box ("permission_prompt"), then the settled screen names it ("bash").
    Before, each printed its line."""
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = asks_session(cli, tmp_path)
    proc = headless("--exit-idle")
    first = stderr_line(proc)
    assert f"session {sid[:8]} waits for input (permission_prompt)" in first
    # The screen has named the same box since: the line it would have printed is due.
    wait_for(
        lambda: ("waiting", "bash", "screen") in agent_states(cli, sid), what="the box on screen"
    )
    states = agent_states(cli, sid)
    assert states.index(("waiting", "permission_prompt", "hook")) < states.index(
        ("waiting", "bash", "screen")
    )
    cli("send", sid, "1", check=True)  # approve: the turn ends, then /exit completes it
    assert proc.wait(60) == 0
    assert proc.stderr is not None
    rest = proc.stderr.read().splitlines()
    assert [line for line in rest if "waits for input" in line] == []
    assert session(cli, sid)["status"] == "completed"


def test_send_refuses_an_empty_text_and_enter_is_a_key(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = asks_session(cli, tmp_path)
    headless()
    wait_for(lambda: session(cli, sid)["needs_input"], what="the permission box")
    for args in ([], [""], ["", "--no-enter"]):
        line = one_line_error(cli("send", sid, *args), 2, "c3desk send: nothing to type")
        assert "TEXT is ''" in line and "--key enter" in line
    assert session(cli, sid)["needs_input"] is True  # the box was not answered
    one_line_error(cli("send", sid, "--key", ""), 2, "unknown key ''")
    cli("send", sid, "--key", "enter", check=True)  # asked for by name: its default, Yes
    wait_for(
        lambda: b"Ran make test" in Path(session(cli, sid)["terminal_scrollback"]).read_bytes(),
        what="the approved command",
    )


def test_send_keeps_a_text_of_several_lines_one_message(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = cli("add", "--title", "idle", "--dir", str(tmp_path), check=True).stdout.strip()
    headless()
    wait_for(lambda: session(cli, sid)["needs_input"], what="the idle prompt")
    cli("send", sid, "say line1\nline2", "--no-enter", check=True)
    wait_for(lambda: "line2" in cli("screen", sid, check=True).stdout, what="the text typed")
    assert user_messages(tmp_path / "claude-config") == []  # nothing submitted yet
    cli("send", sid, "--key", "enter", check=True)
    wait_for(lambda: user_messages(tmp_path / "claude-config"), what="the message")
    assert user_messages(tmp_path / "claude-config") == ["say line1\nline2"]
    cli("send", sid, "say a\r\nb\rc\x1b[201~d\n", check=True)  # sent as one, Enter after it
    wait_for(lambda: len(user_messages(tmp_path / "claude-config")) == 2, what="the 2nd message")
    assert user_messages(tmp_path / "claude-config")[1] == "say a\nb\nc[201~d\n"


def test_send_refuses_several_lines_where_they_cannot_be_pasted(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    """`cat` never turns bracketed paste on: each newline would be Enter."""
    (home / "agents.toml").write_text('[cat]\nextends = "shell"\ncommand = ["cat"]\n')
    sid = cli(
        "add", "--title", "cat", "--dir", str(tmp_path), "--agent", "cat", check=True
    ).stdout.strip()
    headless()
    wait_for(lambda: cli("screen", sid).returncode == 0, what="cat to run")
    line = one_line_error(cli("send", sid, "one\ntwo"), 1, sid, "bracketed paste")
    assert "send one line" in line
    cli("send", sid, "one line", check=True)
    wait_for(lambda: "one line" in cli("screen", sid, check=True).stdout, what="the echo")
    assert "two" not in cli("screen", sid, check=True).stdout
