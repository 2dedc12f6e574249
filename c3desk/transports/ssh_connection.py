"""A remote machine as a worker connection, over one SSH transport (paramiko).

What this part does: :meth:`SSHConnection.connect` opens the TCP connection, checks the server's
host key through :mod:`c3desk.transports.ssh_trust` (never trust on first use) and
authenticates with the worker's key file, or with the keys the ssh-agent offers when the worker
names none. All of it runs in a thread, so the loop never waits on the network. Files are read
over SFTP, in a thread too.

Status: ``connected``; ``error`` with the reason for host-key and authentication problems (they do
not go away by trying again); ``disconnected`` with the reason for network problems.

Not yet (a later part of the work): :meth:`spawn` raises ``SpawnError("not yet")`` and
:meth:`reattach` answers None, because remote sessions (an exec channel with a PTY), heartbeats
and reconnection are not built; ``~/.ssh/config`` aliases, ProxyJump and passphrases of
encrypted keys neither. The engine does not use this class yet.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
import stat as st
import threading
from collections.abc import Sequence
from pathlib import Path

import paramiko

from c3desk.transports.base import ExitCallback, OutputCallback, Process, SpawnError, SpawnRequest
from c3desk.transports.connection import (
    ConnectionStatus,
    DirEntry,
    FileStat,
    WorkerConnection,
    WorkerInfo,
)
from c3desk.transports.ssh_trust import HostKeyError, TrustStore


class _AuthProblem(Exception):
    """Authentication failed for a reason a user can act on."""


class SSHConnection(WorkerConnection):
    def __init__(
        self, worker: WorkerInfo, trust: TrustStore, connect_timeout: float = 15.0
    ) -> None:
        super().__init__(worker)
        self._trust = trust
        self._timeout = connect_timeout
        self._transport: paramiko.Transport | None = None
        self._sftp: paramiko.SFTPClient | None = None
        # paramiko's SFTP client is shared by the executor's threads: one request at a time.
        self._sftp_lock = threading.Lock()
        self._generation = 0  # bumped by close(), so a connect finishing after it lets go
        # Why the last connect was refused for its host key, and the key the server offered
        # (what a user confirms with TrustStore.trust after seeing its fingerprint).
        self.host_key_error: HostKeyError | None = None
        self.offered_host_key: paramiko.PKey | None = None

    @property
    def host(self) -> str:
        return self.worker.host or "localhost"

    @property
    def port(self) -> int:
        return self.worker.port or 22

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        stale, stale_sftp = self._transport, self._sftp
        if stale is not None and stale.is_active():
            return
        if stale is not None:
            # The last connection died: let go of it and of its SFTP session before a new one.
            self._transport = self._sftp = None
            await asyncio.get_running_loop().run_in_executor(None, _shut, stale_sftp, stale)
        self.host_key_error = None
        where = f"{self.host} port {self.port}"
        generation = self._generation
        loop = asyncio.get_running_loop()
        transport: paramiko.Transport | None = None
        problem: HostKeyError | None = None
        try:
            transport = await loop.run_in_executor(None, self._open)
            outcome: tuple[ConnectionStatus, str | None] = ("connected", None)
        except HostKeyError as e:
            problem, outcome = e, ("error", str(e))
        except _AuthProblem as e:
            outcome = ("error", f"authentication to {where} failed: {e}")
        except (OSError, EOFError, paramiko.SSHException) as e:
            outcome = ("disconnected", f"cannot reach {where}: {_describe(e)}")
        if generation != self._generation:
            # close() was called while this was connecting: it wins.
            if transport is not None:
                await loop.run_in_executor(None, transport.close)
            return
        self._transport, self.host_key_error = transport, problem
        self._set_status(*outcome)

    async def close(self) -> None:
        self._generation += 1
        transport, sftp = self._transport, self._sftp
        self._transport = self._sftp = None
        if transport is not None:
            await asyncio.get_running_loop().run_in_executor(None, _shut, sftp, transport)
        self._set_status("disconnected", "closed by c3desk")

    def _open(self) -> paramiko.Transport:
        """TCP, key exchange, host-key check, authentication (in a thread)."""
        sock = socket.create_connection((self.host, self.port), timeout=self._timeout)
        transport = paramiko.Transport(sock)
        try:
            transport.banner_timeout = self._timeout
            transport.handshake_timeout = self._timeout
            transport.auth_timeout = self._timeout
            self._prefer_known_key_types(transport)
            transport.start_client(timeout=self._timeout)
            key = transport.get_remote_server_key()
            self.offered_host_key = key
            self._trust.check(self.host, self.port, key)
            self._authenticate(transport)
            return transport
        except BaseException:
            transport.close()
            raise

    def _prefer_known_key_types(self, transport: paramiko.Transport) -> None:
        # As OpenSSH does: ask the server first for a key type already known for it, so a host
        # known by its RSA key is not reported unknown because it also has an Ed25519 key.
        known = self._trust.known_types(self.host, self.port)
        if not known:
            return
        options = transport.get_security_options()
        wanted = set(known)
        if "ssh-rsa" in wanted:
            wanted |= {"rsa-sha2-512", "rsa-sha2-256"}
        types = list(options.key_types)
        options.key_types = [t for t in types if t in wanted] + [
            t for t in types if t not in wanted
        ]

    def _authenticate(self, transport: paramiko.Transport) -> None:
        user = self.worker.user or getpass.getuser()
        if self.worker.key_path:
            path = Path(self.worker.key_path).expanduser()
            self._offer(transport, user, [_load_key(path)], f"the key {path}")
            return
        agent = paramiko.Agent()
        try:
            keys = list(agent.get_keys())
            if not keys:
                raise _AuthProblem("no key file is set and the ssh-agent offers no keys")
            # The agent signs for its keys: its socket stays open until authentication ends.
            self._offer(transport, user, keys, "the ssh-agent's keys")
        finally:
            agent.close()

    @staticmethod
    def _offer(
        transport: paramiko.Transport, user: str, keys: Sequence[paramiko.PKey], source: str
    ) -> None:
        for key in keys:
            try:
                transport.auth_publickey(user, key)
            except paramiko.AuthenticationException:
                continue
            if transport.is_authenticated():
                return
        raise _AuthProblem(f"the server did not accept {source} for user {user}")

    # -- processes (a later part) --------------------------------------------------------------

    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        raise SpawnError("not yet: sessions on SSH workers are not built in this version")

    async def reattach(
        self, handle: str, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process | None:
        return None

    # -- files -------------------------------------------------------------------------------

    def _client(self) -> paramiko.SFTPClient:
        """The SFTP session, opened on first use (in a thread, under the lock)."""
        transport = self._transport
        if transport is None or not transport.is_active():
            raise OSError(f"the worker {self.worker.name} is not connected")
        if self._sftp is None:
            client = paramiko.SFTPClient.from_transport(transport)
            if client is None:
                raise OSError(f"the worker {self.worker.name} refused an SFTP session")
            self._sftp = client
        return self._sftp

    async def read_file(self, path: str, limit: int) -> bytes:
        def read() -> bytes:
            with self._sftp_lock, self._client().open(path, "rb") as f:
                return f.read(max(0, limit))

        return await asyncio.get_running_loop().run_in_executor(None, read)

    async def list_dir(self, path: str) -> list[DirEntry]:
        def scan() -> list[DirEntry]:
            with self._sftp_lock:
                entries = self._client().listdir_attr(path)
            return [
                DirEntry(
                    e.filename,
                    st.S_ISDIR(e.st_mode or 0),
                    e.st_size or 0,
                    float(e.st_mtime or 0),
                )
                for e in entries
            ]

        return await asyncio.get_running_loop().run_in_executor(None, scan)

    async def stat(self, path: str) -> FileStat | None:
        def look() -> FileStat | None:
            try:
                with self._sftp_lock:
                    info = self._client().stat(path)
            except FileNotFoundError:
                return None
            return FileStat(
                st.S_ISDIR(info.st_mode or 0), info.st_size or 0, float(info.st_mtime or 0)
            )

        return await asyncio.get_running_loop().run_in_executor(None, look)

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        # No route back from the server yet: remote sessions will rely on the screen.
        return None


def _shut(sftp: paramiko.SFTPClient | None, transport: paramiko.Transport) -> None:
    """Close an SFTP session and its transport (joins paramiko's thread: not on the loop)."""
    if sftp is not None:
        sftp.close()
    transport.close()


def _load_key(path: Path) -> paramiko.PKey:
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko says so for PEM keys; for OpenSSH-format keys the TypeError comes from
        # cryptography ("Key is password-protected, but password was not provided").
        raise _AuthProblem(
            f"the key {path} is encrypted; passphrases are not supported yet"
        ) from None
    except (OSError, paramiko.SSHException, ValueError) as e:
        raise _AuthProblem(f"cannot read the key {path}: {_describe(e)}") from None


def _describe(e: BaseException) -> str:
    if isinstance(e, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    text = str(e) or type(e).__name__
    return text
