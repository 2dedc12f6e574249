"""Sessions that outlive c3desk: one agent per tmux session, in a tmux server of c3desk's own.

Every tmux command goes through a :class:`Runner` (an argv in; exit status, stdout and stderr
out), so the same :class:`TmuxHost` drives tmux on this machine (:func:`local_runner`) or on a
worker (a runner that ``shlex.join``-s the argv and runs it over SSH). Every command names
c3desk's server and configuration: ``tmux -L SOCKET -f CONF ...``.

No variable text ever reaches tmux where tmux interprets it. Session names are checked
(``[A-Za-z0-9_-]``) and addressed exactly: ``=NAME`` where tmux wants a session, ``=NAME:``
where it wants a window or pane (there a bare ``=NAME`` falls back to a prefix match). The
pane's command is fixed words (``/bin/sh -c SCRIPT c3desk``) followed by the working
directory, ``NAME=value`` pairs, ``--`` and the agent's argv as separate words, each with one
``.`` appended, which the script strips: tmux splits its argv into commands at a word that
ends with ``;`` (``a;`` would end ``new-session`` and start another tmux command), and no
suffixed word ends with one. tmux expands formats (``#{...}``, ``#(...)``) in ``-c`` (the
start directory) but not in the words of the pane's command, so ``-c`` is never used: the
script ``cd``-s, exports, unsets ``TMUX``/``TMUX_PANE`` (so an agent's own ``tmux`` commands
do not reach c3desk's server) and ``exec``-s the agent: the pane's process is the agent.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import secrets
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from c3desk.transports.base import ExitStatus, SpawnError

MIN_VERSION = (3, 0)
HISTORY_LIMIT = 50000
DEAD_BANNER = b"Pane is dead"  # what tmux writes under a dead pane (remain-on-exit)
_SGR = re.compile(rb"\x1b\[[0-9;:]*m")
STATUS_WAIT = 1.0  # seconds a dead pane is asked again for its exit status
# new-session tries while the server it reached was exiting (its last session just removed)
NEW_SESSION_TRIES = 5
RUN_TIMEOUT = 30.0  # seconds one tmux command may take before the local runner gives up
TERM = "xterm-256color"

USABLE_TTL = 60.0
UNREACHABLE = 255  # a runner's status when the machine could not be asked (as ssh says it)
HANDLE_PREFIX = "tmux:"  # a hosted session's handle: this, then its tmux session's name

_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}\Z")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VERSION = re.compile(r"tmux (?:next-)?(\d+)\.(\d+)")

# Each word after "c3desk" carries one extra character (see the module's docstring); the
# loop strips it, then: the directory, NAME=value pairs up to "--", the agent's argv.
_SCRIPT = (
    'for a do set -- "$@" "${a%?}"; shift; done; '
    'cd -- "$1" || exit 126; shift; '
    "unset TMUX TMUX_PANE OLDPWD; "
    'while [ "$#" -gt 0 ] && [ "$1" != -- ]; do export "$1" || exit 126; shift; done; shift; '
    'exec "$@"'
)

# Exit status 0 while the process runs. A zombie counts as ended: when the last session goes,
# the server exits and its dead children wait for init to reap them, which can take a while.
_ALIVE = (
    'if [ -r "/proc/$1/stat" ]; then s=$(cat "/proc/$1/stat" 2>/dev/null) || exit 1; '
    's=${s##*)}; case $s in " Z "*|" X "*) exit 1;; esac; exit 0; fi; '
    'kill -0 "$1" 2>/dev/null'
)

CONF = f"""\
# Written by c3desk: its own tmux server, one agent per session.
set -g remain-on-exit on
set -g history-limit {HISTORY_LIMIT}
set -g window-size latest
set -g status off
set -s escape-time 0
set -g default-terminal {TERM}
set -g allow-rename off
set -g automatic-rename off
set -g set-titles off
set -g mouse off
# An agent's OSC 52 must not fill a paste buffer the server shares with every other agent,
# which one could read back with OSC 52 ? (tmux answers it when set-clipboard is on).
set -s set-clipboard off
# The client draws on the main screen, not the alternate one: lines tmux scrolls off the top
# reach c3desk's scrollback, and a detached client leaves its last screen where it was.
set -ga terminal-overrides ",*:smcup@:rmcup@"
set -g exit-empty on
"""


class Runner(Protocol):
    """Runs one command (an argv) to its end: (exit status, stdout, stderr). Blocking; the
    host calls it in a thread. A missing program is status 127, as a shell reports it; a
    machine that could not be reached, 255 (:data:`UNREACHABLE`), as ssh reports it."""

    def __call__(self, argv: Sequence[str]) -> tuple[int, bytes, bytes]: ...


def local_runner(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> tuple[int, bytes, bytes]:
    """A :class:`Runner` on this machine (no shell); ``env`` replaces the environment when
    given; a program still running after ``timeout`` seconds is status 124."""
    try:
        done = subprocess.run(
            list(argv),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=None if env is None else dict(env),
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        return 127, b"", str(exc).encode()
    except subprocess.TimeoutExpired:
        return 124, b"", f"{argv[0]} did not finish in {timeout:g} s".encode()
    return done.returncode, done.stdout, done.stderr


def default_socket_name() -> str:
    user = re.sub(r"[^A-Za-z0-9_-]", "_", getpass.getuser())
    return f"c3desk-{user}"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SpawnError(
            f"not a usable tmux session name (letters, digits, _ and - only): {name!r}"
        )
    return name


def session_name(session_id: str | int, run: str | None = None) -> str:
    """The tmux session's name for a c3desk session id; ``run`` tells one run of the
    session from the next (a continue started at once must not meet the tmux session of the
    run that just ended, which is being removed)."""
    return check_name(f"c3desk-{session_id}" + (f"_{run}" if run else ""))


def session_id_of(name: str) -> str | None:
    """The c3desk session id a tmux session's name was made from (:func:`session_name`)."""
    prefix = "c3desk-"
    if not name.startswith(prefix) or len(name) == len(prefix):
        return None
    return name[len(prefix) :].split("_", 1)[0]


