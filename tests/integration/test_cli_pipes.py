"""Output into a pipe whose reader goes away (`c3desk list | head -1`) ends the command quietly:
status 141 (128 + SIGPIPE, what a shell reports for `yes | head -1`), nothing on stderr, no
traceback in the log. Real pipes, real processes: `python -m c3desk` in bash and in a pipe;
with Python's stdout buffered (as users run it) and unbuffered (PYTHONUNBUFFERED, as CI may).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.store.models import db as database

# More than a pipe holds (64 KiB) and more than `head` reads at once: the command is still
# writing when `head` has its line and leaves.
SESSIONS = 1500


@pytest.fixture(params=["buffered", "unbuffered"])
def stdout_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "buffered":
        monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    else:
        monkeypatch.setenv("PYTHONUNBUFFERED", "1")
    return str(request.param)


@pytest.fixture
def many(db: Paths, tmp_path: Path) -> Paths:
    folder = tmp_path / ("a-folder-with-a-long-name-" * 3)
    folder.mkdir()
    with database.atomic():
        for n in range(SESSIONS):
            sess.create_session(
                title=f"needle session {n} " + "padding " * 20,
                working_directory=str(folder),
                prompt="find the needle " + "and more words " * 20,
            )
    return db


def c3desk(*args: str) -> str:
    return " ".join([sys.executable, "-m", "c3desk", *args])


def pipeline(command: str) -> subprocess.CompletedProcess[str]:
    """``command`` in bash with pipefail: its status is c3desk's when c3desk fails."""
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def log_text(paths: Paths) -> str:
    return "".join(p.read_text() for p in paths.log_dir.glob("*.log"))


def quiet_end(result: subprocess.CompletedProcess[str], paths: Paths) -> None:
    assert (result.returncode, result.stderr) == (141, ""), (result.returncode, result.stderr)
    assert "Traceback" not in log_text(paths)
    assert "unexpected error" not in log_text(paths)


@pytest.mark.parametrize(
    ("args", "lines", "first"),
    [
        (("list",), 1, "POS"),
        (("search", "needle", "--limit", "1000"), 8, ""),
        (("list", "--json"), 1, "["),
    ],
)
def test_a_pipe_closed_early_ends_the_command_quietly(
    many: Paths, stdout_mode: str, args: tuple[str, ...], lines: int, first: str
) -> None:
    assert len(pipeline(c3desk(*args)).stdout) > 128 * 1024  # more than a pipe holds
    result = pipeline(f"{c3desk(*args)} | head -{lines}")
    quiet_end(result, many)
    assert len(result.stdout.splitlines()) == lines
    assert result.stdout.startswith(first)


@pytest.mark.parametrize("args", [("settings",), ("settings", "--json"), ("worker", "list")])
def test_a_pipe_nobody_reads_ends_the_command_quietly(
    db: Paths, stdout_mode: str, args: tuple[str, ...]
) -> None:
    """Short output stays in Python's buffer until the command ends: a reader gone before it
    was written (`c3desk settings | true`) is met when the buffer is written out."""
    read, write = os.pipe()
    os.close(read)  # the reader is gone before c3desk writes a byte
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "c3desk", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, ""), (proc.returncode, proc.stderr)
    assert "Traceback" not in log_text(db)


def test_a_pipe_read_to_its_end_is_no_broken_pipe(db: Paths, stdout_mode: str) -> None:
    result = pipeline(f"{c3desk('settings')} | cat")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("max_concurrent_sessions")
