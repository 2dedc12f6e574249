"""Reading running sessions' transcripts for their token usage, a little at a time.

For each session that runs an agent writing Claude Code transcripts, :class:`UsageWatcher`
finds them where the artifact watcher does (:mod:`c3desk.core.artifact_watch`: this machine's
``CLAUDE_CONFIG_DIR`` or ``~/.claude``, or on an SSH worker the remote user's, read over SFTP
through the worker's connection), the main one per conversation (``/clear`` starts another) and
one per subagent (``<conversation>/subagents/*.jsonl``). Every :data:`PERIOD` seconds, when a
turn ends (the ``Stop`` hook), and once more when the session ends, it reads what was appended
since the saved offset, at most :data:`CHUNK` bytes per step (a huge transcript is read over
several steps; the file is read in a worker thread, and parsed on the loop :data:`SLICE` bytes,
about 2 ms, at a time), and records the sums with the new offsets
(:func:`c3desk.core.usage.record`) on the loop, the one thread that writes the database. Offsets
are saved, so a continued session, or a restarted c3desk, reads only what is new.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
import posixpath
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from c3desk.core import usage
from c3desk.core.launch import claude_config_dir, encode_remote_dir, transcript_path
from c3desk.core.prices import Price
from c3desk.core.worker_files import ConnectionFiles, FileService, WorkerFiles, files_for
from c3desk.store.models import Session

log = logging.getLogger(__name__)

PERIOD: Final = 5.0  # seconds between two reads of a running session's transcripts
CHUNK: Final = 4 * 1024 * 1024  # bytes of one transcript read (and recorded) in one step
SLICE: Final = 128 * 1024  # bytes parsed on the loop between two yields
#: Agent profiles that write Claude Code transcripts.
TRANSCRIPT_AGENTS: Final = frozenset({"claude"})


@dataclass
class _Watch:
    session_id: str
    root: str
    files: WorkerFiles
    config_dir: str | None
    tally: usage.Tally
    projects: str | None = None
    states: dict[str, usage.ReadState] = field(default_factory=dict)
    ids: dict[str, list[str]] = field(default_factory=dict)  # path -> message ids, in order
    conversations: list[str] = field(default_factory=list)
    busy: bool = False
    stale: bool = True  # the saved offsets are to be (re)loaded before the next read
    runs: int = 1  # starts of the session while watched (a continue before the last read ended)


async def read_chunk(
    files: WorkerFiles, path: str, offset: int, limit: int = CHUNK
) -> tuple[int, bytes] | None:
    """At most ``limit`` bytes of ``path`` from ``offset`` (from 0 when the file is now
    shorter: replaced), and where they start; None when it cannot be read."""
    if isinstance(files, ConnectionFiles):
        try:
            info = await files.service.stat(path)
            if info is None or info.is_dir:
                return None
            start = 0 if info.size < offset else offset
            return start, await files.service.read_file(path, min(info.size - start, limit), start)
        except OSError:
            return None
    if files.remote:  # another WorkerFiles (tests): its own whole read
        return await files.read_from(path, offset)

    def read() -> tuple[int, bytes] | None:
        try:
            with open(path, "rb") as handle:
                start = 0 if os.fstat(handle.fileno()).st_size < offset else offset
                handle.seek(start)
                return start, handle.read(limit)
        except OSError:
            return None

    return await asyncio.get_running_loop().run_in_executor(None, read)


class UsageWatcher:
    """Sums the tokens of running sessions from their transcripts into the database.

    ``prices_of(agent)``: the price table of an agent profile. ``env``: the local sessions'
    environment (where Claude Code keeps transcripts here; by default this process's).
    ``changed(session_id)`` is called (on the loop) when a session's sums changed."""

    def __init__(
        self,
        prices_of: Callable[[str], Sequence[Price]],
        *,
        env: Mapping[str, str] | None = None,
        changed: Callable[[str], None] | None = None,
        chunk: int = CHUNK,
    ) -> None:
        self._prices_of = prices_of
        self._env = env
        self._changed = changed
        self.chunk = chunk
        self._watches: dict[str, _Watch] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def watching(self, session_id: str) -> bool:
        return session_id in self._watches

    def start(
        self,
        session_id: str,
        root: str,
        files: WorkerFiles | FileService | None = None,
        *,
        config_dir: str | None = None,
    ) -> None:
        """Begin watching a session that was activated (or found again after a restart)."""
        session = Session.get_or_none(Session.id == session_id)
        agent = str(session.agent) if session is not None else ""
        prices = tuple(self._prices_of(agent)) if session is not None else ()
        # Claude Code, and profiles with prices (a profile that extends claude has its prices).
        if session is None or (agent not in TRANSCRIPT_AGENTS and not prices):
            return
        where = files_for(files)
        if config_dir is None and not where.remote:
            env = self._env if self._env is not None else os.environ
            config_dir = str(claude_config_dir(env))
        old = self._watches.get(session_id)
        if old is not None:
            # Continued while its last read may still run: the same watch goes on (a second
            # one would read the same bytes from the same saved offset, and count them again).
            old.root, old.files, old.config_dir, old.projects = root, where, config_dir, None
            old.runs += 1
            return
        self._watches[session_id] = _Watch(session_id, root, where, config_dir, usage.Tally(prices))

    @staticmethod
    def _load(watch: _Watch) -> None:
        """Start from what the database holds: the saved offsets and last messages (a new
        watch, or one whose last step could not be recorded)."""
        watch.tally = usage.Tally(watch.tally.prices, watch.tally.tz)
        watch.ids.clear()
        watch.states = usage.read_states(watch.session_id)
        for state in watch.states.values():
            watch.tally.remember(state.recent)
        watch.stale = False

    def tick(self) -> None:
        """Start a read of each watched session that is not being read already."""
        for watch in list(self._watches.values()):
            if not watch.busy:
                self._spawn(self.read(watch.session_id))

    def read_soon(self, session_id: str) -> None:
        """Read the session's transcripts now (a turn ended), unless a read is under way."""
        watch = self._watches.get(session_id)
        if watch is not None and not watch.busy:
            self._spawn(self.read(session_id))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def read(self, session_id: str) -> int:
        """Read what the session's transcripts gained; return how many messages were new."""
        watch = self._watches.get(session_id)
        if watch is None or watch.busy:
            return 0
        watch.busy = True
        try:
            if not await watch.files.reachable(watch.root):
                return 0
            if watch.projects is None:
                await self._locate(watch)
                if watch.projects is None:
                    return 0
            if watch.stale:
                self._load(watch)
            self._note_conversation(watch)
            paths = await self._paths(watch)
            new = 0
            for path in paths:
                new += await self._read_one(watch, path)
            return new
        except Exception:
            log.exception("reading the token usage of %s failed", session_id)
            return 0
        finally:
            watch.busy = False

    @staticmethod
    async def _locate(watch: _Watch) -> None:
        files = watch.files
        if not files.remote:
            env = {"CLAUDE_CONFIG_DIR": str(watch.config_dir)}
            watch.projects = str(transcript_path(watch.root, "-", env).parent)
            return
        config = watch.config_dir
        if config is None:
            # The worker's CLAUDE_CONFIG_DIR when its connection can tell (an SSH worker's
            # after a restart found the session again), else the remote user's ~/.claude.
            ask = getattr(getattr(files, "service", None), "claude_config_dir", None)
            try:
                config = await ask() if callable(ask) else None
                config = config or posixpath.join(await files.home(), ".claude")
            except OSError:
                return  # asked again at the next read
        root = await files.resolve(watch.root)
        watch.projects = posixpath.join(config, "projects", encode_remote_dir(root))

    @staticmethod
    def _note_conversation(watch: _Watch) -> None:
        row = Session.get_or_none(Session.id == watch.session_id)
        current = row.claude_session_id if row is not None else None
        if current and current not in watch.conversations:
            watch.conversations.append(str(current))

    @staticmethod
    async def _paths(watch: _Watch) -> list[str]:
        projects = watch.projects
        assert projects is not None
        paths: list[str] = []
        for conversation in watch.conversations:
            paths.append(posixpath.join(projects, f"{conversation}.jsonl"))
            subagents = posixpath.join(projects, conversation, "subagents")
            with contextlib.suppress(OSError):
                listed = await watch.files.list_dir(subagents)
                names = sorted(e.name for e in listed if fnmatch.fnmatchcase(e.name, "*.jsonl"))
                paths += [posixpath.join(subagents, name) for name in names]
        return paths

    async def _read_one(self, watch: _Watch, path: str) -> int:
        """Read one transcript on from its offset, a chunk per step, recording each step."""
        new = 0
        while True:
            state = watch.states.get(path, usage.ReadState(0, {}))
            got = await read_chunk(watch.files, path, state.offset, self.chunk)
            if got is None:
                return new
            start, data = got
            if not data:
                return new
            lines, used, sums = await self._count(watch, data)
            if used == 0:
                # No whole line: a line longer than a chunk is read whole (else it would never
                # end); a line being written waits for the next read.
                if len(data) < self.chunk:
                    return new
                got = await watch.files.read_from(path, start)
                if got is None:
                    return new
                start, data = got
                lines, used, sums = await self._count(watch, data)
                if used == 0:
                    return new
            ids = watch.ids.setdefault(path, list(state.recent))
            ids.extend(line.message_id for line in lines)
            del ids[: max(len(ids) - usage.RECENT, 0)]
            recent = watch.tally.recent(ids)
            after = usage.ReadState(start + used, recent)
            try:
                stored = usage.record(watch.session_id, sums, {path: after})
            except Exception:
                # Not stored (a full disk, a locked database): what this step counted is
                # forgotten, and the next read counts it again from the saved offset.
                watch.stale = True
                raise
            if not stored:
                self._watches.pop(watch.session_id, None)  # the session was removed
                return new
            watch.states[path] = after
            counted = sum(s.messages for s in sums.values())
            new += counted
            if sums and self._changed is not None:
                self._changed(watch.session_id)
            if len(data) < self.chunk:
                return new
            await asyncio.sleep(0)  # another step: let the loop breathe in between

    @staticmethod
    async def _count(
        watch: _Watch, data: bytes
    ) -> tuple[list[usage.UsageLine], int, dict[tuple[str, str], usage.Sums]]:
        """Parse and count the whole lines of one chunk on the loop, :data:`SLICE` bytes at a
        time with a yield in between: 2-4 ms of CPU each. (Parsing in a worker thread held the
        interpreter lock against the loop for a switch interval or more at every wake-up.)"""
        found: list[usage.UsageLine] = []
        sums: dict[tuple[str, str], usage.Sums] = {}
        pos = 0
        while pos < len(data):
            end = data.rfind(b"\n", pos, pos + SLICE) + 1
            if end <= pos:  # a line longer than a slice: up to its end
                end = data.find(b"\n", pos + SLICE) + 1
                if end <= 0:
                    break  # no whole line left
            lines, _used = usage.parse_lines(data[pos:end])
            usage.merge(sums, watch.tally.add(lines))
            found += lines
            pos = end
            if pos < len(data):
                await asyncio.sleep(0)
        return found, pos, sums

    async def finish(self, session_id: str) -> None:
        """The session ended: one last read; stop watching it."""
        watch = self._watches.get(session_id)
        if watch is None:
            return
        runs = watch.runs
        while watch.busy:
            await asyncio.sleep(0.05)
        await self.read(session_id)
        if watch.runs == runs and self._watches.get(session_id) is watch:
            del self._watches[session_id]  # not started again meanwhile

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
