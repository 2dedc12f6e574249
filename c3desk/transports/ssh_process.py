"""A session on an SSH worker: an exec channel with a PTY, read on the asyncio loop.

The command line the server runs is built by :func:`remote_command` from argv, every part quoted,
so no working directory, title, prompt or setting can run a command there. Output is read with
``loop.add_reader`` on the channel's ``fileno()`` (paramiko sets that pipe when data arrives or
the channel closes), and only what paramiko already holds is taken, so reading never waits on
the network. Input and window-size changes go out from a thread of the session's own: a send
waits when the server's window is full or the peer is stopped, and the loop must not.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import re
import shlex
import signal
import threading
from collections.abc import Callable, Mapping, Sequence

import paramiko

from c3desk.transports.base import (
    ExitCallback,
    ExitStatus,
    ExitWaiters,
    OutputCallback,
    Process,
    SpawnError,
)

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
READ_BURST = 256 * 1024  # most read per readiness callback, as for local sessions
DISCONNECTED = "worker disconnected"

# Run by /bin/sh on the server with everything variable as positional parameters (never
# interpolated into the script): the pid file, the working directory, NAME=value pairs up to
# "--", then the command. The shell writes its pid, then execs the agent in its place.
_SCRIPT = (
    'p=$1; d=$2; shift 2; cd -- "$d" || exit 126; '
    'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do export "$1"; shift; done; shift; '
    'echo "$$" > "$p"; exec "$@"'
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_text(what: str, value: str, *, newline_ok: bool = False) -> None:
    """Refuse a NUL anywhere, and a line break where a shell word or a path cannot hold one."""
    if "\0" in value:
        raise SpawnError(f"the {what} contains a NUL character: {value!r}")
    if not newline_ok and ("\n" in value or "\r" in value):
        raise SpawnError(f"the {what} contains a line break: {value!r}")


def remote_command(cwd: str, argv: Sequence[str], env: Mapping[str, str], pid_file: str) -> str:
    """The command line for the server's login shell: ``exec /bin/sh -c SCRIPT`` with every
    variable part a quoted word. The prompt (an argument) may span lines; the working
    directory, the command, environment values and the pid file may not."""
    if not argv:
        raise SpawnError("the agent command is empty")
    check_text("working directory", cwd)
    check_text("command", argv[0])
    check_text("pid file", pid_file)
    for arg in argv[1:]:
        check_text("argument", arg, newline_ok=True)
    pairs: list[str] = []
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise SpawnError(f"not an environment variable name: {name!r}")
        check_text(f"value of {name}", value)
        pairs.append(f"{name}={value}")
    words = ["/bin/sh", "-c", _SCRIPT, "c3desk", pid_file, cwd, *pairs, "--", *argv]
    return "exec " + shlex.join(words)


ChannelCheck = Callable[[], bool]


class SSHProcess(Process):
    """One agent process on the server, attached to an exec channel with a PTY."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: paramiko.Channel,
        pid: int | None,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        connected: ChannelCheck,
        kill: Callable[[int, int], None] | None = None,
    ) -> None:
        self._loop = loop
        self._chan = channel
        self.pid = pid
        self.handle = f"ssh:{pid}" if pid is not None else ""
        self._on_output = on_output
        self._on_exit = on_exit
        self._connected = connected  # is the worker's transport still up?
        self._kill = kill  # kill(pid, signal) through the connection, from a thread
        self._fd = channel.fileno()
        self._reading = False
        self._hung_up = False  # its channel closed by terminate(): its fd goes with it
        self._status: ExitStatus | None = None
        self._ended_by: int | None = None  # the signal terminate() sent, if it did
        self._waiters = ExitWaiters(loop)
        self._eof_timer: asyncio.TimerHandle | None = None
        self._eof_since: float | None = None
        # One thread per session for what goes out: a full window or a stopped peer makes a
        # send wait, and it must wait there, not on the loop or for another session.
        self._out = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="c3desk-ssh-in")
        self.resume_reading()

    # -- output ------------------------------------------------------------------------------

    def pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def resume_reading(self) -> None:
        if not self._reading and self._status is None and not self._hung_up:
            self._loop.add_reader(self._fd, self._read_ready)
            self._reading = True

    def _read_ready(self) -> None:
        got = 0
        chan = self._chan
        while self._reading and got < READ_BURST:
            if chan.recv_ready():
                data = chan.recv(READ_SIZE)  # what paramiko holds already: no waiting
                if data:
                    got += len(data)
                    self._on_output(data)
                    continue
            if chan.eof_received or chan.closed:
                self._ended()
            return

    def _ended(self) -> None:
        """The output ended: the exit status follows (or the connection is gone)."""
        self.pause_reading()
        self._eof_since = self._loop.time()
        self._await_status()

    def _await_status(self) -> None:
        chan = self._chan
        # paramiko marks the status ready when the channel closes without one as well (its
        # status stays -1): only a status the server sent says how the agent ended.
        if chan.exit_status_ready() and chan.recv_exit_status() >= 0:
            self._finish(ExitStatus(chan.recv_exit_status()))
            return
        waited = self._loop.time() - (self._eof_since or self._loop.time())
        # A dropped connection closes its channels a moment before the transport counts as
        # inactive (paramiko's thread does both in that order): a closed channel gets half a
        # second for that before it counts as ended by the server without a status.
        if not self._connected() or (chan.closed and waited > 0.5) or waited > 5.0:
            # The server never said how it ended: a signal (OpenSSH's exit-signal, which
            # paramiko does not read) or the connection dropped under it.
            reason = DISCONNECTED if not self._connected() else None
            self._finish(self._ended_status(reason))
            return
        self._eof_timer = self._loop.call_later(0.02, self._await_status)

    def _ended_status(self, reason: str | None) -> ExitStatus:
        if self._ended_by is not None:
            return ExitStatus(None, self._ended_by)
        return ExitStatus(
            None, None, reason or "ended without an exit status (killed by a signal?)"
        )

    def _finish(self, status: ExitStatus) -> None:
        if self._status is not None:
            return
        self._status = status
        self.pause_reading()
        if self._eof_timer is not None:
            self._eof_timer.cancel()
        self._out.submit(close_channel, self._chan)
        self._out.shutdown(wait=False)
        self._waiters.release(status)
        self._on_exit(status)

    def connection_lost(self) -> None:
        """The worker's transport is gone: what was read stays, the session ends now."""
        if self._status is None:
            with contextlib.suppress(Exception):
                self._read_ready()
            self._finish(self._ended_status(DISCONNECTED))

    # -- input -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._status is None and data:
            self._submit(self._chan.sendall, bytes(data))

    def resize(self, cols: int, rows: int) -> None:
        if self._status is None:
            self._submit(self._chan.resize_pty, cols, rows)

    def _hang_up(self) -> None:
        """Close the channel (the server hangs the terminal up). Its fd closes with it: the
        loop lets go of it first, for good (the number may soon be another's)."""
        self.pause_reading()
        self._hung_up = True
        self._submit(close_channel, self._chan)

    def _submit(self, fn: Callable[..., object], *args: object) -> None:
        def run() -> None:
            try:
                fn(*args)
            except (OSError, EOFError, paramiko.SSHException) as exc:
                log.info("sending to the session on the server: %s", exc)

        with contextlib.suppress(RuntimeError):  # shut down: the session ended meanwhile
            self._out.submit(run)

    # -- exit --------------------------------------------------------------------------------

    @property
    def exited(self) -> bool:
        return self._status is not None

    async def wait(self) -> ExitStatus:
        if self._status is not None:
            return self._status
        return await self._waiters.wait()

    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        """Hang up, then terminate, then kill the process group on the server; when the server
        cannot be told (gone), closing the channel hangs the terminal up there."""
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGKILL):
            if self._status is not None:
                break
            self._ended_by = sig
            if self._kill is not None and self.pid is not None and self._connected():
                self._submit(self._kill, self.pid, int(sig))
            else:
                self._hang_up()
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(self.wait()), grace)
        if self._status is None:
            self._hang_up()
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(self.wait()), grace)
            self._finish(self._ended_status(DISCONNECTED))
        assert self._status is not None
        return self._status


