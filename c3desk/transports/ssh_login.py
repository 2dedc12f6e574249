"""Opening one authenticated SSH transport to a worker (runs in a thread, never on the loop).

:func:`open_transport` opens the TCP connection, checks the server's host key through
:mod:`c3desk.transports.ssh_trust` (never trust on first use) and authenticates with the worker's
key file, or with the keys the ssh-agent offers when the worker names none.

Errors: :class:`~c3desk.transports.ssh_trust.HostKeyError` for host-key problems,
:class:`AuthProblem` for authentication problems a user can act on, and OSError / EOFError /
``paramiko.SSHException`` for the network.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import paramiko

from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_trust import TrustStore


class AuthProblem(Exception):
    """Authentication failed for a reason a user can act on."""


class NeedsPassphrase(AuthProblem):
    """The key file is encrypted and no passphrase for it is known (or the one known is wrong):
    the GUI asks for it once (:meth:`Passphrases.remember`)."""

    def __init__(self, key_path: Path, message: str) -> None:
        super().__init__(message)
        self.key_path = key_path


class Passphrases:
    """Passphrases of encrypted key files: those given in this run (memory), then the system
    keyring's (saved there only when the user asked)."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def get(self, key_path: Path) -> str | None:
        return self._known.get(str(key_path))

    def remember(self, key_path: Path, passphrase: str, save: bool = False) -> None:
        self._known[str(key_path)] = passphrase


# The process's passphrases (the GUI adds to it; every connection reads it).
PASSPHRASES = Passphrases()


# Called with the server's host key as soon as the key exchange got it (before it is checked),
# so a caller can show its fingerprint to a user who may trust it.
KeySeen = Callable[[paramiko.PKey], None]


def open_transport(
    worker: WorkerInfo, trust: TrustStore, timeout: float, key_seen: KeySeen | None = None
) -> paramiko.Transport:
    """TCP, key exchange, host-key check, authentication (in a thread)."""
    host, port = worker.host or "localhost", worker.port or 22
    sock = socket.create_connection((host, port), timeout=timeout)
    transport = paramiko.Transport(sock)
    try:
        transport.banner_timeout = timeout
        transport.handshake_timeout = timeout
        transport.auth_timeout = timeout
        prefer_known_key_types(transport, trust, host, port)
        transport.start_client(timeout=timeout)
        key = transport.get_remote_server_key()
        if key_seen is not None:
            key_seen(key)
        trust.check(host, port, key)
        authenticate(transport, worker.user or getpass.getuser(), worker.key_path)
        return transport
    except BaseException:
        transport.close()
        raise


def prefer_known_key_types(
    transport: paramiko.Transport, trust: TrustStore, host: str, port: int
) -> None:
    """As OpenSSH does: ask the server first for a key type already known for it, so a host
    known by its RSA key is not reported unknown because it also has an Ed25519 key."""
    known = trust.known_types(host, port)
    if not known:
        return
    options = transport.get_security_options()
    wanted = set(known)
    if "ssh-rsa" in wanted:
        wanted |= {"rsa-sha2-512", "rsa-sha2-256"}
    types = list(options.key_types)
    options.key_types = [t for t in types if t in wanted] + [t for t in types if t not in wanted]


def authenticate(transport: paramiko.Transport, user: str, key_path: str | None) -> None:
    if key_path:
        path = Path(key_path).expanduser()
        offer(transport, user, [load_key(path)], f"the key {path}")
        return
    agent = paramiko.Agent()
    try:
        keys = list(agent.get_keys())
        if not keys:
            raise AuthProblem("no key file is set and the ssh-agent offers no keys")
        # The agent signs for its keys: its socket stays open until authentication ends.
        offer(transport, user, keys, "the ssh-agent's keys")
    finally:
        agent.close()


def offer(
    transport: paramiko.Transport, user: str, keys: Sequence[paramiko.PKey], source: str
) -> None:
    for key in keys:
        try:
            transport.auth_publickey(user, key)
        except paramiko.AuthenticationException:
            continue
        if transport.is_authenticated():
            return
    raise AuthProblem(f"the server did not accept {source} for user {user}")


def load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko says so for PEM keys; for OpenSSH-format keys the TypeError comes from
        # cryptography ("Key is password-protected, but password was not provided").
        raise NeedsPassphrase(
            path, f"the key {path} is encrypted; passphrases are not supported yet"
        ) from None
    except (OSError, paramiko.SSHException, ValueError) as e:
        raise AuthProblem(f"cannot read the key {path}: {describe(e)}") from None


def describe(e: BaseException) -> str:
    """A network error in a user's words."""
    if isinstance(e, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    return str(e) or type(e).__name__
