"""`c3desk hook --session ID EVENT`: what Claude Code's hooks run, so it must start fast.

Claude Code waits for its hooks, so this path imports nothing beyond the standard library and
the data-directory lookup: it reads the hook's JSON payload from stdin, forwards it to the running
instance's control socket, and always exits 0 without output (a hook must never fail the agent).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Sequence

from c3desk.config import Paths, resolve_home

EVENTS = ("busy", "idle", "waiting", "session-start")


def split_global(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """(--home value, the rest) from the global options before the subcommand."""
    home: str | None = None
    rest = list(argv)
    while rest:
        if rest[0] == "--home" and len(rest) > 1:
            home, rest = rest[1], rest[2:]
        elif rest[0].startswith("--home="):
            home, rest = rest[0].split("=", 1)[1], rest[1:]
        elif rest[0] in ("-v", "--verbose"):
            rest = rest[1:]
        else:
            break
    return home, rest


def main(home: str | None, argv: Sequence[str]) -> int:
    """``argv`` is what follows ``hook``: ``--session ID EVENT``."""
    args = list(argv)
    try:
        session = args[args.index("--session") + 1]
        event = next(a for a in args if a in EVENTS)
    except (ValueError, IndexError, StopIteration):
        return 0
    try:
        raw = sys.stdin.read(1 << 20) if not sys.stdin.isatty() else ""
        payload = json.loads(raw) if raw.strip() else {}
    except (ValueError, OSError):
        payload = {}
    request = {"cmd": "hook", "session": session, "event": event, "payload": payload}
    path = Paths(resolve_home(home)).socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5.0)
            sock.connect(os.fspath(path))
            sock.sendall(json.dumps(request).encode() + b"\n")
            sock.recv(65536)  # the reply; its content does not matter to the agent
    except OSError:
        pass
    return 0
