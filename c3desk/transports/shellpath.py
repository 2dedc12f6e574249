"""The user's login-shell PATH.

A desktop launcher often starts programs with a minimal PATH, so ``claude`` installed by npm or
under ``~/.local/bin`` is not found (peers fail with "claude not found" when started from a menu).
We ask the login shell once for its PATH and search both, then the folders where claude and
npm usually put commands even when the login shell does not add them (:func:`common_dirs`).
When a command is still not found, :func:`not_found` says where c3desk looked.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from functools import lru_cache
from pathlib import Path

_MARK = "__C3DESK_PATH__"
PROBE_TIMEOUT = 5.0  # seconds the login shell has to say its PATH


@lru_cache(maxsize=1)
def login_shell_path() -> str:
    """PATH as the user's login shell sets it ('' when it cannot be learned in 5 seconds)."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    if not os.path.isabs(shell) or not os.access(shell, os.X_OK):
        return ""
    try:
        # A session of its own, so a timeout ends all of it: what the profile started (a
        # `pyenv rehash` holding its lock, say) must not live on after the shell.
        proc = subprocess.Popen(
            [shell, "-l", "-c", f'printf "{_MARK}%s{_MARK}" "$PATH"'],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
    except OSError:
        return ""
    with proc:
        try:
            out, _ = proc.communicate(timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return ""
    parts = out.split(_MARK)
    return parts[1] if len(parts) >= 3 else ""


def _version_key(folder: Path) -> tuple[int, ...]:
    """``v22.11.0`` -> (22, 11, 0): nvm's node folders, newest first when sorted reversed."""
    return tuple(int(n) for n in re.findall(r"\d+", folder.name)[:3])


def common_dirs(home: str | None = None) -> list[str]:
    """The existing folders where claude is commonly installed: ``~/.local/bin`` (the native
    installer), ``~/.claude/local`` (claude's own local install), ``~/.npm-global/bin`` (a user
    npm prefix), ``~/.nvm/versions/node/*/bin`` (newest node first), ``/usr/local/bin``."""
    base = Path(home if home is not None else os.environ.get("HOME") or Path.home())
    candidates = [base / ".local" / "bin", base / ".claude" / "local", base / ".npm-global" / "bin"]
    nvm = base / ".nvm" / "versions" / "node"
    try:
        nodes = sorted((p for p in nvm.iterdir() if p.is_dir()), key=_version_key, reverse=True)
    except OSError:
        nodes = []
    candidates += [node / "bin" for node in nodes]
    candidates.append(Path("/usr/local/bin"))
    return [str(c) for c in candidates if c.is_dir()]


def merged_path(current: str | None = None) -> str:
    """The current PATH followed by the login shell's entries it lacks, then the common
    folders (:func:`common_dirs`) neither has."""
    current = os.environ.get("PATH", "") if current is None else current
    seen = [p for p in current.split(os.pathsep) if p]
    for entry in [*login_shell_path().split(os.pathsep), *common_dirs()]:
        if entry and entry not in seen:
            seen.append(entry)
    return os.pathsep.join(seen)


def not_found(name: str, path: str) -> str:
    """Why ``name`` did not resolve: "command not found: NAME (looked in: DIR, ...)", the
    folders as searched, ``~`` for the home folder."""
    if os.sep in name:
        return f"command not found: {name}"
    home = os.environ.get("HOME") or ""
    dirs = []
    for entry in path.split(os.pathsep):
        if not entry:
            continue
        if home and home != os.sep and (entry == home or entry.startswith(home + os.sep)):
            entry = "~" + entry[len(home) :]
        dirs.append(entry)
    where = ", ".join(dict.fromkeys(dirs)) or "nowhere: PATH is empty"
    return f"command not found: {name} (looked in: {where})"


def resolve_command(name: str, path: str) -> str | None:
    """The executable ``name`` names, searched on ``path`` when it has no slash."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    return shutil.which(name, path=path)