def close_channel(chan: paramiko.Channel) -> None:
    """Close a channel whose ``fileno()`` was taken, safely while data still arrives (in a
    thread: it may wait to send the close).

    paramiko closes the pipe behind ``fileno()`` under the channel's lock, but its transport
    thread signals that pipe (new data: ``os.write`` on it) under the buffer's lock: data
    arriving during the close writes to a closed fd, and the OSError (EBADF, EPIPE) ends that
    thread, so the whole connection is lost ("Socket exception: Bad file descriptor"); or, once
    the number is reused, the byte goes into another file. The buffers let go of the pipe
    first, under their own locks, so no signal can reach it any more."""
    for buffer in (chan.in_buffer, chan.in_stderr_buffer):
        buffer.set_event(threading.Event())
    chan.close()


def open_session(
    transport: paramiko.Transport, command: str, cols: int, rows: int, timeout: float
) -> paramiko.Channel:
    """Open an exec channel with a PTY and start ``command`` (in a thread)."""
    chan = transport.open_session(timeout=timeout)
    try:
        chan.get_pty(term="xterm-256color", width=cols, height=rows)
        chan.exec_command(command)
    except BaseException:
        chan.close()
        raise
    return chan


def run(
    transport: paramiko.Transport, command: str, timeout: float, limit: int = 1 << 20
) -> tuple[int, bytes, bytes]:
    """Run a command without a terminal (in a thread): exit status, stdout (at most ``limit``
    bytes), stderr (at most 1 MiB). A command that runs past ``timeout`` raises TimeoutError."""
    chan = transport.open_session(timeout=timeout)
    try:
        chan.settimeout(timeout)
        chan.exec_command(command)
        chan.shutdown_write()
        out, err = bytearray(), bytearray()
        try:
            while True:
                data = chan.recv(65536)
                if not data:
                    break
                if len(out) < limit:
                    out += data
            while len(err) < 1 << 20:
                data = chan.recv_stderr(65536)
                if not data:
                    break
                err += data
        except TimeoutError:
            raise TimeoutError(f"the server did not finish {command[:60]!r} in time") from None
        if not chan.status_event.wait(timeout):
            raise TimeoutError(f"the server did not finish {command[:60]!r} in time")
        return chan.recv_exit_status(), bytes(out), bytes(err)
    finally:
        chan.close()


