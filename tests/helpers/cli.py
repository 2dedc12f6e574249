"""The command line as a user meets it: one-line errors, and headless instances to talk to."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any


def one_line_error(result: Any, code: int, *needles: str) -> str:
    """Assert ``result`` exited with ``code`` and one line on stderr naming every needle."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return str(lines[0])


class Headless:
    """``c3desk run --headless`` processes against one data folder, ended by :meth:`close`."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.env = env  # None: this process's environment as it is at each start
        self.procs: list[subprocess.Popen[str]] = []

    def start(self, *extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "c3desk", "run", "--headless", *extra],
            env=dict(os.environ if self.env is None else self.env, C3DESK_HOME=str(self.home)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()


def stderr_line(proc: subprocess.Popen[str], timeout: float = 40.0) -> str:
    """The next line an instance writes on stderr (failing after ``timeout`` seconds)."""
    assert proc.stderr is not None
    ready, _, _ = select.select([proc.stderr], [], [], timeout)
    assert ready, "the instance said nothing on stderr"
    return proc.stderr.readline()


def asks_session(cli: Any, folder: Path) -> str:
    """A queued session whose (fake) agent asks for permission to run `make test`: its id."""
    return str(
        cli(
            "add", "--title", "asks", "--dir", str(folder), "--prompt", "ask make test", check=True
        ).stdout.strip()
    )
