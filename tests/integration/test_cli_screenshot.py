"""`c3desk --screenshot FILE`: a target it cannot write is refused before the window opens
(one line, status 2); a save that still fails says so (one line, status 1). The window runs for
real, offscreen, in a process of its own, with the fake Claude Code in its tile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"
# Qt's offscreen platform says this about every window (pyproject.toml ignores it in-process).
QT_NOTE = "This plugin does not support propagateSizeHints()"


def window(home: Path, target: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, C3DESK_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    return subprocess.run(
        [sys.executable, "-m", "c3desk", "--screenshot", target],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def said(result: subprocess.CompletedProcess[str], code: int) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip() and line != QT_NOTE]
    assert result.returncode == code and len(lines) == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def drawn(cli: Any, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder with one fake session, so the window has a tile to draw at once."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude-config"))
    monkeypatch.setenv("FAKE_CLAUDE_SPEED", "10")
    cli("settings", "set", "claude_command", str(FAKE), check=True)
    cli("settings", "set", "persistent_sessions", "never", check=True)  # ends with the window
    cli("add", "--title", "shown", "--dir", str(tmp_path), "--prompt", "say hi", check=True)
    return home


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("missing/folder/x.png", "does not exist"),
        ("notes.txt", "suffix must be one of"),
        ("noext", "suffix must be one of"),
        ("afolder.png", "it is a folder"),
        ("x" * 300 + ".png", "too long"),
    ],
)
def test_a_target_that_cannot_be_written_is_refused_before_the_window_opens(
    home: Path, tmp_path: Path, name: str, words: str
) -> None:
    (tmp_path / "afolder.png").mkdir()
    target = str(tmp_path / name)
    result = window(home, target, timeout=30)
    line = said(result, 2)
    assert line.startswith(f"c3desk: --screenshot {target!r}: ") and words in line
    assert not (home / "ui.ini").exists()  # the window never opened (it saves its state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afolder.png", "home"]


def test_a_save_that_fails_says_so(drawn: Path, tmp_path: Path) -> None:
    """The folder takes files, the name is an image's, but the disk is full when the window
    is saved (/dev/full: every write fails with ENOSPC)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    target = tmp_path / "full.png"
    target.symlink_to("/dev/full")
    line = said(window(drawn, str(target)), 1)
    assert line == f"c3desk: could not save the window to {str(target)!r}: No space left on device"


def test_a_screenshot_is_saved(drawn: Path, tmp_path: Path) -> None:
    target = tmp_path / "shot.png"
    result = window(drawn, str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_start_up_error_of_a_scripted_window_is_said_not_shown_in_a_dialog(
    home: Path, tmp_path: Path
) -> None:
    """A damaged database: one line and a non-zero status; a dialog (for a window started from
    a menu) would wait offscreen for a click that never comes."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "c3desk.db").write_bytes(b"not a database, " * 64)
    result = window(home, str(tmp_path / "x.png"), timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "database" in result.stderr.lower()
    assert not (tmp_path / "x.png").exists()
