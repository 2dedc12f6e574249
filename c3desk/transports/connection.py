"""A worker's connection: everything a session needs from the machine it runs on.

The engine holds one :class:`WorkerConnection` per worker row, made by a
:data:`ConnectionFactory` the composition root gives it. The connection has a lifecycle
(:meth:`~WorkerConnection.connect`, :meth:`~WorkerConnection.close`, a status and a reason
reported to listeners as they change) and offers the machine's services: starting a process in a
terminal, finding one again after c3desk restarted, reading and listing files, and delivering the
agent's hook reports.

Threads: every method is called on the engine's asyncio loop, and none may block it. The
``async`` ones may take long (a fork, a network round trip, a slow disk): blocking work inside
them goes to a thread with ``loop.run_in_executor``. The plain methods (``status``, ``reason``,
``on_status``, ``hook_command``) answer at once from memory. The callbacks a connection receives
(``on_output``, ``on_exit``, status listeners) are called on the loop too.

This module is below the store: it knows a worker only as a :class:`WorkerInfo`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from c3desk.transports.base import (
    ExitCallback,
    OutputCallback,
    Process,
    SpawnError,
    SpawnRequest,
)

ConnectionStatus = Literal["connected", "disconnected", "error"]


@dataclass(frozen=True)
class WorkerInfo:
    """The worker row as a connection sees it."""

    id: str
    name: str
    type: str  # "local" | "remote"
    host: str | None = None
    port: int | None = None
    user: str | None = None
    key_path: str | None = None
    max_sessions: int = 2


@dataclass(frozen=True)
class DirEntry:
    """A folder's entry, not following a symbolic link.

    ``ctime`` is None where the machine does not say (SFTP gives only the modification time);
    ``is_file`` is None where it cannot tell a regular file from a link, fifo or device."""

    name: str
    is_dir: bool
    size: int
    mtime: float
    ctime: float | None = None
    is_file: bool | None = None


@dataclass(frozen=True)
class FileStat:
    """A file's size and times, following symbolic links (``ctime`` as in :class:`DirEntry`)."""

    is_dir: bool
    size: int
    mtime: float
    ctime: float | None = None
    is_file: bool | None = None


class TooLarge(OSError):
    """A download refused because the file holds more than the bytes allowed."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {limit} bytes ({size} bytes or more)", path)
        self.size, self.limit = size, limit


def save_copy(dest: Path, data: bytes, mtime: float) -> None:
    """Write ``data`` to the local file ``dest`` atomically, with modification time ``mtime``
    (blocking: call in a thread)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".download-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


StatusListener = Callable[["WorkerConnection"], None]
# A hook report: the session's id, the event ("busy", "idle", "waiting", "session-start") and
# the hook's JSON payload.
HookSink = Callable[[str, str, Mapping[str, Any]], None]


