"""What the Workers dialog needs beyond plain rows: testing a worker the way ``c3desk worker
check`` does, trusting its host key as ``worker trust`` does, and what removing one would do to
its sessions.

Testing is split in two so that the database is read only on the thread that owns it:
:func:`target` reads the worker (and the claude command) on the GUI thread; :func:`check` then
connects from any thread without touching the database (it blocks for up to a minute, so the
dialog runs it off the event loop). :func:`trust` writes only c3desk's known-hosts file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, cast

import paramiko

from c3desk.core import settings as core_settings
from c3desk.core import worker_check as wcheck
from c3desk.core.sessions import find_worker
from c3desk.store.models import Session, Worker
from c3desk.transports.ssh_trust import ChangedHostKey, RevokedHostKey

# How the server's own host key files are named, by key type (what ssh-keygen -lf reads there).
_HOST_KEY_FILES: Final = {
    "ssh-ed25519": "ssh_host_ed25519_key.pub",
    "ssh-rsa": "ssh_host_rsa_key.pub",
    "rsa-sha2-256": "ssh_host_rsa_key.pub",
    "rsa-sha2-512": "ssh_host_rsa_key.pub",
    "ssh-dss": "ssh_host_dsa_key.pub",
}


# How ssh_login words NeedsPassphrase: "the key PATH is encrypted: ..." and "the passphrase c3desk
# has for the key PATH (given in this run ...) is wrong".
_PASSPHRASE_REASONS: Final = (
    re.compile(r"the key ([/~].*?) is encrypted"),
    re.compile(r"passphrase c3desk has for the key ([/~].*?) \(given"),
)


@dataclass(frozen=True)
class Target:
    """A worker read for a test (the UI keeps it without learning the store's types)."""

    name: str
    local: bool
    key_path: str | None
    _row: Worker = field(repr=False, compare=False)
    _claude: str = ""


@dataclass(frozen=True)
class CheckResult:
    """How one test of a worker went, in the words ``c3desk worker check`` uses."""

    worker: str
    host: str
    port: int
    status: str  # "connected", "error" or "disconnected"
    message: str  # one line for the user: what worked, or why not
    reason: str | None = None  # the connection's own reason, when it failed
    fingerprint: str | None = None  # SHA256:… of the host key, when it was refused
    key_type: str | None = None  # e.g. ssh-ed25519
    unknown_key: bool = False  # refused only because nobody confirmed it yet: may be trusted
    bad_key: bool = False  # changed or revoked: never offered for trust
    passphrase_for: Path | None = None  # the encrypted key file whose passphrase is needed
    details: tuple[str, ...] = ()  # once connected: the agent and tmux found there
    agent_missing: bool = False  # connected, but sessions there would not find the agent
    _key: paramiko.PKey | None = field(default=None, repr=False, compare=False)

    @property
    def connected(self) -> bool:
        return self.status == "connected"

    @property
    def server_key_file(self) -> str:
        """The server's public host key file of this type, for ssh-keygen -lf on the server."""
        name = _HOST_KEY_FILES.get(self.key_type or "", "")
        if not name and (self.key_type or "").startswith("ecdsa-"):
            name = "ssh_host_ecdsa_key.pub"
        return f"/etc/ssh/{name or 'ssh_host_ed25519_key.pub'}"


def target(name: str) -> Target:
    """The worker called ``name`` ready for :func:`check` (NotFound when there is none)."""
    row = find_worker(name)
    claude = str(core_settings.get_settings()["claude_command"]) if row.type == "local" else ""
    key = str(row.ssh_key_path) if row.ssh_key_path else None
    return Target(str(row.name), row.type == "local", key, row, claude)


def check(worker: Target, home: Path, timeout: float = wcheck.CONNECT_TIMEOUT) -> CheckResult:
    """Connect once, as ``c3desk worker check`` does; never reads the database or any input."""
    if worker.local:
        found = wcheck.local_claude(worker._claude)
        where = (
            f"`{worker._claude}` is {found}" if found else wcheck.local_not_found(worker._claude)
        )
        return CheckResult(worker.name, "", 0, "connected", f"this machine; {where}")
    # The setting was read with the worker, on the caller's thread: this runs in another.
    result = wcheck.attempt(worker._row, home, timeout, claude_command=worker._claude or None)
    where = f"{result.host} port {result.port}"
    base = CheckResult(
        worker=worker.name,
        host=result.host,
        port=result.port,
        status=result.status,
        message=result.reason or result.status,
        reason=result.reason,
        fingerprint=result.fingerprint,
        key_type=result.offered.get_name() if result.offered is not None else None,
        _key=result.offered,
    )
    if result.status == "connected":
        details, missing = _found_there(result)
        return replace(
            base, message=f"connected to {where}", details=details, agent_missing=missing
        )
    if result.unknown:
        return replace(
            base,
            message=f"the host key of {where} is not trusted yet; "
            f"its fingerprint is {result.fingerprint}",
            unknown_key=True,
        )
    return replace(
        base,
        bad_key=isinstance(result.problem, ChangedHostKey | RevokedHostKey),
        passphrase_for=result.needs_passphrase or passphrase_needed(result.reason, worker.key_path),
    )


def _found_there(result: wcheck.Attempt) -> tuple[tuple[str, ...], bool]:
    """What ``worker check`` says it found on the server: the agent command (on the login
    shell's PATH) and tmux."""
    command = result.command or "claude"
    claude, version, tmux = result.claude, result.claude_version, result.tmux
    if claude is None:
        agent = f"{command}: not found on the PATH of the login shell there (set claude_command "
        agent += "to its full path)"
    else:
        agent = f"{command}: {claude} ({version or 'version unknown'})"
    sessions_end = "not installed (sessions end if the connection drops)"
    return (agent, f"tmux: {tmux or sessions_end}"), claude is None


def trust(worker: Target, home: Path, result: CheckResult) -> None:
    """Trust the host key ``result`` was refused for, only if its fingerprint is still the one
    shown (FingerprintMismatch otherwise; nothing is written then)."""
    if result._key is None or not result.unknown_key:
        raise ValueError(f"{worker.name}: no unknown host key to trust in this result")
    # The host the result names: the worker's (after ~/.ssh/config) or a jump host's.
    wcheck.trust(worker._row, home, result._key, result.fingerprint, (result.host, result.port))


def passphrase_needed(reason: str | None, key_path: str | None = None) -> Path | None:
    """The key file whose passphrase ``reason`` asks for (the connection's words for
    ``ssh_login.NeedsPassphrase``: encrypted and none known, or the one known is wrong), else
    None. The file is named in the reason (it may come from ~/.ssh/config rather than the
    worker); ``key_path`` is the fallback when it is not."""
    if not reason:
        return None
    for pattern in _PASSPHRASE_REASONS:
        found = pattern.search(reason)
        if found:
            return Path(found.group(1)).expanduser()
    text = reason.lower()
    if key_path and ("passphrase" in text or "encrypted" in text):
        return Path(key_path).expanduser()
    return None


def passphrase_was_wrong(reason: str | None) -> bool:
    """The reason says the passphrase c3desk had did not open the key."""
    return bool(reason) and "passphrase" in str(reason) and "wrong" in str(reason)


@dataclass(frozen=True)
class Removal:
    """What removing a worker would touch: its sessions, and where queued ones could go."""

    worker: str
    active: int
    queued: int
    finished: int
    others: tuple[str, ...]  # the other workers' names (a target for its queued sessions)


def removal(name: str) -> Removal:
    """Counts for the question asked before removing ``name`` (NotFound when there is none)."""
    row = find_worker(name)
    counts = {"active": 0, "queued": 0, "finished": 0}
    statuses = Session.select(Session.status).where(Session.worker == row.id).tuples()
    for (status,) in cast("Iterable[tuple[str]]", statuses):
        counts[status if status in ("active", "queued") else "finished"] += 1
    names = Worker.select(Worker.name).where(Worker.id != row.id).order_by(Worker.type, Worker.name)
    others = tuple(str(n) for (n,) in cast("Iterable[tuple[str]]", names.tuples()))
    return Removal(str(row.name), counts["active"], counts["queued"], counts["finished"], others)


__all__ = [
    "CheckResult",
    "Removal",
    "Target",
    "check",
    "passphrase_needed",
    "passphrase_was_wrong",
    "removal",
    "target",
    "trust",
]