def name_of(handle: str | None) -> str | None:
    """The tmux session's name in a hosted session's handle; None for any other handle."""
    if not handle or not handle.startswith(HANDLE_PREFIX):
        return None
    name = handle[len(HANDLE_PREFIX) :]
    return name if _NAME.match(name) else None


def _words_after_script(cwd: str, argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    if not argv:
        raise SpawnError("the agent command is empty")
    for what, value in (("working directory", cwd), ("command", argv[0])):
        if "\0" in value or "\n" in value or "\r" in value:
            raise SpawnError(f"the {what} contains a NUL or a line break: {value!r}")
    for arg in argv[1:]:
        if "\0" in arg:
            raise SpawnError(f"an argument contains a NUL character: {arg!r}")
    pairs = []
    for key, value in env.items():
        if not _ENV_NAME.match(key):
            raise SpawnError(f"not an environment variable name: {key!r}")
        if "\0" in value:
            raise SpawnError(f"the value of {key} contains a NUL character: {value!r}")
        pairs.append(f"{key}={value}")
    return [word + "." for word in (cwd, *pairs, "--", *argv)]


@dataclass(frozen=True)
class Pane:
    pid: int
    dead: bool
    status: int | None = None  # exit status once dead and it exited
    signal: int | None = None  # the signal that ended it (tmux >= 3.3 says which)
    size: tuple[int, int] | None = None  # columns, rows of its terminal

    def exit_status(self) -> ExitStatus | None:
        """How the agent ended, in the engine's terms; None while it runs."""
        if not self.dead:
            return None
        if self.status is None and self.signal is None:
            return ExitStatus(None, reason="ended by a signal (tmux did not say which)")
        return ExitStatus(self.status, self.signal)


class TmuxError(Exception):
    """A tmux command failed; the message has tmux's own words."""


class TmuxUnreachable(TmuxError):
    """tmux could not be asked (the worker's connection failed, or refused one more channel):
    nothing is known of the session, which is not the same as its being gone."""


class TmuxHost:
    """c3desk's tmux server on one machine, reached through ``runner``."""

    def __init__(
        self,
        runner: Runner,
        *,
        conf_path: str,
        socket_name: str | None = None,
        tmux: str = "tmux",
    ) -> None:
        self._runner = runner
        self.socket_name = check_name(socket_name or default_socket_name())
        self.conf_path = conf_path
        self._tmux = tmux
        self._conf_written = False
        self._usable: tuple[bool, float] | None = None

    # -- plumbing ---------------------------------------------------------------------------

    def tmux_argv(self, *args: str) -> list[str]:
        return [self._tmux, "-L", self.socket_name, "-f", self.conf_path, *args]

    async def _run(self, argv: Sequence[str]) -> tuple[int, bytes, bytes]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, self._runner, list(argv))

    async def _tmux_cmd(self, *args: str) -> tuple[int, bytes, bytes]:
        return await self._run(self.tmux_argv(*args))

    async def write_conf(self) -> None:
        """Write c3desk's tmux configuration (read when the server starts) and load it into a
        server already running."""
        script = (
            'mkdir -p -- "$(dirname -- "$1")" && printf %s "$2" > "$1.$$" && mv -f -- "$1.$$" "$1"'
        )
        status, _, err = await self._run(["/bin/sh", "-c", script, "c3desk", self.conf_path, CONF])
        if status != 0:
            raise TmuxError(f"could not write {self.conf_path}: {err.decode(errors='replace')}")
        if await self.sessions():
            await self._tmux_cmd("source-file", self.conf_path)
        self._conf_written = True

    # -- queries ----------------------------------------------------------------------------

    async def version(self) -> tuple[int, int] | None:
        """tmux's version there; None without tmux. Raises SpawnError when the machine could
        not be asked (a runner's status 255: the worker's connection failed)."""
        status, out, err = await self._run([self._tmux, "-V"])
        if status == UNREACHABLE:
            raise SpawnError(
                f"could not ask whether tmux is there: {err.decode(errors='replace').strip()}"
            )
        if status != 0:
            return None
        match = _VERSION.search(out.decode(errors="replace"))
        if match is None:
            return None
        return int(match.group(1)), int(match.group(2))

    async def usable(self) -> bool:
        """Is tmux >= 3.0 there? (Asked again after :data:`USABLE_TTL` seconds: a user may
        install it while c3desk runs.) A machine that could not be asked raises SpawnError,
        and nothing is kept: an SSH command that failed does not mean "no tmux"."""
        now = asyncio.get_running_loop().time()
        if self._usable is None or now - self._usable[1] > USABLE_TTL:
            found = await self.version()
            self._usable = (found is not None and found >= MIN_VERSION, now)
        return self._usable[0]

    async def hosts(self, persistence: str, session_id: str, where: str) -> str | None:
        """The handle a new session gets under the ``persistent_sessions`` setting
        ``persistence`` (see :meth:`~c3desk.transports.connection.WorkerConnection.hosted_handle`);
        ``where`` names the worker in the error "always" raises without tmux."""
        if persistence == "never":
            return None
        try:
            usable = await self.usable()
        except SpawnError as exc:
            raise SpawnError(f"{where}: {exc}") from None
        if not usable:
            if persistence == "always":
                raise SpawnError(
                    f"persistent_sessions is 'always' but {where} has no tmux "
                    f"{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer to host the session in"
                )
            return None
        return HANDLE_PREFIX + session_name(session_id, secrets.token_hex(3))

    async def sessions(self) -> list[str]:
        status, out, _ = await self._tmux_cmd("list-sessions", "-F", "#{session_name}")
        if status != 0:  # no server running: no sessions
            return []
        return [line for line in out.decode(errors="replace").splitlines() if line]

    async def pane(self, name: str) -> Pane | None:
        """The session's pane: the agent's pid, whether it ended and how; None when missing;
        :class:`TmuxUnreachable` when tmux could not be asked.

        tmux marks a pane dead when its terminal closes, which can come before it has
        collected the exit status; and tmux 3.3a, just started, sometimes misses the SIGCHLD of
        a pane that exits at once (the agent stays a zombie and the status never comes, until
        another child of the server exits). So a dead pane without a status is asked again for
        up to a second, each time after ``run-shell true``, whose exit makes the server reap
        every child it has. (tmux < 3.3 never reports a signal: such a pane stays without
        either.)"""
        check_name(name)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STATUS_WAIT
        while True:
            pane = await self._pane_once(name)
            if pane is None or not pane.dead or pane.status is not None:
                return pane
            if pane.signal is not None or loop.time() > deadline:
                return pane
            await self._tmux_cmd("run-shell", "true")
            await asyncio.sleep(0.01)

    async def _pane_once(self, name: str) -> Pane | None:
        status, out, err = await self._tmux_cmd(
            "list-panes",
            "-s",
            "-t",
            f"={name}:",
            "-F",
            "#{pane_pid} #{pane_dead} #{pane_dead_status} #{pane_dead_signal} "
            "#{pane_width} #{pane_height}",
        )
        if status == UNREACHABLE:  # not "missing": nothing could be asked
            raise TmuxUnreachable(err.decode(errors="replace").strip())
        if status != 0:
            return None
        lines = out.decode(errors="replace").splitlines()
        if not lines:
            return None
        fields = lines[0].split(" ")
        fields += [""] * (6 - len(fields))
        if not fields[0].isdigit():
            raise TmuxError(f"tmux reported an unreadable pane: {lines[0]!r}")
        dead = fields[1] == "1"

        def number(text: str) -> int | None:
            return int(text) if dead and text.isdigit() else None

        size = None
        if fields[4].isdigit() and fields[5].isdigit():
            size = (int(fields[4]), int(fields[5]))
        return Pane(int(fields[0]), dead, number(fields[2]), number(fields[3]), size)

    async def capture(self, name: str) -> bytes:
        """What the session shows and its scrollback, with colours, wrapped lines joined."""
        status, out, err = await self._tmux_cmd(
            "capture-pane", "-p", "-e", "-J", "-S", "-", "-t", f"={check_name(name)}:"
        )
        if status == UNREACHABLE:
            raise TmuxUnreachable(err.decode(errors="replace").strip())
        if status != 0:
            raise TmuxError(err.decode(errors="replace").strip())
        return out

    async def last_screen(self, name: str) -> list[bytes]:
        """The rows a dead pane showed when its agent ended, with colours, without tmux's
        "Pane is dead" line: tmux writes that line on a new bottom row, scrolling the screen up
        by one, so the row scrolled into the history is taken back (``-S -1``)."""
        status, out, err = await self._tmux_cmd(
            "capture-pane", "-p", "-e", "-S", "-1", "-t", f"={check_name(name)}:"
        )
        if status == UNREACHABLE:
            raise TmuxUnreachable(err.decode(errors="replace").strip())
        if status != 0:
            raise TmuxError(err.decode(errors="replace").strip())
        rows = out.split(b"\n")
        if rows and rows[-1] == b"":
            rows.pop()  # the newline that ends the last row
        if rows and DEAD_BANNER in _SGR.sub(b"", rows[-1]):
            rows.pop()
        return rows

    def attach_argv(self, name: str) -> list[str]:
        """The command that attaches a client (to run in a PTY whose TERM tmux knows)."""
        return self.tmux_argv("attach-session", "-t", f"={check_name(name)}")

    # -- changes ----------------------------------------------------------------------------

    async def new_session(
        self,
        name: str,
        cwd: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        cols: int = 120,
        rows: int = 40,
        *,
        exact_env: bool = False,
    ) -> int:
        """Start the agent in a new detached session; returns its pid (the pane's process).

        The agent's environment is the tmux server's (that of whoever started the server,
        plus what tmux adds) with ``env`` on top; with ``exact_env`` it is ``env`` alone
        (``TERM`` defaults to xterm-256color), for a caller that passes a whole environment."""
        check_name(name)
        words = _words_after_script(cwd, argv, env)
        if not self._conf_written:
            await self.write_conf()
        for _attempt in range(NEW_SESSION_TRIES):
            status, out, err = await self._new_session_once(name, cols, rows, exact_env, words)
            # The server was exiting (its last session had just been removed, as another
            # session of c3desk's ended) when the command reached it: nothing was made, and
            # the next command starts a new server.
            if status == 0 or b"server exited unexpectedly" not in err:
                break
        if status != 0:
            raise SpawnError(
                f"tmux could not start session {name}: {err.decode(errors='replace').strip()}"
            )
        try:
            return int(out.decode().strip().splitlines()[0])
        except (ValueError, IndexError):
            raise SpawnError(f"tmux did not report the pid of session {name}: {out!r}") from None

    async def _new_session_once(
        self, name: str, cols: int, rows: int, exact_env: bool, words: Sequence[str]
    ) -> tuple[int, bytes, bytes]:
        return await self._tmux_cmd(
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            str(max(1, int(cols))),
            "-y",
            str(max(1, int(rows))),
            "-P",
            "-F",
            "#{pane_pid}",
            "--",
            *(["/usr/bin/env", "-i", f"TERM={TERM}"] if exact_env else []),
            "/bin/sh",
            "-c",
            _SCRIPT,
            "c3desk",
            *words,
        )

    async def kill(self, name: str, grace: float = 2.0) -> None:
        """End the session and its agent (tmux sends SIGHUP); an agent that outlives ``grace``
        seconds is killed. Nothing is left behind."""
        try:
            pane = await self.pane(name)
        except TmuxUnreachable:
            pane = None  # asked to go all the same (that may fail the same way)
        await self._tmux_cmd("kill-session", "-t", f"={check_name(name)}")
        if pane is None or pane.dead:
            return
        alive = ["/bin/sh", "-c", _ALIVE, "c3desk", str(pane.pid)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline:
            if (await self._run(alive))[0] != 0:
                return
            await asyncio.sleep(0.05)
        await self._run(["/bin/sh", "-c", 'kill -KILL "$1" 2>/dev/null', "c3desk", str(pane.pid)])

    async def kill_server(self) -> None:
        """End the server and every session on it, and remove its socket (tmux leaves it)."""
        await self._tmux_cmd("kill-server")
        # Where tmux puts a -L socket: $TMUX_TMPDIR (else /tmp), then tmux-UID/NAME.
        script = 'rm -f -- "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$1"'
        await self._run(["/bin/sh", "-c", script, "c3desk", self.socket_name])
