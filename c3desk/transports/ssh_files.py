"""A worker's files over SFTP: one SFTP session on the worker's SSH transport, used from the
executor's threads one request at a time (paramiko's client is not thread-safe)."""

from __future__ import annotations

import asyncio
import stat as st
import threading
from collections.abc import Callable
from typing import TypeVar

import paramiko

from c3desk.transports.connection import DirEntry, FileStat

T = TypeVar("T")


class SFTPFiles:
    def __init__(self, transport: Callable[[], paramiko.Transport | None], name: str) -> None:
        self._transport = transport  # the connection's current transport (None: not connected)
        self._name = name
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.Lock()

    def reset(self) -> paramiko.SFTPClient | None:
        """Forget the SFTP session (its transport is gone); returns it, for closing."""
        sftp, self._sftp = self._sftp, None
        return sftp

    def client(self) -> paramiko.SFTPClient:
        """The SFTP session, opened on first use (call in a thread, under :attr:`lock`)."""
        transport = self._transport()
        if transport is None or not transport.is_active():
            raise OSError(f"the worker {self._name} is not connected")
        if self._sftp is None:
            client = paramiko.SFTPClient.from_transport(transport)
            if client is None:
                raise OSError(f"the worker {self._name} refused an SFTP session")
            self._sftp = client
        return self._sftp

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    async def run(self, work: Callable[[paramiko.SFTPClient], T]) -> T:
        """``work(client)`` in a thread, under the lock."""

        def call() -> T:
            with self._lock:
                return work(self.client())

        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        def read(client: paramiko.SFTPClient) -> bytes:
            with client.open(path, "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read(max(0, limit))

        return await self.run(read)

    async def list_dir(self, path: str) -> list[DirEntry]:
        def scan(client: paramiko.SFTPClient) -> list[DirEntry]:
            return [
                DirEntry(
                    e.filename, st.S_ISDIR(e.st_mode or 0), e.st_size or 0, float(e.st_mtime or 0)
                )
                for e in client.listdir_attr(path)
            ]

        return await self.run(scan)

    async def stat(self, path: str) -> FileStat | None:
        def look(client: paramiko.SFTPClient) -> FileStat | None:
            try:
                info = client.stat(path)
            except FileNotFoundError:
                return None
            return FileStat(
                st.S_ISDIR(info.st_mode or 0), info.st_size or 0, float(info.st_mtime or 0)
            )

        return await self.run(look)

    async def home(self) -> str:
        """The login folder SFTP starts in: the remote user's home."""
        return await self.run(lambda client: client.normalize("."))

    async def realpath(self, path: str) -> str:
        return await self.run(lambda client: client.normalize(path))
