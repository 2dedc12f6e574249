"""The settings row: reading it, and changing one value with validation."""

from __future__ import annotations

import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from c3desk.core.worktrees import validate_root
from c3desk.errors import InvalidInput
from c3desk.store.models import Settings, db

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
_WHOLE = re.compile(r"-?[0-9]{1,12}")


def parse_bool(key: str, text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(f"{key}: {text!r} is not a boolean (use true or false)")


def _int_range(low: int, high: int) -> Callable[[str, str], int]:
    def parse(key: str, text: str) -> int:
        word = text.strip()
        # ASCII digits only: int() would also take "1_000", "+5" and other scripts' digits.
        if _WHOLE.fullmatch(word) is None:
            raise InvalidInput(f"{key}: {text!r} is not a whole number")
        value = int(word)
        if not low <= value <= high:
            raise InvalidInput(f"{key}: {value} is out of range {low}..{high}")
        return value

    return parse


def _choice(*options: str) -> Callable[[str, str], str]:
    def parse(key: str, text: str) -> str:
        value = text.strip()
        if value not in options:
            raise InvalidInput(f"{key}: {text!r} is not one of {', '.join(options)}")
        return value

    return parse


def _non_empty(key: str, text: str) -> str:
    value = text.strip()
    if not value:
        raise InvalidInput(f"{key}: the value is empty")
    return value


def _worktree_root(key: str, text: str) -> str:
    """An absolute path (or empty), refused when it is, or is inside, something on this machine
    that is not a folder (git could make no worktree there). A folder not made yet is fine:
    git makes it with the first worktree (and an SSH worker's machine is not looked at)."""
    value = validate_root(key, text)
    where = value
    while where:
        try:
            mode = os.stat(where).st_mode
        except (FileNotFoundError, NotADirectoryError):
            parent = posixpath.dirname(where)
            where = "" if parent == where else parent
            continue
        except OSError:  # not readable here: left to git
            return value
        if stat.S_ISDIR(mode):
            return value
        if where == value:
            raise InvalidInput(f"{key}: {text!r} exists and is not a folder")
        raise InvalidInput(f"{key}: {text!r} is inside {where!r}, which is not a folder")
    return value


@dataclass(frozen=True)
class SettingSpec:
    key: str
    parse: Callable[[str, str], Any]
    help: str


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in (
        SettingSpec(
            "max_concurrent_sessions", _int_range(1, 64), "active sessions in total (1-64)"
        ),
        SettingSpec("max_visible_sessions", _int_range(1, 9), "terminals shown in the grid (1-9)"),
        SettingSpec("auto_approve", parse_bool, "answer tool-permission prompts with Yes"),
        SettingSpec("grid_layout", _choice("auto", "1x1", "2x2", "3x3"), "grid of terminals"),
        SettingSpec("theme", _choice("dark", "light"), "colour theme"),
        SettingSpec("claude_command", _non_empty, "command line that starts Claude Code"),
        SettingSpec(
            "scrollback_limit_mb", _int_range(1, 10_000), "scrollback kept per session (MB)"
        ),
        SettingSpec("queue_paused", parse_bool, "no new sessions are activated while true"),
        SettingSpec(
            "worker_heartbeat_seconds",
            _int_range(1, 600),
            "seconds between heartbeats to SSH workers; 3 unanswered = disconnected (1-600)",
        ),
        SettingSpec(
            "persistent_sessions",
            _choice("auto", "always", "never"),
            "host sessions in tmux so they outlive c3desk: auto = where tmux 3.0+ is",
        ),
        SettingSpec(
            "reconnect_grace_seconds",
            _int_range(0, 86_400),
            "seconds a dropped SSH worker's hosted sessions wait for it before they are lost "
            "(0-86400)",
        ),
        SettingSpec(
            "worktree_root",
            _worktree_root,
            "where session worktrees go (absolute path; empty: <repo>.worktrees beside each "
            "repository)",
        ),
    )
}


BOOL_KEYS = frozenset({"auto_approve", "queue_paused"})


def get_settings() -> dict[str, Any]:
    row = Settings.get_by_id(1)
    return {k: bool(getattr(row, k)) if k in BOOL_KEYS else getattr(row, k) for k in SPECS}


def set_setting(key: str, text: str) -> Any:
    """Validate ``text`` for ``key`` and store it; return the stored value."""
    spec = SPECS.get(key)
    if spec is None:
        raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(SPECS)}")
    value = spec.parse(key, text)
    with db.atomic():
        Settings.update({key: value}).where(Settings.id == 1).execute()
    return value
