"""Issue 17's crash test over SSH: `c3desk run --headless` is killed with SIGKILL while two
sessions hosted in tmux on an SSH worker (the loopback sshd) wait at permission boxes; the next
start reattaches both over a new connection, with the same pids and their screens, and answers
typed with `c3desk send` reach them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CliResult
from helpers.cli import Headless
from helpers.polling import alive, wait_for
from helpers.remote import remote_agent
from helpers.sshd import Sshd, keygen_fingerprint, running_sshd

BOX = "Do you want to proceed?"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Sshd]:
    with running_sshd(tmp_path / "sshd") as started:
        yield started


@pytest.fixture
def env(home: Path, tmp_path: Path) -> dict[str, str]:
    user = tmp_path / "user"
    (user / ".ssh").mkdir(parents=True)
    out = dict(os.environ, C3DESK_HOME=str(home), HOME=str(user))
    out.pop("SSH_AUTH_SOCK", None)  # only the worker's key file may log in
    return out


@pytest.fixture
def run(env: dict[str, str]) -> Callable[..., CliResult]:
    def call(*args: str) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "c3desk", *args],
            capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return call


@pytest.fixture
def headless(home: Path, env: dict[str, str]) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    runner = Headless(home, env)
    yield runner.start
    runner.close()


def test_a_killed_instance_reattaches_both_hosted_sessions_on_the_ssh_worker(
    run: Callable[..., CliResult], headless: Any, server: Sshd, tmp_path: Path
) -> None:
    def ok(*args: str) -> str:
        result = run(*args)
        assert result.returncode == 0, (args, result.stderr)
        return result.stdout.strip()

    ok("worker", "add", "box", "--host", server.host, "--port", str(server.port),
       "--user", server.user, "--key", str(server.user_key))  # fmt: skip
    ok("worker", "trust", "box", "--fingerprint",
       str(keygen_fingerprint(server.host_key.with_suffix(".pub"))))  # fmt: skip
    # The server is this machine: the agent is the fake one, started by its full path.
    ok("settings", "set", "claude_command", str(remote_agent(tmp_path)))
    work = tmp_path / "remote work"
    work.mkdir()
    ids = {
        name: ok("add", "--title", name, "--dir", str(work), "--worker", "box",
                 "--prompt", f"say {name}-BEFORE-THE-CRASH; ask make {name}")
        for name in ("one", "two")
    }  # fmt: skip

    def screen(sid: str) -> str:
        result = run("screen", sid)
        return result.stdout if result.returncode == 0 else ""

    def rows() -> dict[str, dict[str, Any]]:
        return {s["title"]: s for s in json.loads(ok("list", "--json"))}

    first = headless()
    for sid in ids.values():
        wait_for(lambda sid=sid: BOX in screen(sid), what="a permission box over SSH")
    before = rows()
    pids = {name: before[name]["pid"] for name in ids}
    assert all(before[name]["host_handle"].startswith("tmux:") for name in ids)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert all(alive(pid) for pid in pids.values())  # the server is this machine

    headless()
    for name, sid in ids.items():
        wait_for(
            lambda sid=sid, name=name: (
                f"{name}-BEFORE-THE-CRASH" in screen(sid) and BOX in screen(sid)
            ),
            what=f"{name}'s screen from before the crash",
        )
    after = rows()
    assert {name: (after[name]["status"], after[name]["pid"]) for name in ids} == {
        name: ("active", pid) for name, pid in pids.items()
    }
    for name, sid in ids.items():
        ok("send", sid, "1")
        wait_for(lambda sid=sid, name=name: f"Ran make {name}" in screen(sid), what="approved")
    for sid in ids.values():
        ok("kill", sid)
    wait_for(lambda: not any(alive(pid) for pid in pids.values()), what="the agents' ends")