def kill_group(transport: paramiko.Transport, pid: int, sig: int, timeout: float = 10.0) -> None:
    """Send ``sig`` to the process group ``pid`` leads on the server (in a thread)."""
    run(
        transport,
        f"kill -{int(sig)} -- -{int(pid)} 2>/dev/null || kill -{int(sig)} {int(pid)}",
        timeout,
    )


class SSHClient(SSHProcess):
    """A tmux client on the server (attached to a hosted session) in an exec channel with a
    PTY. Ending it only closes its channel: the client goes, the hosted agent stays."""

    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        if self._status is None:
            self._finish(ExitStatus(None, None, "detached"))  # closes the channel
        assert self._status is not None
        return self._status


# Run by /bin/sh on the server with the pids to watch as its arguments: prints "watching" once
# it runs, "ended PID" for each one that ended (a zombie counts: see tmux._ALIVE), "done" once
# none is left. It runs in a PTY, so that closing its channel (or losing the connection) hangs
# it up on the server.
_WATCH = (
    "echo watching; "
    'alive() { if [ -r "/proc/$1/stat" ]; then '
    'read -r s 2>/dev/null <"/proc/$1/stat" || return 1; s=${s##*)}; '
    'case $s in " Z "*|" X "*) return 1;; esac; return 0; fi; kill -0 "$1" 2>/dev/null; }; '
    'while [ "$#" -gt 0 ]; do '
    'for p do shift; if alive "$p"; then set -- "$@" "$p"; else echo "ended $p"; fi; done; '
    'if [ "$#" -gt 0 ]; then sleep 0.25 2>/dev/null || sleep 1; fi; '
    "done; echo done"
)
WATCH_RETRY = 1.0  # seconds before a watch the server ended (the connection still up) restarts


