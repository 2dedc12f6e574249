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
from c3desk.transports.ssh_files import SFTPFiles
from c3desk.transports.ssh_login import AuthProblem, describe, open_transport
from c3desk.transports.ssh_trust import HostKeyError, TrustStore


class SSHConnection(WorkerConnection):
    def __init__(
        self, worker: WorkerInfo, trust: TrustStore, connect_timeout: float = 15.0
    ) -> None:
        super().__init__(worker)
        self._trust = trust
        self._timeout = connect_timeout
        self._transport: paramiko.Transport | None = None
        self.files = SFTPFiles(lambda: self._transport, worker.name)
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
        stale = self._transport
        if stale is not None and stale.is_active():
            return
        if stale is not None:
            # The last connection died: let go of it and of its SFTP session before a new one.
            self._transport = None
            await asyncio.get_running_loop().run_in_executor(None, _shut, self.files.reset(), stale)
        self.host_key_error = None
        where = f"{self.host} port {self.port}"
        generation = self._generation
        loop = asyncio.get_running_loop()
        transport: paramiko.Transport | None = None
        problem: HostKeyError | None = None
        try:
            transport = await loop.run_in_executor(
                None, open_transport, self.worker, self._trust, self._timeout, self._key_seen
            )
            outcome: tuple[ConnectionStatus, str | None] = ("connected", None)
        except HostKeyError as e:
            problem, outcome = e, ("error", str(e))
        except AuthProblem as e:
            outcome = ("error", f"authentication to {where} failed: {e}")
        except (OSError, EOFError, paramiko.SSHException) as e:
            outcome = ("disconnected", f"cannot reach {where}: {describe(e)}")
        if generation != self._generation:
            # close() was called while this was connecting: it wins.
            if transport is not None:
                await loop.run_in_executor(None, transport.close)
            return
        self._transport, self.host_key_error = transport, problem
        self._set_status(*outcome)

    async def close(self) -> None:
        self._generation += 1
        transport, self._transport = self._transport, None
        sftp = self.files.reset()
        if transport is not None:
            await asyncio.get_running_loop().run_in_executor(None, _shut, sftp, transport)
        self._set_status("disconnected", "closed by c3desk")

    def _key_seen(self, key: paramiko.PKey) -> None:
        self.offered_host_key = key

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

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        return await self.files.read_file(path, limit, offset)

    async def list_dir(self, path: str) -> list[DirEntry]:
        return await self.files.list_dir(path)

    async def stat(self, path: str) -> FileStat | None:
        return await self.files.stat(path)

    async def home(self) -> str:
        return await self.files.home()

    async def realpath(self, path: str) -> str:
        return await self.files.realpath(path)

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        # No route back from the server yet: remote sessions will rely on the screen.
        return None


def _shut(sftp: paramiko.SFTPClient | None, transport: paramiko.Transport) -> None:
    """Close an SFTP session and its transport (joins paramiko's thread: not on the loop)."""
    if sftp is not None:
        sftp.close()
    transport.close()
