"""`c3desk --self-test` as CI and a user run it: a subprocess, no display, its own data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECKS = (
    "ok Qt ",
    "ok engine and control socket started",
    "ok main window opened",
    "ok session queued (shell profile: ",
    "ok session active",
    "ok session completed (exit code 0)",
    "ok the shell's output reached the terminal model",
    "ok main window closed",
    "ok engine stopped; self-test passed",
)

REPO = str(Path(__file__).resolve().parents[2])


def _self_test(tmp_path: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["C3DESK_HOME"] = str(tmp_path / "user-home")  # must stay untouched
    env.update(extra)
    env["PYTHONPATH"] = REPO  # this checkout, whichever one is pip-installed
    return subprocess.run(
        [sys.executable, "-m", "c3desk", "--self-test"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=110,
        stdin=subprocess.DEVNULL,
    )


def test_self_test_passes_and_says_what_it_checked(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    result = _self_test(tmp_path, SHELL="/bin/bash", HOME=str(user))
    assert result.returncode == 0, result
    lines = result.stdout.splitlines()
    assert len(lines) == len(CHECKS), result.stdout
    for line, start in zip(lines, CHECKS, strict=True):
        assert line.startswith(start), (line, start)
    assert "offscreen" in lines[0]
    assert result.stderr == ""
    assert not (tmp_path / "user-home").exists()
    assert not (user / ".bash_history").exists()  # the test's command is not in the history


def test_a_broken_shell_fails_the_self_test(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-shell"
    result = _self_test(tmp_path, SHELL=str(missing))
    assert result.returncode == 1, result
    last = result.stdout.splitlines()[-1]
    assert last == f"FAILED the session failed: command not found: {missing}"
    assert "Traceback" not in result.stdout + result.stderr


def test_self_test_takes_no_other_arguments(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "c3desk", "--self-test", "extra"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == "c3desk: --self-test takes no other arguments (got 'extra')\n"
