"""A tmux-hosted session on this machine, seen as one :class:`~c3desk.transports.base.Process`.

The agent runs in a tmux session of c3desk's own server (:mod:`c3desk.transports.tmux`); c3desk
shows it through a tmux client attached in a local PTY (:mod:`c3desk.transports.local`), so the
terminal model and view work unchanged. The process c3desk reports is the agent's own (the
pane's pid), never the client's: input and window-size changes go through the client, the exit is
the pane's. The agent's end is noticed through a pidfd on the pane's pid (polling where there is
none); its status comes from tmux (``remain-on-exit`` keeps the dead pane), then the tmux session
is removed, which lets the client go.

Not used by the engine yet (issue 17 wires it behind the ``persistent_sessions`` setting).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping

from c3desk.transports.base import (
    ExitCallback,
    ExitStatus,
    ExitWaiters,
    OutputCallback,
    Process,
    SpawnRequest,
)
from c3desk.transports.local import LocalTransport
from c3desk.transports.tmux import TmuxHost

POLL = 0.25  # seconds between looks at the pane where the kernel has no pidfd


class TmuxProcess(Process):
    def __init__(
        self,
        host: TmuxHost,
        name: str,
        pid: int,
        client: Process,
        on_exit: ExitCallback,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._host = host
        self.name = name
        self.pid = self._agent = pid
        self.handle = f"tmux:{name}"
        self.survives = True
        self._client = client
        self._on_exit = on_exit
        self._status: ExitStatus | None = None
        self._waiters = ExitWaiters(self._loop)
        self._watch: asyncio.Task[None] = self._loop.create_task(self._watch_agent())

    # -- input and output go through the client -------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._status is None:
            self._client.write(data)

    def resize(self, cols: int, rows: int) -> None:
        if self._status is None:
            self._client.resize(cols, rows)  # the window follows its client (window-size latest)

    def pause_reading(self) -> None:
        self._client.pause_reading()

    def resume_reading(self) -> None:
        self._client.resume_reading()

    # -- the agent's end ---------------------------------------------------------------------

    async def _watch_agent(self) -> None:
        await self._gone(self._agent)
        pane = await self._host.pane(self.name)
        status = pane.exit_status() if pane is not None else None
        await self._finish(status or ExitStatus(None, None, "ended (tmux kept no status)"))

    async def _gone(self, pid: int) -> None:
        """Return once the process ``pid`` (not our child) has exited."""
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            fd = None
        if fd is None:
            while _alive(pid):
                await asyncio.sleep(POLL)
            return
        ended = asyncio.Event()
        self._loop.add_reader(fd, ended.set)
        try:
            await ended.wait()
        finally:
            self._loop.remove_reader(fd)
            os.close(fd)

    async def _finish(self, status: ExitStatus) -> None:
        if self._status is not None:
            return
        self._status = status
        # Told first, so nothing below (or a cancellation of it) can lose the end; what the
        # client still shows of the dead pane is not the agent's output.
        self._client.pause_reading()
        self._waiters.release(status)
        self._on_exit(status)
        # The dead pane has told its status: the tmux session goes, and the client with it.
        with contextlib.suppress(Exception):
            await self._host.kill(self.name)
        with contextlib.suppress(Exception):
            await self._client.terminate(0.5)

    async def detach(self) -> None:
        """c3desk goes, the agent stays: only the client ends (tmux keeps the session)."""
        self._watch.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watch
        with contextlib.suppress(Exception):
            await self._client.terminate(0.5)

    @property
    def exited(self) -> bool:
        return self._status is not None

    async def wait(self) -> ExitStatus:
        if self._status is not None:
            return self._status
        return await self._waiters.wait()

    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        """End the tmux session (hang-up, then kill after ``grace``): nothing is left behind."""
        if self._status is None:
            await self._host.kill(self.name, grace)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.wait()), grace + 2.0)
            if self._status is None:
                self._watch.cancel()
                await self._finish(ExitStatus(None, None, "ended by c3desk"))
        await self.settled()
        assert self._status is not None
        return self._status

    async def settled(self) -> None:
        """Wait (a few seconds at most) until, after the end, the tmux session and the client
        are gone too."""
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._watch), 5.0)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _client_env(env: Mapping[str, str]) -> dict[str, str]:
    # The client needs a TERM it knows; TMUX would make it refuse to nest.
    out = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE")}
    out["TERM"] = "xterm-256color"
    return out


async def attach(
    host: TmuxHost,
    name: str,
    env: Mapping[str, str],
    cols: int,
    rows: int,
    on_output: OutputCallback,
    on_exit: ExitCallback,
    *,
    replay: bool = True,
) -> TmuxProcess | None:
    """Attach to the hosted session ``name``: None when tmux no longer has it. With ``replay``
    (attaching again, after a restart), what it printed before goes to ``on_output`` first
    (capture-pane), then the live screen."""
    pane = await host.pane(name)
    if pane is None:
        return None
    if replay:
        history = await host.capture(name)
        if history:
            on_output(history.replace(b"\n", b"\r\n"))
    request = SpawnRequest(host.attach_argv(name), "/", _client_env(env), cols, rows)

    def client_ended(_status: ExitStatus) -> None:
        """The client went (detached, or its session removed): the agent's end decides."""

    client = await LocalTransport().spawn(request, on_output, client_ended)
    return TmuxProcess(host, name, pane.pid, client, on_exit)


async def start(
    host: TmuxHost,
    name: str,
    request: SpawnRequest,
    on_output: OutputCallback,
    on_exit: ExitCallback,
) -> TmuxProcess:
    """Start the agent in a new tmux session ``name`` and attach to it."""
    await host.new_session(
        name, request.cwd, list(request.argv), dict(request.env), request.cols, request.rows,
        exact_env=True,
    )  # fmt: skip
    process = await attach(
        host, name, request.env, request.cols, request.rows, on_output, on_exit, replay=False
    )
    if process is None:
        raise OSError(f"the tmux session {name} ended before c3desk could attach to it")
    return process
