"""The user's login-shell PATH.

A desktop launcher often starts programs with a minimal PATH, so ``claude`` installed by npm or
under ``~/.local/bin`` is not found (peers fail with "claude not found" when started from a menu).
We ask the login shell once for its PATH and search both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache

_MARK = "__C3DESK_PATH__"


@lru_cache(maxsize=1)
def login_shell_path() -> str:
    """PATH as the user's login shell sets it ('' when it cannot be learned in 5 seconds)."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    if not os.path.isabs(shell) or not os.access(shell, os.X_OK):
        return ""
    try:
        out = subprocess.run(
            [shell, "-l", "-c", f'printf "{_MARK}%s{_MARK}" "$PATH"'],
            capture_output=True,
            text=True,
            timeout=5,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    parts = out.split(_MARK)
    return parts[1] if len(parts) >= 3 else ""


def merged_path(current: str | None = None) -> str:
    """The current PATH followed by the login shell's entries it lacks."""
    current = os.environ.get("PATH", "") if current is None else current
    seen = [p for p in current.split(os.pathsep) if p]
    for entry in login_shell_path().split(os.pathsep):
        if entry and entry not in seen:
            seen.append(entry)
    return os.pathsep.join(seen)


def resolve_command(name: str, path: str) -> str | None:
    """The executable ``name`` names, searched on ``path`` when it has no slash."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    return shutil.which(name, path=path)
