"""A worker's files over SFTP: one SFTP session on the worker's SSH transport, used from the
executor's threads one request at a time (paramiko's client is not thread-safe).

SFTP (version 3, what OpenSSH speaks) gives whole-second modification times and no ctime; a
listing gives each entry's own mode (a symbolic link is a link, not what it points to). A
download (:meth:`SFTPFiles.download`) gets an SFTP session of its own, so a large preview does
not hold up the artifact scans that share the main one.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat as st
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import paramiko

from c3desk.transports.connection import DirEntry, FileStat, TooLarge

T = TypeVar("T")

_CHUNK = 1 << 20  # a download is written in pieces of this size
_PIPELINE_FROM = 64 * 1024  # reads longer than this ask for all their blocks at once


class SFTPFiles:
    def __init__(self, transport: Callable[[], paramiko.Transport | None], name: str) -> None:
        self._transport = transport  # the connection's current transport (None: not connected)
        self._name = name
        self._sftp: paramiko.SFTPClient | None = None
        self._lock = threading.Lock()
        self._home: str | None = None  # the SFTP session's starting folder, once asked

    def reset(self) -> paramiko.SFTPClient | None:
        """Forget the SFTP session (its transport is gone); returns it, for closing."""
        sftp, self._sftp = self._sftp, None
        self._home = None
        return sftp

    def client(self) -> paramiko.SFTPClient:
        """The SFTP session, opened on first use (call in a thread, under :attr:`lock`)."""
        transport = self._live_transport()
        if self._sftp is None:
            self._sftp = self._open(transport)
        return self._sftp

    def _live_transport(self) -> paramiko.Transport:
        transport = self._transport()
        if transport is None or not transport.is_active():
            raise OSError(f"the worker {self._name} is not connected")
        return transport

    def _open(self, transport: paramiko.Transport) -> paramiko.SFTPClient:
        client = paramiko.SFTPClient.from_transport(transport)
        if client is None:
            raise OSError(f"the worker {self._name} refused an SFTP session")
        return client

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    async def run(self, work: Callable[[paramiko.SFTPClient], T]) -> T:
        """``work(client)`` in a thread, under the lock. A broken SFTP session (its channel
        closed under it) raises OSError like any failed file call, and is let go of: the next
        call opens a new one."""

        def call() -> T:
            with self._lock:
                client = self.client()
                try:
                    return work(client)
                except (EOFError, paramiko.SSHException, OSError) as exc:
                    if isinstance(exc, OSError) and not client.sock.closed:
                        raise  # the file's own error (missing, refused): the session is fine
                    if self._sftp is client:
                        self._sftp, self._home = None, None
                    with contextlib.suppress(Exception):
                        client.close()
                    why = str(exc) or type(exc).__name__
                    raise OSError(f"the SFTP session with {self._name} broke: {why}") from exc

        return await asyncio.get_running_loop().run_in_executor(None, call)

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        def read(client: paramiko.SFTPClient) -> bytes:
            with client.open(path, "rb") as f:
                if offset:
                    f.seek(offset)
                if limit > _PIPELINE_FROM:
                    # Every block asked for at once: a long read (a transcript's new part)
                    # costs one round trip, not one per 32 KB.
                    end = min(f.stat().st_size or 0, offset + limit)
                    if end > offset:
                        f.prefetch(end)
                return f.read(max(0, limit))

        return await self.run(read)

    async def list_dir(self, path: str) -> list[DirEntry]:
        def scan(client: paramiko.SFTPClient) -> list[DirEntry]:
            out: list[DirEntry] = []
            for e in client.listdir_attr(path):
                mode = e.st_mode or 0
                out.append(
                    DirEntry(
                        e.filename,
                        st.S_ISDIR(mode),
                        e.st_size or 0,
                        float(e.st_mtime or 0),
                        is_file=st.S_ISREG(mode),
                    )
                )
            return out

        return await self.run(scan)

    async def stat(self, path: str) -> FileStat | None:
        def look(client: paramiko.SFTPClient) -> FileStat | None:
            try:
                info = client.stat(path)
            except FileNotFoundError:
                return None
            mode = info.st_mode or 0
            return FileStat(
                st.S_ISDIR(mode),
                info.st_size or 0,
                float(info.st_mtime or 0),
                is_file=st.S_ISREG(mode),
            )

        return await self.run(look)

    async def home(self) -> str:
        """The remote user's home folder: where the server starts an SFTP session (OpenSSH
        starts it in the account's home), asked once per SFTP session."""

        def ask(client: paramiko.SFTPClient) -> str:
            if self._home is None:
                self._home = client.normalize(".")
            return self._home

        return await self.run(ask)

    async def realpath(self, path: str) -> str:
        """``path`` with symbolic links resolved on the server; raise OSError when it does not
        exist there."""
        return await self.run(lambda client: client.normalize(path))

    async def download(self, path: str, dest: Path, limit: int) -> FileStat:
        """Copy the remote file ``path`` to the local ``dest`` (replaced atomically, its mtime
        set to the remote one); raise :class:`TooLarge` when it holds more than ``limit``
        bytes, OSError when it cannot be read. Returns the remote file's stat."""

        def fetch() -> FileStat:
            # Its own SFTP session: the main one stays free for the artifact scans.
            client = self._open(self._live_transport())
            try:
                return _copy(client, path, dest, limit)
            finally:
                client.close()

        return await asyncio.get_running_loop().run_in_executor(None, fetch)


def _copy(client: paramiko.SFTPClient, path: str, dest: Path, limit: int) -> FileStat:
    # Looked at before opening: opening a fifo would wait for a writer.
    mode = client.stat(path).st_mode or 0
    if st.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "a folder", path)
    if not st.S_ISREG(mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    with client.open(path, "rb") as source:
        info = source.stat()
        size = info.st_size or 0
        if size > limit:
            raise TooLarge(path, size, limit)
        if size:
            source.prefetch(size)  # every block asked for at once, not one round trip per 32 KB
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".download-", suffix=".tmp")
        try:
            copied = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(min(_CHUNK, limit + 1 - copied)):
                    copied += len(chunk)
                    if copied > limit:  # it grew since the stat
                        raise TooLarge(path, copied, limit)
                    out.write(chunk)
            mtime = float(info.st_mtime or 0)
            os.utime(tmp, (mtime, mtime))
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return FileStat(False, copied, mtime, is_file=True)