class PidWatch:
    """The ends of processes on the server that no channel of ours is the parent of (agents
    hosted in tmux), for all of one connection's sessions through one exec channel: a loop on
    the server reports each pid that ended, and it is started again when the set changes. One
    channel, not one per session: OpenSSH allows 10 sessions per connection (MaxSessions).

    :meth:`gone` raises ConnectionError once the connection is gone (:meth:`lost`): then
    nothing can be known of the pid, which is not its end."""

    def __init__(self, transport: Callable[[], paramiko.Transport | None], timeout: float) -> None:
        self._transport = transport
        self._timeout = timeout
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._changed = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def _up(self) -> paramiko.Transport | None:
        transport = self._transport()
        return transport if transport is not None and transport.is_active() else None

    async def gone(self, pid: int) -> None:
        """Return once the process ``pid`` on the server has ended."""
        if self._up() is None:
            raise ConnectionError("the worker is not connected")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        watched = pid in self._waiting
        self._waiting.setdefault(pid, []).append(fut)
        if not watched:  # the watch starts again with it
            self._kick()
        try:
            await fut
        finally:
            waiters = self._waiting.get(pid)
            if waiters is not None and fut in waiters:
                waiters.remove(fut)
                if not waiters:
                    del self._waiting[pid]
                    self._kick()

    def lost(self) -> None:
        """The connection is gone: every waiter hears that nothing more can be known."""
        self._fail_all()
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def _fail_all(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for waiters in waiting.values():
            for fut in waiters:
                if not fut.done():
                    fut.set_exception(ConnectionError("the connection to the worker was lost"))

    def _kick(self) -> None:
        self._changed = True
        if self._wake is not None:
            self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="c3desk-pid-watch"
            )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            self._changed = False
            transport = self._up()
            if transport is None:
                self._fail_all()
                return
            words = ["/bin/sh", "-c", _WATCH, "c3desk-watch", *map(str, sorted(self._waiting))]
            try:
                chan = await loop.run_in_executor(
                    None, open_session, transport, "exec " + shlex.join(words), 200, 24,
                    self._timeout,
                )  # fmt: skip
            except (OSError, EOFError, paramiko.SSHException) as exc:
                log.info("watching hosted agents on the server: %s", str(exc) or type(exc).__name__)
                chan = None
            outcome = "ended"
            if chan is not None:
                try:
                    outcome = await self._read(chan)
                finally:
                    loop.run_in_executor(None, close_channel, chan)
            if outcome == "ended":  # the channel ended without its last word
                if self._up() is None:
                    self._fail_all()
                    return
                await asyncio.sleep(WATCH_RETRY)

    async def _read(self, chan: paramiko.Channel) -> str:
        """Pass on the ends the watch reports: "done" (all ended), "changed" (the set changed:
        start again) or "ended" (the channel ended first)."""
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        fd = chan.fileno()
        loop.add_reader(fd, wake.set)
        rest = b""
        # Not closed before it runs: a channel hung up while the user's shell still starts
        # (its rc files) can leave their work half done (pyenv's rehash lock, say).
        running = False
        try:
            while True:
                while chan.recv_ready():
                    rest += chan.recv(READ_SIZE)
                *lines, rest = rest.split(b"\n")
                for line in lines:
                    words = line.split()
                    if words == [b"watching"]:
                        running = True
                    if words == [b"done"]:
                        return "done"
                    if len(words) == 2 and words[0] == b"ended" and words[1].isdigit():
                        for fut in self._waiting.pop(int(words[1]), []):
                            if not fut.done():
                                fut.set_result(None)
                if chan.eof_received or chan.closed:
                    return "ended"
                if self._changed and running:
                    return "changed"
                wake.clear()
                await wake.wait()
        finally:
            loop.remove_reader(fd)
            if self._wake is wake:
                self._wake = None