class WorkerConnection(abc.ABC):
    """One worker's machine, seen from the engine (see the module docstring for threads)."""

    # Seconds between liveness checks, for connections that make them (the engine sets it
    # from the settings, live).
    heartbeat: float = 10.0
    # The persistent_sessions setting: sessions are hosted (in tmux, outliving c3desk) "auto"
    # (where the worker has tmux >= 3.0), "always" or "never" (the engine sets it, live).
    persistence: str = "auto"

    def __init__(self, worker: WorkerInfo) -> None:
        self.worker = worker
        self._status: ConnectionStatus = "disconnected"
        self._reason: str | None = "not connected yet"
        self._listeners: list[StatusListener] = []
        self._hook_sink: HookSink | None = None

    # -- lifecycle (loop) --------------------------------------------------------------------

    @property
    def status(self) -> ConnectionStatus:
        return self._status

    @property
    def reason(self) -> str | None:
        """Why the status is what it is, in a user's words (None when connected)."""
        return self._reason

    def on_status(self, listener: StatusListener) -> Callable[[], None]:
        """Call ``listener`` on the loop each time the status or reason changes; returns a
        function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _set_status(self, status: ConnectionStatus, reason: str | None = None) -> None:
        if (status, reason) == (self._status, self._reason):
            return
        self._status, self._reason = status, reason
        for listener in list(self._listeners):
            listener(self)

    @abc.abstractmethod
    async def connect(self) -> None:
        """Reach the machine; the status says how it went (this never raises for an
        unreachable machine: it reports ``error`` with a reason)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Let go of the machine. Processes started through the connection are not ended
        here: the engine ends its sessions first."""

    # -- processes (loop; the work may go to threads) ----------------------------------------

    @abc.abstractmethod
    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        """Start a process in a terminal; raise :class:`~c3desk.transports.base.SpawnError`
        when it cannot be started. The process's ``handle`` is what :meth:`reattach` needs
        to find it again."""

    async def hosted_handle(self, session_id: str) -> str | None:
        """The handle a new session will have when this connection hosts it so that it outlives
        c3desk (the engine records it before the start, so that a crash in between still finds
        it, and passes it back in the :class:`SpawnRequest`); None: it runs in a bare terminal
        and ends with c3desk. Raises :class:`~c3desk.transports.base.SpawnError` when
        ``persistence`` is "always" and the worker cannot host."""
        return None

    @abc.abstractmethod
    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        """Find the process recorded as ``handle`` again and attach to its terminal, made
        ``size`` (columns, rows: the terminal c3desk shows it in); None when it is gone (or
        cannot be reached again by its nature)."""

    async def hosted_size(self, handle: str) -> tuple[int, int] | None:
        """The size (columns, rows) the terminal of the process recorded as ``handle`` has
        now, where its host keeps it (tmux): the size to attach to it again at, so that it is
        not made to redraw for a size nobody shows. None: not known (or not hosted)."""
        return None

    async def answers(self, timeout: float) -> bool:
        """Does the machine answer within ``timeout`` seconds now? (The local one always does.)"""
        return self.status == "connected"

    async def put_session_file(self, session_id: str, name: str, data: bytes) -> str | None:
        """Put a file a session's process reads (its hook settings) on that machine, for as
        long as the session runs; returns its path there. None: the process runs on this
        machine, and the caller's own file serves."""
        return None

    # -- files (loop; blocking reads go to threads) ------------------------------------------

    # Paths are the machine's own (absolute, POSIX on every machine c3desk reaches).

    @abc.abstractmethod
    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        """At most ``limit`` bytes from ``offset`` on; raise OSError as open does."""

    @abc.abstractmethod
    async def list_dir(self, path: str) -> list[DirEntry]:
        """The folder's entries (not recursive, not following links); raise OSError as
        scandir does."""

    @abc.abstractmethod
    async def stat(self, path: str) -> FileStat | None:
        """The file's size and times (following links), or None when it does not exist."""

    async def home(self) -> str:
        """The home folder of the user the worker's processes run as, on that machine (where
        its ``~/.claude`` is); raise OSError when the connection cannot tell."""
        raise OSError(f"the worker {self.worker.name} does not say where its home is")

    async def claude_config_dir(self) -> str | None:
        """Where Claude Code keeps its configuration on that machine when the environment
        there says so (CLAUDE_CONFIG_DIR); None: ``~/.claude`` of :meth:`home`. The local
        machine's sessions get this process's environment, which the engine reads itself."""
        return None

    async def realpath(self, path: str) -> str:
        """``path`` with symlinks resolved, on that machine (as Claude Code names projects)."""
        return path

    async def download(self, path: str, dest: Path, limit: int) -> FileStat:
        """Copy the file ``path`` of that machine to ``dest`` on this one (replaced atomically,
        with the same modification time); returns its stat. Raise :class:`TooLarge` when it
        holds more than ``limit`` bytes, OSError when it cannot be read.

        This default reads it whole through :meth:`read_file`; a connection with a faster
        way (SFTP's pipelined reads) overrides it."""
        info = await self.stat(path)
        if info is None:
            raise FileNotFoundError(errno.ENOENT, "no such file", path)
        if info.is_dir:
            raise IsADirectoryError(errno.EISDIR, "a folder", path)
        if info.is_file is False:
            raise OSError(errno.EINVAL, "not a regular file", path)
        if info.size > limit:
            raise TooLarge(path, info.size, limit)
        data = await self.read_file(path, limit + 1)
        if len(data) > limit:  # it grew since the stat
            raise TooLarge(path, len(data), limit)
        await asyncio.get_running_loop().run_in_executor(None, save_copy, dest, data, info.mtime)
        return FileStat(False, len(data), info.mtime, info.ctime, info.is_file)

    # -- hooks (immediate) -------------------------------------------------------------------

    @abc.abstractmethod
    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        """The command an agent's hook runs on that machine to report to this instance (the
        hook's event name is appended), or None when reports cannot come back from there."""

    def deliver_hooks(self, sink: HookSink) -> None:
        """Where the hook reports this connection receives go (the engine, on the loop).

        A connection whose reports arrive over its own channel (a remote machine) passes each
        to :meth:`_report_hook`; the local machine's arrive through the control socket instead,
        which hands them to the engine directly."""
        self._hook_sink = sink

    def _report_hook(self, session_id: str, event: str, payload: Mapping[str, Any]) -> None:
        if self._hook_sink is not None:
            self._hook_sink(session_id, event, payload)


ConnectionFactory = Callable[[WorkerInfo], WorkerConnection]


class UnsupportedConnection(WorkerConnection):
    """A worker of a type this build cannot reach: it stays disconnected, saying why."""

    def __init__(self, worker: WorkerInfo) -> None:
        super().__init__(worker)
        self._reason = self._why()

    def _why(self) -> str:
        return f"c3desk cannot connect to {self.worker.type} workers in this version"

    async def connect(self) -> None:
        self._set_status("disconnected", self._why())

    async def close(self) -> None:
        self._set_status("disconnected", self._why())

    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        raise SpawnError(self._why())

    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        return None

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        raise OSError(self._why())

    async def list_dir(self, path: str) -> list[DirEntry]:
        raise OSError(self._why())

    async def stat(self, path: str) -> FileStat | None:
        raise OSError(self._why())

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        return None
