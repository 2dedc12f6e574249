"""Real git repositories for tests, independent of the machine's git configuration."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from c3desk.core import sessions as sess
from c3desk.core import worktree_ops
from c3desk.store.models import Session
from c3desk.transports.connection import WorkerInfo
from c3desk.transports.local_connection import LocalConnection

# A folder name no shell may read as code, that git must not read as an option.
HOSTILE = "-x $(touch pwned) `touch pwned2` 'q\" ü ;x "  # (ends in a space)


def isolate_git(monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    """Git as on a fresh machine: no system or user config, an identity for commits."""
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(where / "no-gitconfig"))
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.invalid")


def git(where: Path | str, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(where), *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def make_repo(path: Path) -> Path:
    """A repository on branch main with one commit (readme.txt)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "readme.txt").write_text("one\n")
    git(path, "add", "readme.txt")
    git(path, "commit", "-q", "-m", "first")
    return path


def commit(where: Path | str, name: str, text: str, message: str = "change") -> None:
    Path(where, name).write_text(text)
    git(where, "add", name)
    git(where, "commit", "-q", "-m", message)


def clean(repo: Path) -> bool:
    return git(repo, "status", "--porcelain") == ""


def made(sid: str, folder: Path) -> Path:
    """Make the session's worktree as its activation does (the local machine's connection)."""
    conn = LocalConnection(WorkerInfo("local-id", "local", "local"))
    cwd = asyncio.run(worktree_ops.place(conn, sid, str(folder)))
    s = Session.get_by_id(sid)
    sess.transition(sid, "active", worker=None)
    sess.transition(sid, "completed")
    assert s.worktree_path is not None
    assert cwd == s.worktree_path
    return Path(s.worktree_path)
