"""A tmux-hosted session, seen as one :class:`~c3desk.transports.base.Process`.

The agent runs in a tmux session of c3desk's own server (:mod:`c3desk.transports.tmux`); c3desk
shows it through a tmux client attached in a terminal: a local PTY (:mod:`c3desk.transports.local`)
by default, an SSH channel with a PTY for a worker's server (the caller's ``client`` factory), so
the terminal model and view work unchanged. The process c3desk reports is the agent's own (the
pane's pid), never the client's: input and window-size changes go through the client, the exit is
the pane's. The agent's end is noticed through a pidfd on the pane's pid (polling where there is
none), or what the caller's ``gone`` says (a watcher on the worker); its status comes from tmux
(``remain-on-exit`` keeps the dead pane), then the tmux session is removed, which lets the client
go. A ``gone`` that raises :class:`ConnectionError` (the worker's connection dropped) ends
nothing: the process goes quiet until it is detached and attached again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from c3desk.transports.base import (
    LOST,
    ExitCallback,
    ExitStatus,
    ExitWaiters,
    OutputCallback,
    Process,
    SpawnRequest,
)
from c3desk.transports.local import LocalTransport
from c3desk.transports.tmux import Pane, TmuxError, TmuxHost, TmuxUnreachable

POLL = 0.25  # seconds between looks at the pane where the kernel has no pidfd
# How long the end of an agent is asked about again while tmux cannot be asked (an SSH worker's
# server refusing one more channel while other sessions hold theirs: OpenSSH's MaxSessions).
ASK_AGAIN_FOR = 10.0
LEFT_RUNNING = "left running on its worker, which could not be reached to end it"

# Returns once the agent (its pid) has ended; raises ConnectionError when that can no longer be
# known (its worker's connection dropped: the agent may well live on).
AgentGone = Callable[[int], Awaitable[None]]
# Starts a tmux client (its argv) in a terminal of cols x rows: the process moving its bytes.
ClientFactory = Callable[[list[str], int, int, OutputCallback, ExitCallback], Awaitable[Process]]


class TmuxProcess(Process):
    def __init__(
        self,
        host: TmuxHost,
        name: str,
        pid: int,
        client: Process,
        on_exit: ExitCallback,
        gone: AgentGone | None = None,
        show: OutputCallback | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._show = show or (lambda _data: None)  # output that is the agent's, past the gate
        self._host = host
        self.name = name
        self.pid = self._agent = pid
        self.handle = f"tmux:{name}"
        self.survives = True
        self.detached = False
        self.unreachable = False  # its worker went out of reach: its end can no longer be known
        self._client = client
        self._agent_gone = gone or self._gone
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

    async def _ended_pane(self) -> Pane | Literal["missing", "unasked"]:
        """The ended agent's pane, asked again while tmux cannot be asked (a refused channel
        frees up as other clients end); "missing" when tmux no longer has the session,
        "unasked" when it could not be asked."""
        deadline = self._loop.time() + ASK_AGAIN_FOR
        pause = 0.05
        while True:
            try:
                pane = await self._host.pane(self.name)
                return "missing" if pane is None else pane
            except TmuxUnreachable:
                if self._loop.time() + pause > deadline:
                    return "unasked"  # ended, but how could not be asked
            except TmuxError:
                return "unasked"
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    async def _watch_agent(self) -> None:
        try:
            await self._agent_gone(self._agent)
        except ConnectionError:
            self.unreachable = True
            return  # the worker is out of reach, not the agent's end: nothing to tell
        pane = await self._ended_pane()
        if pane == "missing":
            # Its tmux session went while it ran, and not by c3desk's hand (a kill says its
            # own reason): `tmux kill-server` or `kill-session` behind c3desk's back.
            await self._finish(ExitStatus(None, None, LOST))
            return
        if pane == "unasked":
            await self._finish(ExitStatus(None, None, "ended (tmux could not be asked how)"))
            return
        status = pane.exit_status()
        last: list[bytes] | None = None
        if pane.dead:
            # What the client drew around the end may be tmux's "Pane is dead" line on a
            # screen scrolled up by one (it can reach c3desk before the agent's end does): the
            # dead pane's own rows are the session's last screen.
            with contextlib.suppress(TmuxError):
                last = await self._host.last_screen(self.name)
        await self._finish(status or ExitStatus(None, None, "ended (tmux kept no status)"), last)

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

    async def _finish(self, status: ExitStatus, last: list[bytes] | None = None) -> None:
        if self._status is not None:
            return
        self._status = status
        # Told first, so nothing below (or a cancellation of it) can lose the end; what the
        # client still shows of the dead pane is not the agent's output.
        self._client.pause_reading()
        if last is not None:
            self._show(repaint(last))
        self._waiters.release(status)
        self._on_exit(status)
        # The dead pane has told its status: the tmux session goes, and the client with it.
        with contextlib.suppress(Exception):
            await self._host.kill(self.name)
        with contextlib.suppress(Exception):
            await self._client.terminate(0.5)

    async def detach(self) -> None:
        """c3desk goes, the agent stays: only the client ends (tmux keeps the session)."""
        self.detached = True  # what the client still prints is dropped (see attach)
        self._client.pause_reading()
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
        if self._status is None and self.unreachable:
            # Nothing reaches the worker to end it: said as it is, not waited for.
            await self._finish(ExitStatus(None, None, LEFT_RUNNING))
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


def repaint(rows: list[bytes]) -> bytes:
    """Bytes that draw ``rows`` (capture-pane's, with colours) on a cleared screen, each on its
    own row from the top; nothing scrolls, so nothing reaches the scrollback twice."""
    out = [b"\x1b[0m\x1b[H\x1b[2J"]
    for number, row in enumerate(rows, start=1):
        out.append(b"\x1b[%d;1H%s\x1b[0m" % (number, row))
    return b"".join(out)


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
    # It finds the server where local_runner's commands do: this process's TMUX_TMPDIR.
    if "TMUX_TMPDIR" not in out and "TMUX_TMPDIR" in os.environ:
        out["TMUX_TMPDIR"] = os.environ["TMUX_TMPDIR"]
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
    client: ClientFactory | None = None,
    gone: AgentGone | None = None,
    pid: int | None = None,
) -> TmuxProcess | None:
    """Attach to the hosted session ``name``: None when tmux no longer has it. With ``replay``
    (attaching again, after a restart), what it printed before goes to ``on_output`` first
    (capture-pane), then the live screen. ``client`` starts the tmux client (default: a local
    PTY with ``env``); ``gone`` watches the agent's end (default: a pidfd here). ``pid``: the
    agent's, when the caller has just started it (tmux is not asked again)."""
    ended_before = False
    if pid is None:
        pane = await host.pane(name)
        if pane is None:
            return None
        pid = pane.pid
        if pane.dead:
            # The agent ended while nobody watched: its pid may belong to another process by
            # now, so it is not watched; the end is read from the dead pane below.
            ended_before = True
            gone = _already_gone
    if replay:
        history = await host.capture(name)
        if history:
            on_output(history.replace(b"\n", b"\r\n"))

    def client_ended(_status: ExitStatus) -> None:
        """The client went (detached, or its session removed): the agent's end decides."""

    if client is None:

        async def local_client(
            argv: list[str], cols: int, rows: int, out: OutputCallback, ended: ExitCallback
        ) -> Process:
            request = SpawnRequest(argv, "/", _client_env(env), cols, rows)
            return await LocalTransport().spawn(request, out, ended)

        client = local_client
    hosted: list[TmuxProcess] = []

    def shown(data: bytes) -> None:
        # A detached client's last words (its terminal reset, "[lost tty]") are not the
        # agent's: the session's last screen stays what the agent drew.
        if not (hosted and (hosted[0].detached or hosted[0].exited)):
            on_output(data)

    attached = await client(host.attach_argv(name), cols, rows, shown, client_ended)
    hosted.append(TmuxProcess(host, name, pid, attached, on_exit, gone, on_output))
    if ended_before:
        # Reconciled before it is returned: a caller never sees it running.
        await hosted[0].settled()
    return hosted[0]


async def _already_gone(_pid: int) -> None:
    """The agent's end, for a pane found dead."""


async def start(
    host: TmuxHost,
    name: str,
    request: SpawnRequest,
    on_output: OutputCallback,
    on_exit: ExitCallback,
    *,
    exact_env: bool = True,
    client: ClientFactory | None = None,
    gone: AgentGone | None = None,
) -> TmuxProcess:
    """Start the agent in a new tmux session ``name`` and attach to it. With ``exact_env`` the
    agent's environment is ``request.env`` alone, else the tmux server's with it on top."""
    pid = await host.new_session(
        name, request.cwd, list(request.argv), dict(request.env), request.cols, request.rows,
        exact_env=exact_env,
    )  # fmt: skip
    process = await attach(
        host, name, request.env, request.cols, request.rows, on_output, on_exit,
        replay=False, client=client, gone=gone, pid=pid,
    )  # fmt: skip
    if process is None:
        raise OSError(f"the tmux session {name} ended before c3desk could attach to it")
    return process
