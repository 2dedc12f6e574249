"""Paths and constants. Qt-free.

The data directory is, in order of precedence: the ``--home`` CLI flag, the ``C3DESK_HOME``
environment variable, then platformdirs' user data directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "c3desk"
DB_FILENAME = "c3desk.db"
SOCKET_FILENAME = "control.sock"
HOME_ENV = "C3DESK_HOME"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory without creating it."""
    if explicit:
        return Path(explicit).expanduser().absolute()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().absolute()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class Paths:
    """Every file c3desk keeps, derived from one data directory."""

    home: Path

    @property
    def db(self) -> Path:
        return self.home / DB_FILENAME

    @property
    def socket(self) -> Path:
        return self.home / SOCKET_FILENAME

    @property
    def scrollback_dir(self) -> Path:
        return self.home / "scrollback"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def agents_file(self) -> Path:
        return self.home / "agents.toml"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        """Generated per-session files (hook settings and the like)."""
        return self.home / "run"

    def ensure(self) -> Paths:
        # Scrollback and logs hold whatever the agents printed: the folder is the user's alone.
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self
