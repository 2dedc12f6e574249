"""Issue 4's acceptance path: sessions added with the CLI, run by a headless instance, driven
and watched through the control socket with `send`, `screen`, `kill`, `continue`, `retry`."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.cli import Headless, asks_session
from helpers.polling import alive, wait_for

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"


@pytest.fixture
def agent_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    argv_log = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_CLAUDE_ARGV_LOG", str(argv_log))
    return argv_log


@pytest.fixture
def headless(home: Path, agent_env: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    runner = Headless(home)
    yield runner.start
    runner.close()


def sessions(cli: Any) -> dict[str, dict[str, Any]]:
    return {s["title"]: s for s in cli("list", "--json", check=True).json()}


def screen(cli: Any, sid: str) -> str:
    result = cli("screen", sid)
    return result.stdout if result.returncode == 0 else ""


def test_three_sessions_limit_two_end_to_end(
    cli: Any, home: Path, tmp_path: Path, headless: Any, agent_env: Path
) -> None:
    work = tmp_path / "proj"
    work.mkdir()
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    cli("settings", "set", "max_concurrent_sessions", "2", check=True)
    ids = {
        t: cli(
            "add", "--title", t, "--dir", str(work), "--prompt", f"say I am {t}", check=True
        ).stdout.strip()
        for t in ("one", "two", "three")
    }
    # No --until-idle: this test drives sessions idle at their prompt, which would count as
    # done (tests/integration/test_cli_live.py covers --until-idle and --exit-idle).
    proc = headless()
    wait_for(lambda: [s["status"] for s in sessions(cli).values()].count("active") == 2)

    # A session is active from the moment it is given a slot; its pid comes once its process
    # has started (live values while the instance runs).
    def started() -> dict[str, Any] | None:
        now = sessions(cli)
        return now if now["one"]["pid"] and now["two"]["pid"] else None

    now = wait_for(started)
    assert now["three"]["status"] == "queued" and now["three"]["position"] == 1

    # The control socket: private, and the single-instance guard.
    sock = home / "control.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    second = subprocess.run(
        [sys.executable, "-m", "c3desk", "run", "--headless"],
        env=dict(os.environ, C3DESK_HOME=str(home)),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1 and "another c3desk instance" in second.stderr

    one = ids["one"]
    wait_for(lambda: "I am one" in screen(cli, one) and "? for shortcuts" in screen(cli, one))
    cli("send", one, "hello there", check=True)
    wait_for(lambda: "You said: hello there" in screen(cli, one), what="typed text answered")
    cli("send", one, "draft", "--no-enter", check=True)
    wait_for(lambda: "> draft" in screen(cli, one))
    cli("send", one, "--key", "ctrl-u", check=False)  # not a named key: refused
    for _ in "draft":
        cli("send", one, "--key", "backspace", check=True)
    wait_for(lambda: "> draft" not in screen(cli, one))
    cli("send", one, "/exit", check=True)
    wait_for(lambda: sessions(cli)["one"]["status"] == "completed")
    wait_for(lambda: sessions(cli)["three"]["status"] == "active", what="third activated")

    # kill → failed, retry → back in the queue and running again, resuming its conversation.
    two = ids["two"]
    cli("kill", two, check=True)
    killed = sessions(cli)["two"]
    assert killed["status"] == "failed" and killed["failure_reason"] == "killed by the user"
    assert cli("retry", two, check=True).stdout.strip().endswith(("queued", "active"))

    wait_for(lambda: sessions(cli)["two"]["status"] == "active", what="two retried")

    # continue → queued while both slots are taken, then the same conversation with
    # --resume <its id> once a slot frees.
    assert cli("continue", one, check=True).stdout.strip().endswith("queued")
    three = ids["three"]
    wait_for(lambda: "? for shortcuts" in screen(cli, three))
    cli("send", three, "/exit", check=True)
    wait_for(lambda: sessions(cli)["one"]["status"] == "active", what="one continued")
    row = sessions(cli)["one"]
    assert row["continuation_count"] == 1

    def resumed() -> list[str]:
        """The conversation ids agents were started to resume (the agent logs its argv as it
        starts, which may come a moment after the session turned active)."""
        starts = [json.loads(line)["argv"] for line in agent_env.read_text().splitlines()]
        return [argv[argv.index("--resume") + 1] for argv in starts if "--resume" in argv]

    wait_for(lambda: row["claude_session_id"] in resumed(), what="one resumed as its conversation")

    # End everything with /exit, then stop the instance.
    def exit_active() -> bool:
        now = sessions(cli)
        for s in now.values():
            if s["status"] == "active" and "? for shortcuts" in screen(cli, s["id"]):
                cli("send", s["id"], "/exit")
        return all(s["status"] == "completed" for s in now.values())

    wait_for(exit_active, timeout=60, what="every session to complete")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
    final = sessions(cli)
    assert {t: s["status"] for t, s in final.items()} == {
        "one": "completed",
        "two": "completed",
        "three": "completed",
    }
    for s in final.values():
        assert s["pid"] is None and s["position"] is None and s["completed_at"]
        log = Path(s["terminal_scrollback"])
        assert log.is_file() and log.stat().st_size > 0
    events = cli("events", two, "--json", check=True).json()
    states = [json.loads(e["detail"])["to"] for e in events if e["kind"] == "state"]
    assert states == ["active", "failed", "queued", "active", "completed"]
    assert not sock.exists()


def test_live_commands_need_an_instance(cli: Any, tmp_path: Path) -> None:
    sid = cli("add", "--title", "x", "--dir", str(tmp_path), check=True).stdout.strip()
    for args in (["send", sid, "hi"], ["screen", sid], ["kill", sid]):
        result = cli(*args)
        assert result.returncode == 1
        assert "no c3desk instance is running" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    # Queue operations work without one.
    assert cli("pause", check=True).stdout.strip() == "queue paused"
    assert cli("settings", "--json", check=True).json()["queue_paused"] is True
    cli("resume", check=True)


def test_stale_socket_from_a_crashed_instance_is_replaced(
    cli: Any, home: Path, headless: Any
) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(home / "control.sock"))
    stale.close()  # the file stays, nobody listens: what a crash leaves behind
    first = headless()
    wait_for(lambda: cli("pause").returncode == 0 and (home / "control.sock").exists())
    first.kill()  # SIGKILL: no clean-up at all
    first.wait()
    second = headless()
    wait_for(lambda: second.poll() is None and cli("resume").stdout.strip() == "queue resumed")
    assert cli("settings", "--json", check=True).json()["queue_paused"] is False


def test_sigterm_with_persistent_sessions_never_ends_them(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    cli("settings", "set", "persistent_sessions", "never", check=True)
    sid = cli(
        "add", "--title", "long", "--dir", str(tmp_path), "--prompt", "think 600", check=True
    ).stdout.strip()
    proc = headless()
    pid = wait_for(lambda: sessions(cli)["long"]["pid"])
    assert not sessions(cli)["long"]["host_handle"].startswith("tmux:")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    row = sessions(cli)["long"]
    assert row["status"] == "failed" and row["failure_reason"] == "stopped when c3desk quit"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sid == row["id"]


def test_sigterm_keeps_hosted_sessions_and_the_next_start_reattaches_them(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    """The default (tmux is here): quitting leaves the agent working; the next instance takes
    it over, and ending it from there leaves nothing behind."""
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = cli(
        "add", "--title", "long", "--dir", str(tmp_path), "--prompt", "say STILL-HERE; think 600",
        check=True,
    ).stdout.strip()  # fmt: skip
    proc = headless()
    pid = wait_for(lambda: sessions(cli)["long"]["pid"])
    assert sessions(cli)["long"]["host_handle"].startswith(f"tmux:c3desk-{sid}_")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    row = sessions(cli)["long"]
    assert row["status"] == "active" and row["pid"] == pid and alive(pid)
    headless()
    wait_for(lambda: "STILL-HERE" in screen(cli, sid), what="the screen from before the quit")
    assert sessions(cli)["long"]["status"] == "active" and sessions(cli)["long"]["pid"] == pid
    cli("kill", sid, check=True)
    wait_for(lambda: sessions(cli)["long"]["status"] == "failed", what="the end")
    wait_for(lambda: not alive(pid), what="the agent's end")


def test_a_killed_instance_restarts_with_both_hosted_sessions_mid_turn(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    """Issue 17's crash test: SIGKILL the headless instance while two hosted sessions wait at
    a permission box; the next start finds both with the same pids and their screens, and the
    answer typed with `c3desk send` reaches each."""
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    ids = {
        name: cli(
            "add", "--title", name, "--dir", str(tmp_path),
            "--prompt", f"say {name}-BEFORE-THE-CRASH; ask make {name}", check=True,
        ).stdout.strip()
        for name in ("one", "two")
    }  # fmt: skip
    first = headless()
    for sid in ids.values():
        wait_for(lambda sid=sid: "Do you want to proceed?" in screen(cli, sid), what="a box")
    pids = {name: sessions(cli)[name]["pid"] for name in ids}
    first.kill()
    first.wait(10)
    assert all(alive(pid) for pid in pids.values())
    headless()
    for name, sid in ids.items():
        wait_for(
            lambda sid=sid, name=name: (
                f"{name}-BEFORE-THE-CRASH" in screen(cli, sid)
                and "Do you want to proceed?" in screen(cli, sid)
            ),
            what=f"{name}'s screen from before the crash",
        )
    rows = sessions(cli)
    assert {name: (rows[name]["status"], rows[name]["pid"]) for name in ids} == {
        name: ("active", pid) for name, pid in pids.items()
    }
    for name, sid in ids.items():
        cli("send", sid, "1", check=True)
        wait_for(lambda sid=sid, name=name: f"Ran make {name}" in screen(cli, sid), what="approved")


def test_permission_prompt_approved_with_send_1(
    cli: Any, home: Path, tmp_path: Path, headless: Any
) -> None:
    """Issue 5's acceptance through the command line: needs_input within 2 s, `send ID 1`."""
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    sid = asks_session(cli, tmp_path)
    headless()
    wait_for(lambda: "Do you want to proceed?" in screen(cli, sid), what="the permission box")
    shown = time.monotonic()
    wait_for(lambda: sessions(cli)["asks"]["needs_input"], timeout=2.0, what="needs_input")
    assert time.monotonic() - shown <= 2.0
    cli("send", sid, "1", check=True)
    wait_for(lambda: "Ran make test" in screen(cli, sid), what="the approval")
    agent = [
        json.loads(e["detail"])
        for e in cli("events", sid, "--json", check=True).json()
        if e["kind"] == "agent"
    ]
    typed = next(i for i, e in enumerate(agent) if e["source"] == "input")
    assert agent[typed - 1]["state"] == "waiting" and agent[typed - 1]["needs_input"] is True
    assert agent[typed]["needs_input"] is False  # cleared the moment the user answered
