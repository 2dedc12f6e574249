"""A remote machine as a worker connection, over one SSH transport (paramiko).

:meth:`SSHConnection.connect` opens the TCP connection, checks the server's host key through
:mod:`c3desk.transports.ssh_trust` (never trust on first use) and authenticates
(:mod:`c3desk.transports.ssh_login`), all in a thread, so the loop never waits on the network.
Files go over SFTP (:mod:`c3desk.transports.ssh_files`), sessions over exec channels with a PTY
(:mod:`c3desk.transports.ssh_process`), many channels over the one transport.

Status: ``connected``; ``error`` with the reason for host-key and authentication problems;
``disconnected`` with the reason for network problems. Once the engine connected it, the
connection keeps itself up: a heartbeat every ``heartbeat`` seconds (a keepalive request the
server must answer) and a watchdog that declares the peer gone after ``misses`` unanswered
beats, since paramiko's own keepalive counts nothing. A lost connection ends its sessions
("worker disconnected", their scrollback kept) and is tried again after 1, 2, 4 ... seconds, at
most ``max_backoff`` apart.

The agent is looked up on the PATH the remote user's login shell sets up (``claude`` often lives
in ``~/.local/bin`` or an npm prefix that only the profile adds), asked once per connection.
Nothing of this machine goes into the remote command line: the session's environment there is
TERM, COLORTERM, C3DESK_SESSION and that PATH, and the files a session needs (Claude Code's hook
settings) are uploaded into ``~/.cache/c3desk/sessions/<id>/`` on the server and removed when it
ends. The hooks report back through that folder: each appends a line to its ``hooks`` file,
which this connection reads over SFTP while the session runs. Only a POSIX ``sh`` is needed there.

Given ``hosting=True``, and as the ``persistent_sessions`` setting says, sessions run in c3desk's
tmux server on the worker instead (``tmux -L c3desk-<user> -f ~/.cache/c3desk/tmux.conf``, through
:class:`~c3desk.transports.tmux.TmuxHost` over :meth:`SSHConnection.runner`), seen through a tmux
client in an exec channel with a PTY (:mod:`c3desk.transports.tmux_process`). Their agents outlive
the connection: one that drops ends nothing (the process goes quiet until it is detached), and
:meth:`SSHConnection.reattach` finds them again by their handle, on this connection once it is
back or on a new one. The agents' ends are watched on the server, all of a connection's through one
exec channel (:class:`~c3desk.transports.ssh_process.PidWatch`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import posixpath
import re
import shlex
import stat as st
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paramiko

from c3desk.transports import tmux_process
from c3desk.transports.base import (
    ExitCallback,
    ExitStatus,
    OutputCallback,
    Process,
    SpawnError,
    SpawnRequest,
)
from c3desk.transports.connection import (
    ConnectionStatus,
    DirEntry,
    FileStat,
    WorkerConnection,
    WorkerInfo,
)
from c3desk.transports.ssh_files import SFTPFiles
from c3desk.transports.ssh_login import (
    AuthProblem,
    NeedsPassphrase,
    Target,
    describe,
    open_transport,
    resolve,
)
from c3desk.transports.ssh_process import (
    PidWatch,
    SSHClient,
    SSHProcess,
    check_text,
    kill_group,
    open_session,
    remote_command,
    run,
)
from c3desk.transports.ssh_trust import HostKeyError, TrustStore
from c3desk.transports.tmux import (
    Runner,
    TmuxError,
    TmuxHost,
    TmuxUnreachable,
    name_of,
    session_id_of,
)

log = logging.getLogger(__name__)

HEARTBEAT = 10.0  # seconds between heartbeats
MISSES = 3  # unanswered heartbeats before the peer counts as gone
MAX_BACKOFF = 60.0  # longest wait between reconnection attempts
COMMAND_TIMEOUT = 15.0  # a helper command on the server (PATH lookup, kill, version)
HOOK_POLL = 0.3  # seconds between reads of a session's hook reports
CLOSED_CHECK = 0.5  # seconds between looks at whether the transport is still up
_MARK = "__C3DESK_PATH__"
# The login shell's PATH, asked of the user's own shell as a login shell (its profile runs).
_LOGIN_PATH = (
    'exec "${SHELL:-/bin/sh}" -l -c '
    + shlex.quote(f'printf "{_MARK}%s{_MARK}" "$PATH"')
    + " </dev/null"
)
_FALLBACK_PATH = "/usr/local/bin:/usr/bin:/bin"
# Appends "EVENT PAYLOAD" to the hooks file: the payload is Claude Code's JSON on stdin, its
# raw line breaks dropped (JSON strings cannot hold them, so the JSON stays valid).
_HOOK_SCRIPT = 'f=$1; e=$2; p=$(tr -d "\\n\\r"); printf "%s %s\\n" "$e" "$p" >> "$f"'
SESSIONS_DIR = ".cache/c3desk/sessions"
TMUX_CONF = ".cache/c3desk/tmux.conf"
# OpenSSH allows MaxSessions channels per connection (10 unless configured): the main one keeps
# 4 for SFTP (and a download's), the agents' watch and a tmux command; more tmux clients go over
# extra connections ("lanes") that carry nothing else.
CHANNELS = 10
RUNNER_LIMIT = 64 << 20  # most bytes of output a tmux command's answer is read to


class SSHConnection(WorkerConnection):
    def __init__(
        self,
        worker: WorkerInfo,
        trust: TrustStore,
        connect_timeout: float = 15.0,
        *,
        heartbeat: float | None = None,
        misses: int = MISSES,
        max_backoff: float = MAX_BACKOFF,
        hosting: bool = False,
        tmux_socket: str | None = None,
        tmux: str = "tmux",
    ) -> None:
        """``hosting``: host sessions in tmux on the worker where the ``persistent_sessions``
        setting (:attr:`persistence`) says so; ``tmux_socket`` names that tmux server (default
        ``c3desk-<remote user>``); ``tmux`` is the program run there."""
        super().__init__(worker)
        self._trust = trust
        self._timeout = connect_timeout
        # Given here, the heartbeat stays; else it follows what the engine sets (the setting).
        self._fixed_heartbeat = heartbeat
        self._heartbeat = HEARTBEAT if heartbeat is None else heartbeat
        self.misses = misses
        self.max_backoff = max_backoff
        self._transport: paramiko.Transport | None = None
        self.files = SFTPFiles(lambda: self._transport, worker.name)
        self._generation = 0  # bumped by close(), so a connect finishing after it lets go
        # Why the last connect was refused for its host key, and the key the server offered
        # (what a user confirms with TrustStore.trust after seeing its fingerprint).
        self.host_key_error: HostKeyError | None = None
        self.offered_host_key: paramiko.PKey | None = None
        # The encrypted key file the last connect needed a passphrase for (the GUI asks).
        self.needs_passphrase: Path | None = None
        self._keep_up = False  # reconnect when lost (set once connected by the engine)
        self._backoff = 1.0
        self._retry: asyncio.TimerHandle | None = None
        self._beating: asyncio.Task[None] | None = None
        self._beats = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="c3desk-beat")
        self._home: str | None = None
        self._login_path: str | None = None
        self._which: dict[str, str | None] = {}
        self._processes: set[SSHProcess] = set()
        self._hook_tasks: dict[str, asyncio.Task[None]] = {}
        self.last_heartbeat: float | None = None
        self._resolved: Target | None = None
        self._tasks: set[asyncio.Future[None]] = set()
        self._cleanups: set[asyncio.Future[None]] = set()
        self._cleanup_of: dict[str, asyncio.Future[None]] = {}
        self._config_dir: str | None = None
        self._hosting = hosting
        self._tmux_socket = tmux_socket
        self._tmux = tmux
        # c3desk's tmux server on the worker, once the first connect told the remote home.
        self.hosting: TmuxHost | None = None
        self._agents = PidWatch(lambda: self._transport, connect_timeout)
        # How far each session's hooks file was read (a hosted session's reader starts again
        # there after a reattach, not at the start: its reports were passed on).
        self._hook_offsets: dict[str, int] = {}
        self.channels = CHANNELS  # what the server allows per connection (see CHANNELS)
        self._lanes: dict[paramiko.Transport, int] = {}  # extra connections: their clients
        self._client_of: dict[SSHClient, paramiko.Transport] = {}

    def _keep(self, task: asyncio.Future[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def heartbeat(self) -> float:
        return self._heartbeat

    @heartbeat.setter
    def heartbeat(self, seconds: float) -> None:
        if self._fixed_heartbeat is None:
            self._heartbeat = max(0.1, float(seconds))

    def target(self) -> Target | None:
        """Where the login goes after ``~/.ssh/config`` (None: the config is unusable), as
        the last connect read it (the config is read again at each connect)."""
        if self._resolved is None:
            try:
                self._resolved = resolve(self.worker)
            except AuthProblem:
                return None
        return self._resolved

    @property
    def host(self) -> str:
        """The host connected to (an alias's HostName), as host keys are checked under."""
        target = self.target()
        return target.host if target is not None else (self.worker.host or "localhost")

    @property
    def port(self) -> int:
        target = self.target()
        return target.port if target is not None else (self.worker.port or 22)

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        self._keep_up = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        stale = self._transport
        if stale is not None and stale.is_active():
            return
        if stale is not None:
            # The last connection died: let go of it and of its SFTP session before a new one.
            self._transport = None
            await asyncio.get_running_loop().run_in_executor(None, _shut, self.files.reset(), stale)
        self.host_key_error = None
        self.needs_passphrase = None
        self._resolved = None  # the config may have changed since the last connect
        target = self.target()
        where = target.where if target is not None else f"{self.host} port {self.port}"
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
            if isinstance(e, NeedsPassphrase):
                self.needs_passphrase = e.key_path
            outcome = ("error", f"authentication to {where} failed: {e}")
        except (OSError, EOFError, paramiko.SSHException) as e:
            outcome = ("disconnected", f"cannot reach {where}: {describe(e)}")
        if generation != self._generation:
            # close() was called while this was connecting: it wins.
            if transport is not None:
                await loop.run_in_executor(None, transport.close)
            return
        self._transport, self.host_key_error = transport, problem
        self._home = self._login_path = self._config_dir = None
        self._which.clear()
        if transport is not None:
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                self._home = await self.files.home()
            if self._hosting and self.hosting is None and self._home is not None:
                self.hosting = self._tmux_host(self._home)
            self._backoff = 1.0
            self._beating = asyncio.create_task(
                self._watch(transport, generation), name=f"c3desk-heartbeat-{self.worker.name}"
            )
        self._set_status(*outcome)
        if transport is None:
            self._try_again()

    async def _hosting_now(self) -> TmuxHost | None:
        """The worker's tmux host; made now if the connect could not ask SFTP for the home
        folder (the conf lives there): the shell is asked instead."""
        if self._hosting and self.hosting is None:
            home = self._home
            if home is None:
                with contextlib.suppress(OSError, EOFError, TimeoutError, paramiko.SSHException):
                    code, out = await self._run('printf "%s" "$HOME"')
                    if code == 0 and out.startswith("/") and "\n" not in out:
                        home = out
            if home is not None:
                self.hosting = self._tmux_host(home)
        return self.hosting

    def _tmux_host(self, home: str) -> TmuxHost:
        target = self.target()
        user = target.user if target is not None else (self.worker.user or "user")
        socket = self._tmux_socket or "c3desk-" + re.sub(r"[^A-Za-z0-9_-]", "_", user)
        return TmuxHost(
            self.runner(),
            conf_path=posixpath.join(home, TMUX_CONF),
            socket_name=socket,
            tmux=self._tmux,
        )

    def _try_again(self) -> None:
        """Connect again after the backoff (doubling up to ``max_backoff``)."""
        if not self._keep_up or self._retry is not None:
            return
        delay, self._backoff = self._backoff, min(self._backoff * 2, self.max_backoff)
        generation = self._generation

        def fire() -> None:
            self._retry = None
            if generation == self._generation and self._keep_up:
                self._keep(asyncio.ensure_future(self.connect()))

        self._retry = asyncio.get_running_loop().call_later(delay, fire)

    async def _watch(self, transport: paramiko.Transport, generation: int) -> None:
        """Heartbeats and the watchdog for one transport, until it is replaced or lost."""
        loop = asyncio.get_running_loop()
        answered = loop.time()
        while generation == self._generation and self._transport is transport:
            sent = loop.time()
            beat = loop.run_in_executor(self._beats, _keepalive, transport)
            while not beat.done():
                left = answered + self.heartbeat * self.misses - loop.time()
                if left <= 0:
                    beat.cancel()
                    await self._lost(transport, f"no answer to {self.misses} heartbeats in a row")
                    return
                await asyncio.wait({beat}, timeout=min(left, self.heartbeat))
            if generation != self._generation or self._transport is not transport:
                return
            if not beat.result():
                await self._lost(transport, "the connection closed")
                return
            answered = loop.time()
            self._beat()
            # Until the next beat, notice at once a connection that closed (a reset, the
            # server's sshd killed): paramiko's thread marks the transport inactive.
            while (left := self.heartbeat - (loop.time() - sent)) > 0:
                await asyncio.sleep(min(left, CLOSED_CHECK))
                if self._transport is transport and not transport.is_active():
                    await self._lost(transport, "the connection closed")
                    return

    async def answers(self, timeout: float) -> bool:
        """One heartbeat now, answered within ``timeout`` (the watchdog's own may be far off)."""
        transport = self._transport
        if transport is None or not transport.is_active():
            return False
        beat = asyncio.get_running_loop().run_in_executor(None, _keepalive, transport)
        try:
            return await asyncio.wait_for(asyncio.shield(beat), timeout)
        except TimeoutError:
            return False

    def _beat(self) -> None:
        """The server answered: tell the listeners (the engine stores the time)."""
        self.last_heartbeat = asyncio.get_running_loop().time()
        for listener in list(self._listeners):
            listener(self)

    async def _lost(self, transport: paramiko.Transport, why: str) -> None:
        """The peer is gone: end its sessions, let go of the transport, try again later."""
        if self._transport is not transport:
            return
        self._transport = None
        sftp = self.files.reset()
        for process in list(self._processes):
            process.connection_lost()
        # Hosted agents live on in tmux: their processes hear nothing more (no end).
        self._agents.lost()
        self._drop_lanes()
        self._set_status("disconnected", f"connection to {self.host} port {self.port} lost: {why}")
        # Closing joins paramiko's thread: not on the loop, and not waited for (a stopped
        # peer can hold it for the socket's timeout).
        asyncio.get_running_loop().run_in_executor(None, _shut, sftp, transport)
        self._try_again()

    async def close(self) -> None:
        if self._cleanups and await self.answers(1.0):
            # Sessions that just ended still have their folders on the server: let them go
            # first (bounded; a server that does not answer does not hold the quit up).
            await asyncio.wait(set(self._cleanups), timeout=5.0)
        self._generation += 1
        self._keep_up = False
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._beating is not None:
            self._beating.cancel()
        for task in self._hook_tasks.values():
            task.cancel()
        self._agents.lost()
        self._drop_lanes()
        transport, self._transport = self._transport, None
        sftp = self.files.reset()
        if transport is not None:
            await asyncio.get_running_loop().run_in_executor(None, _shut, sftp, transport)
        self._set_status("disconnected", "closed by c3desk")

    def _key_seen(self, key: paramiko.PKey) -> None:
        self.offered_host_key = key

    # -- processes ---------------------------------------------------------------------------

    def _up(self) -> paramiko.Transport:
        transport = self._transport
        if transport is None or not transport.is_active():
            raise SpawnError(f"the worker {self.worker.name} is not connected")
        return transport

    async def _run(self, command: str, timeout: float = COMMAND_TIMEOUT) -> tuple[int, str]:
        transport = self._up()
        code, out, _err = await asyncio.get_running_loop().run_in_executor(
            None, run, transport, command, timeout
        )
        return code, out.decode(errors="replace")

    async def login_path(self) -> str:
        """PATH as the remote user's login shell sets it (asked once per connection)."""
        if self._login_path is None:
            path = ""
            with contextlib.suppress(OSError, EOFError, TimeoutError, paramiko.SSHException):
                _code, out = await self._run(_LOGIN_PATH)
                parts = out.split(_MARK)
                path = parts[1] if len(parts) >= 3 else ""
            if not path or "\n" in path:
                home = self._home or "~"
                path = f"{home}/.local/bin:{_FALLBACK_PATH}"
            self._login_path = path
        return self._login_path

    def runner(self) -> Runner:
        """Commands on the server given as argv (each word quoted into one command line), run
        to their end: what :class:`~c3desk.transports.tmux.TmuxHost` needs to host sessions
        there. Blocking: call it in a thread. Unreachable → status 255, as ssh reports it."""

        def run_argv(argv: Sequence[str]) -> tuple[int, bytes, bytes]:
            transport = self._transport
            if transport is None or not transport.is_active():
                return 255, b"", f"the worker {self.worker.name} is not connected".encode()
            try:
                # A session's whole scrollback (capture-pane) can be megabytes.
                return run(transport, shlex.join(argv), COMMAND_TIMEOUT, RUNNER_LIMIT)
            except (OSError, EOFError, TimeoutError, paramiko.SSHException) as exc:
                return 255, b"", describe(exc).encode()

        return run_argv

    async def claude_config_dir(self) -> str | None:
        """CLAUDE_CONFIG_DIR as the server's environment for SSH commands sets it (the user's
        shell ``-c``: ``~/.bashrc``, ``~/.zshenv``, sshd's SetEnv), the way a session's
        command runs; None when unset (Claude Code uses ``~/.claude``). Asked once per
        connection."""
        if self._config_dir is None:
            value = ""
            with contextlib.suppress(OSError, EOFError, TimeoutError, paramiko.SSHException):
                code, out = await self._run('printf "%s" "${CLAUDE_CONFIG_DIR-}"')
                value = out.strip() if code == 0 and "\n" not in out.strip() else ""
            if value and not value.startswith("/"):
                home = self._home or await self.home()
                value = posixpath.join(home, value[2:] if value.startswith("~/") else value)
            self._config_dir = value
        return self._config_dir or None

    async def which(self, name: str) -> str | None:
        """Where ``name`` is on the server, as the user's login would find it (None: nowhere)."""
        if name in self._which:
            return self._which[name]
        check_text("command", name)
        if "/" in name:
            info = await self.stat(name)
            found = name if info is not None and not info.is_dir else None
        else:
            script = 'PATH=$1; export PATH; command -v -- "$2"'
            code, out = await self._run(
                shlex.join(["/bin/sh", "-c", script, "c3desk", await self.login_path(), name])
            )
            line = out.strip().splitlines()[-1] if out.strip() else ""
            found = line if code == 0 and line.startswith("/") else None
        self._which[name] = found
        return found

    async def version_of(self, path: str) -> str | None:
        """What ``path --version`` prints first on the server (None when it fails)."""
        return await self.version_of_flag(path, "--version")

    async def version_of_flag(self, path: str, flag: str) -> str | None:
        """What ``path FLAG`` prints first on the server (None when it fails)."""
        with contextlib.suppress(OSError, EOFError, TimeoutError, paramiko.SSHException):
            code, out = await self._run(shlex.join([path, flag]) + " </dev/null 2>&1")
            lines = out.strip().splitlines()
            if code == 0 and lines:
                return lines[0].strip()[:200]
        return None

    def _session_dir(self, session_id: str) -> str | None:
        if self._home is None:
            return None
        check_text("session id", session_id)
        return posixpath.join(self._home, SESSIONS_DIR, posixpath.basename(session_id))

    async def put_session_file(self, session_id: str, name: str, data: bytes) -> str | None:
        await self._after_cleanup(session_id)
        folder = self._session_dir(session_id)
        if folder is None:
            raise SpawnError(f"the home folder on {self.worker.name} is not known")
        path = posixpath.join(folder, posixpath.basename(name))

        def put(client: paramiko.SFTPClient) -> None:
            _makedirs(client, folder)
            with client.open(path, "wb") as f:
                f.write(data)
            client.chmod(path, 0o600)

        await self.files.run(put)
        return path

    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        session_id = request.env.get("C3DESK_SESSION") or "session"
        try:
            return await self._spawn(session_id, request, on_output, on_exit)
        except BaseException:
            # What was put on the server for it (its hook settings) goes with it.
            folder = self._session_dir(session_id) if "\0" not in session_id else None
            if folder is not None:
                self._track_cleanup(session_id, folder)
            raise

    async def _spawn(
        self,
        session_id: str,
        request: SpawnRequest,
        on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Process:
        await self._after_cleanup(session_id)
        transport = self._up()
        argv = list(request.argv)
        if not argv:
            raise SpawnError("the agent command is empty")
        check_text("working directory", request.cwd)
        name = self.worker.name
        try:
            where = await self.stat(request.cwd)
        except OSError as exc:
            raise SpawnError(f"cannot look at {request.cwd} on {name}: {exc}") from None
        if where is None:
            raise SpawnError(f"the working directory {request.cwd} does not exist on {name}")
        if not where.is_dir:
            raise SpawnError(f"{request.cwd} on {name} is not a folder")
        exe = await self.which(argv[0])
        if exe is None:
            raise SpawnError(
                f"command not found on {name}: {argv[0]} (looked on the PATH of the login "
                f"shell of {self.worker.user or 'the worker user'})"
            )
        folder = self._session_dir(session_id)
        if folder is None:
            raise SpawnError(f"the home folder on {name} is not known")
        await self.files.run(lambda client: _makedirs(client, folder))
        pid_file = posixpath.join(folder, "pid")
        env = {
            "TERM": "xterm-256color",
            "COLORTERM": "truecolor",
            "C3DESK_SESSION": session_id,
            "PATH": await self.login_path(),
        }
        tmux_name = name_of(request.handle) if self.hosting is not None else None
        if self.hosting is not None and tmux_name is not None:
            hosted = SpawnRequest(
                [exe, *argv[1:]], request.cwd, env, request.cols, request.rows, request.handle
            )
            return await self._spawn_hosted(
                self.hosting, tmux_name, session_id, folder, hosted, on_output, on_exit
            )
        command = remote_command(request.cwd, [exe, *argv[1:]], env, pid_file)
        loop = asyncio.get_running_loop()
        try:
            channel = await loop.run_in_executor(
                None, open_session, transport, command, request.cols, request.rows, self._timeout
            )
        except (OSError, EOFError, paramiko.SSHException) as exc:
            raise SpawnError(f"cannot start a session on {name}: {describe(exc)}") from None
        pid = await self._read_pid(pid_file)
        process: SSHProcess | None = None

        def ended(status: ExitStatus) -> None:
            if process is not None:
                self._processes.discard(process)
            self._track_cleanup(session_id, folder)
            on_exit(status)

        process = SSHProcess(
            loop,
            channel,
            pid,
            on_output,
            ended,
            connected=transport.is_active,
            kill=lambda p, sig: kill_group(transport, p, sig),
        )
        self._processes.add(process)
        self._read_hooks_of(session_id, folder, process)
        return process

    def _read_hooks_of(self, session_id: str, folder: str, process: Process) -> None:
        old = self._hook_tasks.get(session_id)
        if old is not None:
            old.cancel()  # a hosted session's reader from before a reattach
        self._hook_tasks[session_id] = asyncio.create_task(
            self._read_hooks(session_id, posixpath.join(folder, "hooks"), process),
            name=f"c3desk-hooks-{session_id}",
        )

    # -- sessions hosted in tmux on the worker -------------------------------------------------

    async def hosted_handle(self, session_id: str) -> str | None:
        if not self._hosting or self.persistence == "never":
            return None
        self._up()  # not connected: the start fails with that reason
        host = await self._hosting_now()
        if host is None:
            if self.persistence == "always":
                raise SpawnError(
                    f"persistent_sessions is 'always' but the home folder on {self.worker.name} "
                    "is not known (for c3desk's tmux configuration there)"
                )
            return None
        return await host.hosts(self.persistence, session_id, self.worker.name)

    async def _spawn_hosted(
        self,
        host: TmuxHost,
        name: str,
        session_id: str,
        folder: str,
        request: SpawnRequest,
        on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Process:
        """Start the agent in c3desk's tmux server on the worker (its environment the server's
        with ``request.env`` on top) and attach a client to it over a channel of its own."""

        def ended(status: ExitStatus) -> None:
            self._track_cleanup(session_id, folder)
            on_exit(status)

        try:
            process = await tmux_process.start(
                host, name, request, on_output, ended,
                exact_env=False, client=self._tmux_client, gone=self._agents.gone,
            )  # fmt: skip
        except (OSError, EOFError, TmuxError, SpawnError, paramiko.SSHException) as exc:
            with contextlib.suppress(Exception):
                await host.kill(name, 0.5)
            raise SpawnError(
                f"cannot start the session in tmux on {self.worker.name}: {describe(exc)}"
            ) from None
        self._read_hooks_of(session_id, folder, process)
        return process

    async def _tmux_client(
        self,
        argv: list[str],
        cols: int,
        rows: int,
        on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> Process:
        """A tmux client on the worker, in an exec channel with a PTY (TERM xterm-256color),
        over the main connection while it has room, else over a lane."""
        transport = await self._client_transport()
        # -u: the client draws UTF-8 whatever locale the server's environment has (sshd
        # passes no LANG of ours).
        command = "exec " + shlex.join([argv[0], "-u", *argv[1:]])
        loop = asyncio.get_running_loop()
        try:
            channel = await loop.run_in_executor(
                None, open_session, transport, command, cols, rows, self._timeout
            )
        except (OSError, EOFError, paramiko.SSHException) as exc:
            if self._lanes.get(transport) == 0:  # a lane opened for it and left empty
                self._lanes[transport] = 1
                self._lane_lighter(transport)
            why = describe(exc)
            raise TmuxUnreachable(f"cannot open a channel for the tmux client: {why}") from None
        client: SSHClient | None = None

        if transport in self._lanes:
            self._lanes[transport] += 1

        def ended(status: ExitStatus) -> None:
            if client is not None:
                self._processes.discard(client)
                if self._client_of.pop(client, None) is not None:
                    self._lane_lighter(transport)
            on_exit(status)

        client = SSHClient(loop, channel, None, on_output, ended, connected=transport.is_active)
        self._processes.add(client)  # a dropped connection ends it (not the agent)
        self._client_of[client] = transport
        return client

    async def _client_transport(self) -> paramiko.Transport:
        main = self._up()
        on_main = sum(1 for t in self._client_of.values() if t is main)
        plain = len(self._processes) - len(self._client_of)
        if on_main + plain < self.channels - 4:
            return main
        for lane, clients in self._lanes.items():
            if lane.is_active() and clients < self.channels - 1:
                return lane
        generation = self._generation
        loop = asyncio.get_running_loop()
        try:
            lane = await loop.run_in_executor(
                None, open_transport, self.worker, self._trust, self._timeout, self._key_seen
            )
        except (OSError, EOFError, HostKeyError, AuthProblem, paramiko.SSHException) as exc:
            raise TmuxUnreachable(f"cannot open one more connection: {describe(exc)}") from None
        if generation != self._generation or self._transport is not main:
            loop.run_in_executor(None, _shut, None, lane)  # closed or lost meanwhile
            raise TmuxUnreachable(f"the connection to {self.worker.name} went meanwhile")
        self._lanes[lane] = 0
        return lane

    def _lane_lighter(self, transport: paramiko.Transport) -> None:
        if transport in self._lanes:
            self._lanes[transport] -= 1
            if self._lanes[transport] <= 0:  # an empty lane goes
                del self._lanes[transport]
                asyncio.get_running_loop().run_in_executor(None, _shut, None, transport)

    def _drop_lanes(self) -> None:
        lanes, self._lanes = list(self._lanes), {}
        loop = asyncio.get_running_loop()
        for lane in lanes:
            loop.run_in_executor(None, _shut, None, lane)

    async def _read_pid(self, path: str, tries: int = 60) -> int | None:
        """The agent's pid on the server, which the start script writes before it execs."""
        for _ in range(tries):
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                text = (await self.read_file(path, 32)).decode(errors="replace").strip()
                if text.isdigit():
                    return int(text)
            await asyncio.sleep(0.05)
        return None

    async def _read_hooks(self, session_id: str, path: str, process: Process) -> None:
        """Pass on what the session's hooks appended to their file, until the session ends (or,
        hosted, is detached or out of reach: reading starts again where it stopped)."""
        offset, rest = self._hook_offsets.pop(session_id, 0), b""
        while True:
            ended = process.exited
            try:
                data = await self.read_file(path, 1 << 20, offset)
            except (OSError, EOFError, paramiko.SSHException):
                data = b""
            offset += len(data)
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            for line in lines:
                self._hook_line(session_id, line)
            if ended:
                return
            if process.survives and (getattr(process, "detached", False) or not self._connected()):
                self._hook_offsets[session_id] = offset - len(rest)
                return
            await asyncio.sleep(HOOK_POLL)

    def _connected(self) -> bool:
        transport = self._transport
        return transport is not None and transport.is_active()

    def _hook_line(self, session_id: str, line: bytes) -> None:
        event, _, raw = line.decode(errors="replace").partition(" ")
        if event not in ("busy", "idle", "waiting", "session-start"):
            return
        payload: Any
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            payload = {}
        self._report_hook(session_id, event, payload if isinstance(payload, dict) else {})

    def _track_cleanup(self, session_id: str, folder: str) -> None:
        """Remove the session's folder on the server once its hook reader read the last
        reports. The folder is the session's, not the run's: a new run (continue, retry)
        waits for this (:meth:`_after_cleanup`), so the removal cannot take its files."""
        reader = self._hook_tasks.pop(session_id, None)  # this run's, taken now

        async def cleanup() -> None:
            if reader is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(reader, 5.0)
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException, TimeoutError):
                await asyncio.wait_for(self.files.run(lambda c: _remove_tree(c, folder)), 10.0)

        task = asyncio.ensure_future(cleanup())
        self._cleanups.add(task)
        self._cleanup_of[session_id] = task

        def done(t: asyncio.Future[None]) -> None:
            self._cleanups.discard(t)
            if self._cleanup_of.get(session_id) is t:
                del self._cleanup_of[session_id]

        task.add_done_callback(done)

    async def _after_cleanup(self, session_id: str) -> None:
        """Wait until the last run's folder of this session is gone from the server."""
        task = self._cleanup_of.get(session_id)
        if task is not None:
            await asyncio.wait({task})

    async def hosted_size(self, handle: str) -> tuple[int, int] | None:
        name = name_of(handle)
        if not self._hosting or name is None or self.status != "connected":
            return None
        try:
            host = await self._hosting_now()
            pane = None if host is None else await host.pane(name)
        except (OSError, EOFError, TmuxError, ValueError, paramiko.SSHException):
            return None  # TmuxUnreachable too: the reattach that follows says what holds
        return None if pane is None else pane.size

    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        """A hosted session attached to again: what it showed replayed to ``on_output`` first;
        a dead pane's exit status told through the process (``on_exit``); None when tmux on the
        worker no longer has it. A session that ran in a bare channel ended with the
        connection that opened it: None. Not connected: SpawnError (nothing is known)."""
        name = name_of(handle)
        if not self._hosting or name is None:
            return None
        self._up()
        host = await self._hosting_now()
        if host is None:
            return None
        session_id = _session_id_of(name)
        folder = self._session_dir(session_id) if session_id is not None else None

        def ended(status: ExitStatus) -> None:
            if session_id is not None and folder is not None:
                self._track_cleanup(session_id, folder)
            on_exit(status)

        try:
            process = await tmux_process.attach(
                host, name, {}, *size, on_output, ended,
                client=self._tmux_client, gone=self._agents.gone,
            )  # fmt: skip
        except TmuxUnreachable as exc:
            # Not "missing": nothing could be asked (the connection failed meanwhile, or the
            # server refused one more channel: OpenSSH's MaxSessions).
            raise SpawnError(
                f"could not ask tmux on {self.worker.name} for {name}: {describe(exc)}"
            ) from None
        except (OSError, EOFError, TmuxError, ValueError, paramiko.SSHException) as exc:
            log.info("reattaching %s on %s: %s", name, self.worker.name, describe(exc))
            process = None
        if process is None:
            self._up()  # the connection dropped meanwhile: that says nothing of the session
            if session_id is not None and folder is not None:
                self._track_cleanup(session_id, folder)  # lost: its files there go too
            return None
        if session_id is not None and folder is not None:
            self._read_hooks_of(session_id, folder, process)
        return process

    # -- files -------------------------------------------------------------------------------

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        return await self.files.read_file(path, limit, offset)

    async def list_dir(self, path: str) -> list[DirEntry]:
        return await self.files.list_dir(path)

    async def stat(self, path: str) -> FileStat | None:
        return await self.files.stat(path)

    async def download(self, path: str, dest: Path, limit: int) -> FileStat:
        # Streamed into a temporary file over an SFTP session of its own (ssh_files).
        return await self.files.download(path, dest, limit)

    async def home(self) -> str:
        return await self.files.home()

    async def realpath(self, path: str) -> str:
        return await self.files.realpath(path)

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        # The hooks run on the server: they append to the session's hooks file there, which
        # _read_hooks reads back (nothing of c3desk needs to be installed on the server).
        folder = self._session_dir(session_id)
        if folder is None:
            return None
        return ["/bin/sh", "-c", _HOOK_SCRIPT, "c3desk-hook", posixpath.join(folder, "hooks")]


def _session_id_of(name: str) -> str | None:
    """The c3desk session id a tmux session's name was made from (tmux.session_name)."""
    return session_id_of(name)


def _shut(sftp: paramiko.SFTPClient | None, transport: paramiko.Transport) -> None:
    """Close an SFTP session and its transport (joins paramiko's thread: not on the loop)."""
    if sftp is not None:
        sftp.close()
    transport.close()


def _keepalive(transport: paramiko.Transport) -> bool:
    """One heartbeat: a request the server must answer (OpenSSH answers "failure" to this
    name, which counts: it answered). Waits as long as the server does (in a thread)."""
    if not transport.is_active():
        return False
    try:
        transport.global_request("keepalive@openssh.com", wait=True)
    except (OSError, EOFError, paramiko.SSHException):
        return False
    return transport.is_active()


def _makedirs(client: paramiko.SFTPClient, folder: str) -> None:
    """``mkdir -p`` over SFTP, each new folder readable by its owner only."""
    parts = folder.split("/")
    for i in range(2, len(parts) + 1):
        path = "/".join(parts[:i])
        if not path:
            continue
        try:
            client.stat(path)
        except FileNotFoundError:
            client.mkdir(path, 0o700)


def _remove_tree(client: paramiko.SFTPClient, folder: str) -> None:
    for entry in client.listdir_attr(folder):
        path = posixpath.join(folder, entry.filename)
        if st.S_ISDIR(entry.st_mode or 0):
            _remove_tree(client, path)
        else:
            client.remove(path)
    client.rmdir(folder)
