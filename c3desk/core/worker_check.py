"""`c3desk worker check` and `worker trust`: one SSH connection attempt, never waiting for input.

A check connects once (host-key check and authentication, as the engine will) and closes again.
Trusting fetches the server's host key the same way and writes it to c3desk's own known-hosts
file, ``<data dir>/known_hosts``, only once the user confirmed its fingerprint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import paramiko

from c3desk.core import settings as cfg
from c3desk.core.engine import worker_info
from c3desk.errors import Refused
from c3desk.store.models import Worker
from c3desk.transports.base import SpawnError
from c3desk.transports.shellpath import common_dirs, not_found, resolve_command
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_trust import HostKeyError, TrustStore, UnknownHostKey
from c3desk.transports.tmux import MIN_VERSION

CONNECT_TIMEOUT = 15.0


def known_hosts_path(home: Path) -> Path:
    """c3desk's own known-hosts file, in the data directory."""
    return home / "known_hosts"


@dataclass(frozen=True)
class Attempt:
    """How one connection attempt went."""

    host: str
    port: int
    status: str  # "connected", "error" or "disconnected", as SSHConnection reports it
    reason: str | None
    problem: HostKeyError | None  # why the host key was refused, if it was
    offered: paramiko.PKey | None  # the server's host key, when the key exchange got that far
    # Once connected: what the agent command is on the server, as the user's login shell
    # finds it, and what it says its version is; tmux's version (None: not there).
    command: str | None = None
    claude: str | None = None
    claude_version: str | None = None
    tmux: str | None = None
    login_path: str | None = None
    # The encrypted key file the login needed a passphrase for (None: it did not).
    needs_passphrase: Path | None = None

    @property
    def fingerprint(self) -> str | None:
        return self.problem.fingerprint if self.problem is not None else None

    @property
    def unknown(self) -> bool:
        """The key is merely not trusted yet (the user may confirm it)."""
        return isinstance(self.problem, UnknownHostKey)


def attempt(
    row: Worker, home: Path, timeout: float = CONNECT_TIMEOUT, claude_command: str | None = None
) -> Attempt:
    """Connect to the SSH worker once, then close; nothing here reads input.

    ``claude_command``: the setting's value, read by the caller (a caller running this in a
    thread reads it on its own); None reads it here."""
    if row.type != "remote":
        raise Refused(f"{row.name} is this machine, not an SSH worker")
    store = TrustStore(known_hosts_path(home))
    conn = SSHConnection(worker_info(row), store, connect_timeout=timeout)

    command = _agent_command(claude_command)
    found: dict[str, str | None] = {}

    async def probe() -> None:
        """What a session there would run: the agent on the login shell's PATH, tmux."""
        found["login_path"] = await conn.login_path()
        if command is not None:
            found["claude"] = path = await conn.which(command)
            if path is not None:
                found["claude_version"] = await conn.version_of(path)
        tmux = await conn.which("tmux")
        if tmux is not None:
            found["tmux"] = await conn.version_of_flag(tmux, "-V")

    async def run() -> tuple[str, str | None]:
        try:
            # Each network step has its own timeout; this bounds the sum of them.
            await asyncio.wait_for(conn.connect(), timeout * 4)
            # Read the outcome before close() replaces it with "closed by c3desk".
            status, reason = conn.status, conn.reason
            if status == "connected":
                with contextlib.suppress(OSError, TimeoutError, SpawnError):
                    await asyncio.wait_for(probe(), timeout * 2)
            return status, reason
        except TimeoutError:
            return "disconnected", f"cannot reach {conn.host} port {conn.port}: no answer"
        finally:
            await conn.close()

    status, reason = asyncio.run(run())
    # A refused host (the worker, or a jump host on the way) is the one named and trusted.
    problem = conn.host_key_error
    return Attempt(
        problem.host if problem is not None else conn.host,
        problem.port if problem is not None else conn.port,
        status,
        reason,
        conn.host_key_error,
        conn.offered_host_key,
        command=command,
        needs_passphrase=conn.needs_passphrase,
        **found,
    )


def _agent_command(setting: str | None) -> str | None:
    """The program the ``claude_command`` setting names (its first word)."""
    if setting is None:
        setting = str(cfg.get_settings()["claude_command"])
    try:
        argv = shlex.split(setting)
    except ValueError:
        return None
    return argv[0] if argv else None


def trust(
    row: Worker,
    home: Path,
    key: paramiko.PKey,
    expected: str | None,
    where: tuple[str, int] | None = None,
) -> None:
    """Add ``key`` to c3desk's file for ``where`` (the host and port an :class:`Attempt` names:
    the worker's, after ``~/.ssh/config``, or a jump host's on the way), by default the
    worker's. With ``expected``: only if its fingerprint is that; otherwise a
    FingerprintMismatch and nothing is written."""
    if where is None:
        conn = SSHConnection(worker_info(row), TrustStore(known_hosts_path(home)))
        where = (conn.host, conn.port)
    TrustStore(known_hosts_path(home)).trust(where[0], where[1], key, expected=expected)


def local_search_path() -> str:
    """This PATH and the folders claude is commonly installed in (the login shell's PATH is
    not asked: it can take seconds, and the engine adds it when it starts a session)."""
    entries = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys([*entries, *common_dirs()]))


def _program(command: str) -> str | None:
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    return argv[0] if argv else None


def local_claude(command: str) -> str | None:
    """What the claude command resolves to here (see :func:`local_search_path`)."""
    program = _program(command)
    return None if program is None else resolve_command(program, local_search_path())


def local_not_found(command: str) -> str:
    """Where the claude command was looked for, in a user's words."""
    program = _program(command)
    if program is None:
        return f"the claude command {command!r} names no program"
    return not_found(program, local_search_path())


def local_tmux() -> str | None:
    """What ``tmux -V`` says here; None without tmux."""
    exe = resolve_command("tmux", local_search_path())
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, "-V"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def hosting_note(tmux: str | None, persistence: str, remote: bool) -> str:
    """What a worker's tmux means for its sessions, under the ``persistent_sessions`` setting."""
    lasts = "outlive c3desk and a dropped connection" if remote else "outlive c3desk"
    ends = "end if the connection drops" if remote else "end with c3desk"
    match = re.search(r"(\d+)\.(\d+)", tmux or "")
    usable = match is not None and (int(match.group(1)), int(match.group(2))) >= MIN_VERSION
    if persistence == "never":
        return f"{tmux or 'not installed'} (persistent_sessions is never: sessions {ends})"
    if usable:
        return f"{tmux} (sessions {lasts})"
    need = f"{MIN_VERSION[0]}.{MIN_VERSION[1]}"
    if persistence == "always":
        return (
            f"{tmux or 'not installed'}: sessions fail there "
            f"(persistent_sessions is always; tmux {need}+ needed)"
        )
    return f"{tmux + ', older than ' + need if tmux else 'not installed'} (sessions {ends})"
