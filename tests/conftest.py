"""Shared fixtures: a temporary data directory, an open database, the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from c3desk.config import Paths
from c3desk.store import database

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture
def cli(home: Path) -> Any:
    """Run ``c3desk ARGS...`` in a subprocess against the temporary home."""

    def run(*args: str, check: bool = False, timeout: float = 60) -> CliResult:
        env = dict(os.environ, C3DESK_HOME=str(home))
        proc = subprocess.run(
            [sys.executable, "-m", "c3desk", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"c3desk {args} failed: {proc.returncode} {proc.stderr}")
        return result

    return run
