"""Shared fixtures: a temporary data directory, an open database, the CLI as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers import forkcli
from helpers.forkcli import Zygote
from helpers.tmuxhost import private_tmux

from c3desk.config import Paths
from c3desk.store import database
from c3desk.transports.tmux import TmuxHost

ROOT = Path(__file__).resolve().parent.parent

# On a machine whose shell profile runs `pyenv init` (this project's CI image), every login
# shell rehashes under a lock file, and a shell killed at the wrong moment (tests end agents
# and their process groups) leaves the lock behind: every later shell then waits 60 s on it
# (the real Claude Code's Bash tool among them: CI saw four real-CLI tests time out so). One
# second, for everything the tests start (the test sshd's sessions get the same).
os.environ.setdefault("PYENV_REHASH_TIMEOUT", "1")


@pytest.fixture(autouse=True)
def _restore_environment() -> Iterator[None]:
    """Whatever a test exports (CLAUDE_CONFIG_DIR, FAKE_CLAUDE_SPEED...) ends with it."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True, scope="session")
def _private_tmux() -> Iterator[Path]:
    """Every tmux server the tests start (c3desk hosts sessions in tmux by default) puts its
    socket in a folder of this run's: none meets the user's own tmux or c3desk's, and all
    are ended at the end."""
    # Short: a socket path has at most 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="c3t-", dir="/tmp"))
    os.environ["TMUX_TMPDIR"] = str(folder)
    yield folder
    _end_tmux_servers(folder, set())
    shutil.rmtree(folder, ignore_errors=True)


def _tmux_sockets(folder: Path) -> set[Path]:
    return set((folder / f"tmux-{os.getuid()}").glob("*"))


def _end_tmux_servers(folder: Path, keep: set[Path]) -> None:
    for sock in _tmux_sockets(folder) - keep:
        subprocess.run(["tmux", "-S", str(sock), "kill-server"], capture_output=True, check=False)
        with contextlib.suppress(OSError):
            sock.unlink()


@pytest.fixture(autouse=True)
def _no_leftover_tmux(_private_tmux: Path) -> Iterator[None]:
    """Hosted sessions a test kept running (quitting keeps them) end with the test."""
    before = _tmux_sockets(_private_tmux)
    yield
    _end_tmux_servers(_private_tmux, before)


def _children() -> list[int]:
    path = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except OSError:
        return []


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    """Fail a test that leaves a child process (or an unreaped zombie) behind."""
    before = set(_children())
    yield
    left = [p for p in _children() if p not in before and p not in forkcli.PIDS]
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)
    assert not left, f"the test left child processes behind: {left}"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh data directory, also exported as C3DESK_HOME for child processes."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("C3DESK_HOME", str(path))
    return path


@pytest.fixture
def db(home: Path) -> Iterator[Paths]:
    """An open, migrated database in the temporary data directory."""
    paths = Paths(home)
    database.connect(paths.db)
    yield paths
    database.close()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture(scope="session")
def cli_zygote() -> Iterator[Zygote]:
    zygote = Zygote()
    yield zygote
    zygote.close()


@pytest.fixture
def cli(home: Path, cli_zygote: Zygote) -> Any:
    """Run ``c3desk ARGS...`` as a process of its own against the temporary home (forked from
    a zygote that has imported c3desk: see helpers/forkcli.py)."""

    def run(*args: str, check: bool = False, timeout: float = 60) -> CliResult:
        env = dict(os.environ, C3DESK_HOME=str(home))
        code, out, err = cli_zygote.run(args, env, timeout)
        result = CliResult(code, out, err)
        if check and code != 0:
            raise AssertionError(f"c3desk {args} failed: {code} {err}")
        return result

    return run


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[TmuxHost]:
    """A tmux server of the test's own (helpers/tmuxhost.py), killed after it."""
    host = private_tmux(tmp_path)
    try:
        yield host
    finally:
        asyncio.run(host.kill_server())


@pytest.fixture
def headless(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts a headless instance on ``home`` (fake agents quick, their config in tmp_path);
    whatever it started ends with the test. (Modules with a ``headless`` of their own use
    theirs.)"""
    from helpers.cli import Headless

    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    runner = Headless(home)
    yield runner.start
    runner.close()
