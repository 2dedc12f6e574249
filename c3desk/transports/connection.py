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
    name: str
    is_dir: bool
    size: int
    mtime: float


@dataclass(frozen=True)
class FileStat:
    is_dir: bool
    size: int
    mtime: float


StatusListener = Callable[["WorkerConnection"], None]
# A hook report: the session's id, the event ("busy", "idle", "waiting", "session-start") and
# the hook's JSON payload.
HookSink = Callable[[str, str, Mapping[str, Any]], None]


class WorkerConnection(abc.ABC):
    """One worker's machine, seen from the engine (see the module docstring for threads)."""

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

    @abc.abstractmethod
    async def reattach(
        self, handle: str, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process | None:
        """Find the process recorded as ``handle`` again and attach to its terminal; None when
        it is gone (or cannot be reached again by its nature)."""

    # -- files (loop; blocking reads go to threads) ------------------------------------------

    @abc.abstractmethod
    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        """At most ``limit`` bytes from ``offset`` on; raise OSError as open does."""

    @abc.abstractmethod
    async def list_dir(self, path: str) -> list[DirEntry]:
        """The folder's entries (not recursive); raise OSError as scandir does."""

    @abc.abstractmethod
    async def stat(self, path: str) -> FileStat | None:
        """The file's size and times, or None when it does not exist."""

    async def home(self) -> str:
        """The worker user's home folder on that machine (where its ``~/.claude`` is)."""
        raise OSError(f"the worker {self.worker.name} does not say where its home is")

    async def realpath(self, path: str) -> str:
        """``path`` with symlinks resolved, on that machine (as Claude Code names projects)."""
        return path

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
        self, handle: str, on_output: OutputCallback, on_exit: ExitCallback
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
