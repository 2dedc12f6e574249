"""Started from a desktop menu (a bare PATH, no shell profile): claude in ~/.local/bin is still
found, and when it is nowhere the failure says where c3desk looked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from c3desk.transports import shellpath

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"

REPO = str(Path(__file__).resolve().parents[2])


def _env(tmp_path: Path) -> dict[str, str]:
    """What a menu launch gives: a minimal PATH without ~/.local/bin; a login shell (sh, with
    no ~/.profile in this HOME) that does not add it either."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "C3DESK_HOME", "VIRTUAL_ENV")
    }
    env.update(
        HOME=str(tmp_path / "user"),
        PATH="/usr/bin:/bin",
        SHELL="/bin/sh",
        C3DESK_HOME=str(tmp_path / "data"),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude-config"),
        FAKE_CLAUDE_SPEED="10",
        PYTHONPATH=REPO,  # this checkout, whichever one is pip-installed
    )
    return env


def _c3desk(env: dict[str, str], *args: str, timeout: float = 60) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "c3desk", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def _run_one(env: dict[str, str], work: Path, title: str) -> dict[str, Any]:
    sid = _c3desk(env, "add", "--title", title, "--dir", str(work), "--prompt", "say hi")
    assert sid.returncode == 0, sid
    run = _c3desk(env, "run", "--headless", "--exit-idle", timeout=110)
    assert run.returncode == 0, run
    shown = _c3desk(env, "show", sid.stdout.strip(), "--json")
    assert shown.returncode == 0, shown
    result: dict[str, Any] = json.loads(shown.stdout)
    return result


def test_claude_in_local_bin_is_found_and_a_missing_one_says_where_it_looked(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    local_bin = tmp_path / "user" / ".local" / "bin"
    local_bin.mkdir(parents=True)
    (local_bin / "claude").symlink_to(FAKE)
    work = tmp_path / "work"
    work.mkdir()

    found = _run_one(env, work, "found")
    assert (found["status"], found["exit_code"]) == ("completed", 0), found

    (local_bin / "claude").unlink()
    missing = _run_one(env, work, "missing")
    assert missing["status"] == "failed"
    reason = missing["failure_reason"]
    assert reason.startswith("command not found: claude (looked in: /usr/bin, /bin, "), reason
    looked = reason.split("(looked in: ", 1)[1].rstrip(")").split(", ")
    assert "/usr/local/bin" in looked  # from the login shell (/etc/profile) or the common folders
    assert "~/.local/bin" in looked


def test_common_folders_newest_node_first(tmp_path: Path) -> None:
    home = tmp_path / "u"
    for sub in (".local/bin", ".npm-global/bin", ".claude/local"):
        (home / sub).mkdir(parents=True)
    for version in ("v9.11.2", "v22.1.0", "v18.20.4"):
        (home / ".nvm" / "versions" / "node" / version / "bin").mkdir(parents=True)
    dirs = shellpath.common_dirs(str(home))
    assert dirs[:-1] == [
        str(home / ".local/bin"),
        str(home / ".claude/local"),
        str(home / ".npm-global/bin"),
        *(str(home / f".nvm/versions/node/{v}/bin") for v in ("v22.1.0", "v18.20.4", "v9.11.2")),
    ]
    assert dirs[-1] == "/usr/local/bin"
    assert shellpath.common_dirs(str(tmp_path / "empty")) == ["/usr/local/bin"]


def test_the_not_found_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/ann")
    text = shellpath.not_found("claude", "/usr/bin::/home/ann/.local/bin:/bin:/usr/bin")
    assert text == "command not found: claude (looked in: /usr/bin, ~/.local/bin, /bin)"
    assert shellpath.not_found("claude", "") == (
        "command not found: claude (looked in: nowhere: PATH is empty)"
    )
    assert shellpath.not_found("/opt/x/claude", "/bin") == "command not found: /opt/x/claude"
