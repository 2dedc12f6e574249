"""`c3desk worker check` and `worker trust` against a real sshd on 127.0.0.1, run as the CLI.

HOME points at a temporary folder, so the user's own ~/.ssh/known_hosts is never read (the
trust store reads ``Path.home() / ".ssh" / "known_hosts"``), and stdin is not a terminal unless
a test gives it a real PTY.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from conftest import CliResult
from helpers.engine import FAKE
from helpers.sshd import Sshd, free_port, keygen, keygen_fingerprint, running_sshd

Run = Callable[..., CliResult]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Sshd]:
    with running_sshd(tmp_path / "sshd") as started:
        yield started


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    (path / ".ssh").mkdir(parents=True)
    return path


@pytest.fixture
def run(home: Path, user_home: Path) -> Iterator[Run]:
    def call(*args: str, stdin: int | IO[bytes] | None = subprocess.DEVNULL) -> CliResult:
        env = dict(os.environ, C3DESK_HOME=str(home), HOME=str(user_home))
        env.pop("SSH_AUTH_SOCK", None)  # only the worker's key file may log in
        proc = subprocess.run(
            [sys.executable, "-m", "c3desk", *args],
            capture_output=True,
            text=True,
            env=env,
            # A bound for a hang, not a measurement: an untrusted key must not wait for input.
            timeout=60,
            stdin=stdin,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    yield call


def add_worker(run: Run, server: Sshd, name: str = "box", key: Path | None = None) -> None:
    result = run(
        "worker", "add", name, "--host", server.host, "--port", str(server.port),
        "--user", server.user, "--key", str(key or server.user_key),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # The agent the server runs (the server is this machine): found by its full path.
    assert run("settings", "set", "claude_command", str(FAKE)).returncode == 0


def host_fingerprint(server: Sshd) -> str:
    return str(keygen_fingerprint(server.host_key.with_suffix(".pub")))


def test_check_of_an_untrusted_host_fails_at_once_printing_the_fingerprint(
    run: Run, server: Sshd, home: Path
) -> None:
    add_worker(run, server)
    result = run("worker", "check", "box")
    expected = host_fingerprint(server)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{server.host}:{server.port}" in lines[0]
    assert expected in lines[0]
    assert f"c3desk worker trust box --fingerprint {expected}" in lines[0]
    assert not (home / "known_hosts").exists()


def test_trust_with_the_right_fingerprint_then_check_connects(
    run: Run, server: Sshd, home: Path
) -> None:
    add_worker(run, server)
    expected = host_fingerprint(server)
    trusted = run("worker", "trust", "box", "--fingerprint", expected)
    assert trusted.returncode == 0, trusted.stderr
    assert expected in trusted.stdout
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    assert (home / "known_hosts").read_text() == f"[{server.host}]:{server.port} {kind} {blob}\n"
    # The agent is found, with the version it reports, and tmux's.
    checked = run("worker", "check", "box")
    assert checked.returncode == 0, checked.stderr
    assert "connected" in checked.stdout
    assert f"{FAKE}: {FAKE} (" in checked.stdout
    assert "(Claude Code)" in checked.stdout
    assert "tmux: tmux " in checked.stdout
    # An agent the server's login shell does not find: connected, but sessions would fail.
    assert run("settings", "set", "claude_command", "no-claude-here --x").returncode == 0
    checked = run("worker", "check", "box")
    assert checked.returncode == 1
    assert "connected" in checked.stdout
    assert "no-claude-here: not found on the PATH of the login shell there" in checked.stdout
    assert "is not installed or not on the login shell's PATH" in checked.stderr
    again = run("worker", "trust", "box", "--fingerprint", expected)
    assert again.returncode == 0 and "already trusted" in again.stdout


def test_trust_with_a_wrong_fingerprint_writes_nothing(run: Run, server: Sshd, home: Path) -> None:
    add_worker(run, server)
    other = keygen(home.parent / "otherkey")
    wrong = keygen_fingerprint(other.with_suffix(".pub"))
    result = run("worker", "trust", "box", "--fingerprint", wrong)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert host_fingerprint(server) in result.stderr and wrong in result.stderr
    assert not (home / "known_hosts").exists()
    assert run("worker", "check", "box").returncode == 1


def test_trust_without_a_terminal_or_fingerprint_refuses(
    run: Run, server: Sshd, home: Path
) -> None:
    add_worker(run, server)
    result = run("worker", "trust", "box")
    assert result.returncode == 1
    assert "--fingerprint" in result.stderr
    assert host_fingerprint(server) in result.stderr
    assert "[y/N]" not in result.stdout
    assert not (home / "known_hosts").exists()


@pytest.mark.parametrize("answer", ["y", "n"])
def test_trust_on_a_terminal_asks(run: Run, server: Sshd, home: Path, answer: str) -> None:
    add_worker(run, server)
    controller, terminal = pty.openpty()
    try:
        # The terminal keeps the typed line until the prompt reads it.
        os.write(controller, f"{answer}\n".encode())
        result = run("worker", "trust", "box", stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)
    assert host_fingerprint(server) in result.stdout
    assert "Trust this key? [y/N]" in result.stdout
    if answer == "y":
        assert result.returncode == 0, result.stderr
        assert run("worker", "check", "box").returncode == 0
    else:
        assert result.returncode == 1
        assert not (home / "known_hosts").exists()


def test_the_users_known_hosts_is_read(run: Run, server: Sshd, user_home: Path) -> None:
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    (user_home / ".ssh" / "known_hosts").write_text(
        f"[{server.host}]:{server.port} {kind} {blob}\n"
    )
    add_worker(run, server)
    result = run("worker", "check", "box")
    assert result.returncode == 0, result.stderr


def test_a_changed_key_fails_in_one_line_and_cannot_be_trusted(
    run: Run, server: Sshd, user_home: Path, home: Path
) -> None:
    old = keygen(home.parent / "oldhostkey")
    kind, blob = old.with_suffix(".pub").read_text().split()[:2]
    (user_home / ".ssh" / "known_hosts").write_text(
        f"[{server.host}]:{server.port} {kind} {blob}\n"
    )
    add_worker(run, server)
    checked = run("worker", "check", "box")
    assert checked.returncode == 1
    assert len(checked.stderr.strip().splitlines()) == 1
    assert "CHANGED" in checked.stderr
    trusted = run("worker", "trust", "box", "--fingerprint", host_fingerprint(server))
    assert trusted.returncode == 1 and "CHANGED" in trusted.stderr
    assert not (home / "known_hosts").exists()


def test_a_revoked_key_fails_in_one_line(run: Run, server: Sshd, user_home: Path) -> None:
    kind, blob = server.host_key.with_suffix(".pub").read_text().split()[:2]
    (user_home / ".ssh" / "known_hosts").write_text(f"@revoked * {kind} {blob}\n")
    add_worker(run, server)
    checked = run("worker", "check", "box")
    assert checked.returncode == 1
    assert len(checked.stderr.strip().splitlines()) == 1
    assert "revoked" in checked.stderr


def test_a_refused_login_names_the_reason(run: Run, server: Sshd, home: Path) -> None:
    stranger = keygen(home.parent / "stranger")
    add_worker(run, server, key=stranger)
    assert run("worker", "trust", "box", "--fingerprint", host_fingerprint(server)).returncode == 0
    checked = run("worker", "check", "box")
    assert checked.returncode == 1
    assert len(checked.stderr.strip().splitlines()) == 1
    assert "authentication" in checked.stderr and str(stranger) in checked.stderr


def test_an_unreachable_host_names_the_reason(run: Run, home: Path) -> None:
    port = free_port()  # nothing listens there
    added = run("worker", "add", "gone", "--host", "127.0.0.1", "--port", str(port))
    assert added.returncode == 0, added.stderr
    checked = run("worker", "check", "gone")
    assert checked.returncode == 1
    assert len(checked.stderr.strip().splitlines()) == 1
    assert f"127.0.0.1 port {port}" in checked.stderr and "refused" in checked.stderr.lower()
    trusted = run("worker", "trust", "gone")
    assert trusted.returncode == 1 and "refused" in trusted.stderr.lower()


def test_check_of_the_local_worker_says_it_is_this_machine(run: Run, home: Path) -> None:
    listed = run("worker", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    local = next(w["name"] for w in listed.json() if w["type"] == "local")
    result = run("worker", "check", local)
    assert result.returncode == 0, result.stderr
    assert "this machine" in result.stdout
    assert "  tmux: tmux 3." in result.stdout and "(sessions outlive c3desk)" in result.stdout
    assert run("settings", "set", "persistent_sessions", "never").returncode == 0
    assert (
        "persistent_sessions is never: sessions end with c3desk"
        in run("worker", "check", local).stdout
    )
    # Not found, it says where it looked (the common install folders too).
    assert run("settings", "set", "claude_command", "no-such-claude").returncode == 0
    missing = run("worker", "check", local)
    assert "command not found: no-such-claude (looked in: " in missing.stdout
    assert "/usr/local/bin" in missing.stdout
    trusted = run("worker", "trust", local)
    assert trusted.returncode == 1 and "this machine" in trusted.stderr
