"""What the engine needs from a running session's process, wherever it runs.

A transport starts one agent process with a terminal of a given size and then moves bytes: output
arrives through ``on_output``, input goes out through :meth:`Process.write`. The local PTY is the
first transport; SSH channels and tmux-hosted sessions implement the same interface.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


class SpawnError(Exception):
    """The process could not be started; the message says why in a user's words."""


# The failure reason of a session whose hosted process its worker no longer has: tmux's session
# removed behind c3desk's back, or not found after a restart or a reconnect.
LOST = "lost"


@dataclass(frozen=True)
class ExitStatus:
    code: int | None  # exit status, or None when a signal ended it
    signal: int | None = None
    # Why, when neither says it (a remote process whose connection dropped, say).
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.code == 0

    def describe(self) -> str:
        import signal as _signal

        if self.reason is not None:
            return self.reason
        if self.signal is not None:
            try:
                name = _signal.Signals(self.signal).name
            except ValueError:
                name = f"signal {self.signal}"
            return f"ended by {name}"
        return f"exited with status {self.code}"


@dataclass(frozen=True)
class SpawnRequest:
    argv: Sequence[str]
    cwd: str
    env: Mapping[str, str]
    cols: int = 120
    rows: int = 40
    # Where the connection hosts the process so that it outlives c3desk (what its
    # ``hosted_handle`` answered, recorded by the engine before the start); None: a bare PTY.
    handle: str | None = None


class ExitWaiters:
    """Those awaiting a process's end (its ``wait()``), released together when it ended."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._futures: list[asyncio.Future[ExitStatus]] = []

    async def wait(self) -> ExitStatus:
        fut: asyncio.Future[ExitStatus] = self._loop.create_future()
        self._futures.append(fut)
        return await fut

    def release(self, status: ExitStatus) -> None:
        for fut in self._futures:
            if not fut.done():
                fut.set_result(status)
        self._futures.clear()


OutputCallback = Callable[[bytes], None]
ExitCallback = Callable[[ExitStatus], None]


class Process(abc.ABC):
    """One running agent process attached to a terminal."""

    pid: int | None
    # What the process's connection needs to find it again after c3desk restarted ("" when
    # nothing can: see WorkerConnection.reattach).
    handle: str = ""
    # The process outlives c3desk (hosted in tmux): quitting may leave it running, and a later
    # c3desk reattaches through ``handle``.
    survives: bool = False

    async def detach(self) -> None:
        """Let go of the process without ending it (only for one that :attr:`survives`)."""
        raise NotImplementedError("this process ends with c3desk")

    async def settled(self) -> None:  # noqa: B027 (a default: most have nothing left to do)
        """Return once, after its end, whatever the process still cleans up is done (a hosted
        one removes its tmux session and its client): nothing of it is left running."""

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Queue input for the process; never blocks the loop."""

    @abc.abstractmethod
    def resize(self, cols: int, rows: int) -> None: ...

    @abc.abstractmethod
    def pause_reading(self) -> None:
        """Stop reading output (the program blocks once the terminal's buffer is full)."""

    @abc.abstractmethod
    def resume_reading(self) -> None: ...

    @abc.abstractmethod
    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        """End the process (hang-up, then terminate, then kill) and return how it ended."""

    @property
    @abc.abstractmethod
    def exited(self) -> bool: ...


class Transport(abc.ABC):
    """Starts processes on one worker."""

    @abc.abstractmethod
    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        """Start the process; raise :class:`SpawnError` when it cannot be started."""
