"""Recording what sessions produce, without blocking the loop.

Files and transcripts are read through the session's :class:`~c3desk.core.worker_files.
WorkerFiles` (the machine it runs on: by default this one, whose reads run in a worker thread);
only the results come back to the loop, which alone writes the database. Where a session's files
come from, best first:

1. The agent's own account. Claude Code keeps a transcript (and one per subagent) in which every
   Write/Edit/MultiEdit/NotebookEdit call names its file and its result says whether the write
   happened (a call still without a result counts once its file changed since the start). Once
   a session has a transcript, only those files are listed: what other programs write in the
   same folder meanwhile is not the session's.
2. A folder scan, only when there is no transcript: every :data:`PERIOD` seconds for agents that
   keep none, and once at the end for a Claude Code session whose transcript never appeared. The
   scan is bounded (:data:`MAX_DEPTH`, :data:`MAX_FILES`, :data:`SCAN_BUDGET`); where the files
   came from, and a scan's cut, are recorded as an ``artifacts`` session event, which the
   artifacts panel shows.

Neither ever lists a file in c3desk's data or config folders or the agent's configuration
folder (:func:`excluded_roots`).

In a git working tree, what changed since the session started is saved when it ends as
``artifacts/<id>/changes.diff``: the working tree is snapshotted at the start, untracked files
included, without touching the real index, stash list or files
(:func:`c3desk.core.artifacts.git_snapshot`), and compared with the working tree at the end,
once. With a transcript the diff holds first the files the agent reported writing (the same
ones as the list, before its ignore rules), then, under a header of their own, the other files
changed meanwhile (by its shell commands, another session or the user: git cannot tell which).
Without one it is of the whole repository and its header says edits by others are in it.

A session on another machine (an SSH worker) is watched through its connection's files: its
transcripts are where Claude Code keeps them *there* (the remote user's ``~/.claude``, found
from the home folder the connection reports, never this machine's ``HOME`` or
``CLAUDE_CONFIG_DIR``), its project folder is named after the working directory as resolved
there, and only that configuration folder is excluded (c3desk's own folders are on this
machine). Such a machine cannot run git here: no diff.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import logging
import os
import posixpath
import time
import uuid
from collections.abc import Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import platformdirs

from c3desk.config import APP_NAME
from c3desk.core import artifacts
from c3desk.core import sessions as sess
from c3desk.core.launch import claude_config_dir, encode_remote_dir, transcript_path
from c3desk.core.worker_files import FileService, WorkerFiles, files_for
from c3desk.store.models import Artifact, Session

log = logging.getLogger(__name__)
T = TypeVar("T")

PERIOD = 5.0
SNAPSHOT_FILE = "snapshot.json"  # artifacts/<id>/: the run's start snapshot, for a restart
SCAN_BUDGET = 5.0  # seconds one folder scan may take before it stops
MAX_FILES = 50_000  # files one folder scan examines at most
MAX_DEPTH = 12  # folders below the session's folder one scan enters at most
#: Agent profiles that write Claude Code transcripts (from their first turn on).
TRANSCRIPT_AGENTS: Final = frozenset({"claude"})
EVENT: Final = "artifacts"  # the session event that says where artifacts came from

Source = Literal["transcript", "scan"]


def excluded_roots(home: Path, env: Mapping[str, str]) -> list[str]:
    """Folders whose files are never a session's artifacts: c3desk's data folder (database,
    logs, scrollback, hook settings), c3desk's platform folders, and Claude Code's config folder
    (transcripts, settings, plans) as configured and at its default place."""
    user_home = Path(env.get("HOME") or Path.home())
    roots = [home, claude_config_dir(env), user_home / ".claude"]
    for where in (
        platformdirs.user_data_dir,
        platformdirs.user_config_dir,
        platformdirs.user_cache_dir,
        platformdirs.user_state_dir,
        platformdirs.user_log_dir,
    ):
        roots.append(Path(where(APP_NAME, appauthor=False)))
    return [os.path.abspath(r) for r in roots]


@dataclass
class _Outcome:
    source: Source | None  # None: nothing to go by yet (a transcript is expected)
    found: list[tuple[str, artifacts.ArtifactType]]
    scan: artifacts.ScanResult | None = None
    transcript: str = ""


@dataclass
class _Watch:
    session_id: str
    root: str
    since: float
    agent: str
    config_dir: str | None  # the agent's configuration folder there (None: ask the machine)
    files: WorkerFiles
    located: bool = False  # where its transcripts are is known (found at the first look)
    projects: str | None = None  # the folder of its transcripts (None: unknown)
    excluded: list[str] | None = None  # folders never listed (None: this machine's, each look)
    warned: bool = False  # that the transcripts cannot be found (once)
    base: str | None = None
    seen: set[str] = field(default_factory=set)
    busy: bool = False
    conversations: list[str] = field(default_factory=list)
    tails: dict[str, artifacts.TranscriptTail] = field(default_factory=dict)
    writes: artifacts.ReportedWrites = field(default_factory=lambda: artifacts.ReportedWrites(""))
    noted: tuple[str, str | None] | None = None  # (source, scan limit) last recorded as event
    snapshot: asyncio.Task[str | None] | None = None  # the git snapshot at the start
    scoped: bool = False  # a transcript says which files are the agent's: the diff is of those
    touched: set[str] = field(default_factory=set)  # files it reported writing (unfiltered)


class ArtifactWatcher:
    """Watches running sessions, on this machine or a worker's, for the files they produce.

    ``home`` is c3desk's data folder (by default the parent of ``artifacts_dir``, as
    :class:`c3desk.config.Paths` lays it out); ``env`` is the local sessions' environment (by
    default this process's), which says where Claude Code keeps their transcripts; ``exclude``
    adds folders never listed. All three are about this machine: another machine's sessions
    are looked for by what its files say (see the module docstring).
    """

    def __init__(
        self,
        artifacts_dir: Path,
        *,
        home: Path | None = None,
        env: Mapping[str, str] | None = None,
        exclude: Iterable[str | os.PathLike[str]] = (),
        max_files: int = MAX_FILES,
        max_depth: int = MAX_DEPTH,
        scan_budget: float = SCAN_BUDGET,
    ) -> None:
        self.artifacts_dir = artifacts_dir
        self.home = home if home is not None else artifacts_dir.parent
        self._env = env
        self._extra = [os.fspath(e) for e in exclude]
        self.max_files, self.max_depth, self.scan_budget = max_files, max_depth, scan_budget
        self._watches: dict[str, _Watch] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def exclusions(self) -> list[str]:
        env = self._env if self._env is not None else os.environ
        return [*excluded_roots(self.home, env), *self._extra]

    def watching(self, session_id: str) -> bool:
        """Is the session's folder watched already (it was started or found again before)?"""
        return session_id in self._watches

    def start(
        self,
        session_id: str,
        root: str,
        files: WorkerFiles | FileService | None = None,
        *,
        config_dir: str | None = None,
        reattached: bool = False,
    ) -> None:
        """Begin watching a session that was just activated (``reattached``: a run found again
        after a restart, whose start snapshot, kept on disk, stays its baseline).

        ``files``: the files of the machine it runs on, as a :class:`WorkerFiles` or its worker
        connection (by default, and for the local machine's connection, this file system).
        ``config_dir``: where the agent keeps its configuration on that machine, when c3desk
        chose it; by default ``CLAUDE_CONFIG_DIR`` or ``~/.claude`` of the sessions'
        environment here, and the remote user's ``~/.claude`` on another machine."""
        env = self._env if self._env is not None else os.environ
        session = Session.get_or_none(Session.id == session_id)
        where = files_for(files)
        if config_dir is None and not where.remote:
            config_dir = str(claude_config_dir(env))
        # A second of slack: a file written in the instant of the spawn still counts. Another
        # machine gives whole seconds (SFTP): one more, for the second cut off.
        watch = _Watch(
            session_id,
            root,
            time.time() - (2.0 if where.remote else 1.0),
            agent=str(session.agent) if session is not None else "",
            config_dir=config_dir,
            files=where,
        )
        watch.writes = artifacts.ReportedWrites(
            posixpath.normpath(root) if where.remote else os.path.abspath(root)
        )
        watch.seen = {
            a.path for a in Artifact.select(Artifact.path).where(Artifact.session == session_id)
        }
        self._watches[session_id] = watch
        watch.snapshot = self._spawn(self._begin(watch, reattached))

    def _kept_path(self, session_id: str) -> Path:
        return self.artifacts_dir / session_id / SNAPSHOT_FILE

    def _kept(self, watch: _Watch) -> str | None:
        """The start snapshot recorded for this run (a restart found it running), if it is of
        the same folder; its start time becomes this watch's too."""
        try:
            kept = json.loads(self._kept_path(watch.session_id).read_text(encoding="utf-8"))
            base, root, since = str(kept["base"]), str(kept["root"]), float(kept["since"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if root != watch.root or not artifacts.is_object_id(base):
            return None
        watch.since = min(watch.since, since)
        return base

    def _keep(self, watch: _Watch) -> None:
        """Record the run's start snapshot, for the restart that may find it running."""
        path = self._kept_path(watch.session_id)
        record = {"base": watch.base, "root": watch.root, "since": watch.since}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            log.warning("could not record the snapshot of %s", watch.session_id, exc_info=True)

    async def _begin(self, watch: _Watch, reattached: bool = False) -> str | None:
        loop = asyncio.get_running_loop()
        if reattached:
            kept = await loop.run_in_executor(None, self._kept, watch)
            if kept is not None:
                watch.base = kept
                return kept
        try:
            if watch.files.remote:
                watch.base = await watch.files.git_snapshot(watch.root)
            else:
                # c3desk's own folders are never in it (a home folder kept in git).
                excluded = self.exclusions()
                watch.base = await asyncio.get_running_loop().run_in_executor(
                    None, lambda: artifacts.git_snapshot(watch.root, exclude=excluded)
                )
        except Exception:
            log.exception("the git snapshot of %s failed", watch.session_id)
        if watch.base is not None:
            await loop.run_in_executor(None, self._keep, watch)
        return watch.base

    async def baseline(self, session_id: str) -> str | None:
        """The git snapshot taken when the session started, once taken (None: not a git
        working tree, or not watched)."""
        watch = self._watches.get(session_id)
        return await self._taken(watch) if watch is not None else None

    @staticmethod
    async def _taken(watch: _Watch) -> str | None:
        """The snapshot of this watch, once taken."""
        task = watch.snapshot
        if task is None:
            return None
        if not task.done():
            await asyncio.wait([task])  # not cancelled with the caller, nor raising if it was
        return None if task.cancelled() else task.result()

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def tick(self) -> None:
        """Start a look at each watched session that is not being looked at already."""
        for watch in list(self._watches.values()):
            if not watch.busy:
                self._spawn(self.scan(watch.session_id))

    async def scan(self, session_id: str, *, final: bool = False) -> int:
        """Look for one session's new files now; return how many artifacts were recorded.

        ``final``: the session has ended; a Claude Code session without a transcript gets its
        folder scanned now.
        """
        watch = self._watches.get(session_id)
        if watch is None or watch.busy:
            return 0
        watch.busy = True
        try:
            if not await watch.files.reachable(watch.root):
                return 0  # a disconnected worker: its silence says nothing about its files
            if not watch.located:
                await self._locate(watch)
            self._note_conversation(watch)
            excluded = self.exclusions() if watch.excluded is None else watch.excluded
            outcome = await self._collect(watch, excluded, final)
            return self._record(watch, outcome)
        except Exception:
            log.exception("looking for the artifacts of %s failed", session_id)
            return 0
        finally:
            watch.busy = False

    @staticmethod
    async def _locate(watch: _Watch) -> None:
        """Where the session's transcripts are, and (on another machine) what is excluded."""
        files = watch.files
        if not files.remote:
            env = {"CLAUDE_CONFIG_DIR": str(watch.config_dir)}
            watch.projects = str(transcript_path(watch.root, "-", env).parent)
            watch.located = True
            return
        watch.excluded = []  # c3desk's own folders are on this machine, not that one
        config = watch.config_dir
        try:
            home = await files.home()
        except OSError as exc:
            if config is None:
                # Asked again at the next look (the connection may have dropped meanwhile).
                if watch.agent in TRANSCRIPT_AGENTS and not watch.warned:
                    watch.warned = True
                    log.warning(
                        "the transcripts of %s cannot be found yet: the worker's home folder "
                        "is unknown (%s)",
                        watch.session_id,
                        exc,
                    )
                return
            home = "~"  # unknown: "~/x" in a tool call stays as written (never this machine's)
        if config is None:
            config = posixpath.join(home, ".claude")
        watch.writes.home = home  # "~/x" in a tool call is the remote user's
        root = await files.resolve(watch.root)
        watch.projects = posixpath.join(config, "projects", encode_remote_dir(root))
        # Both spellings: a scan compares folders as listed, and as resolved.
        watch.excluded = list(dict.fromkeys([config, await files.resolve(config)]))
        watch.located = True

    @staticmethod
    def _note_conversation(watch: _Watch) -> None:
        """Follow the session's conversation id (``/clear`` starts a new one; the old
        transcript still counts)."""
        row = Session.get_or_none(Session.id == watch.session_id)
        current = row.claude_session_id if row is not None else None
        if current and current not in watch.conversations:
            watch.conversations.append(str(current))

    async def _collect(self, watch: _Watch, excluded: list[str], final: bool) -> _Outcome:
        """What the transcripts report, else what a scan finds (asking the session's files)."""
        files = watch.files
        projects = watch.projects
        # Without a place for transcripts (a worker that cannot tell its home) there are none.
        for conversation in watch.conversations if projects else []:
            assert projects is not None
            main = posixpath.join(projects, f"{conversation}.jsonl")
            watch.tails.setdefault(main, artifacts.TranscriptTail(main))
            # Subagents (the Task tool) write their own transcripts beside it.
            subagents = posixpath.join(projects, conversation, "subagents")
            try:
                listed = await files.list_dir(subagents)
            except OSError:
                listed = []
            for name in sorted(e.name for e in listed if fnmatch.fnmatchcase(e.name, "*.jsonl")):
                path = posixpath.join(subagents, name)
                watch.tails.setdefault(path, artifacts.TranscriptTail(path))
        infos = await files.stat_many(watch.tails)
        present = [
            tail
            for path, tail in watch.tails.items()
            if (info := infos.get(path)) is not None and info.kind == "file"
        ]
        if present:
            return await self._from_transcripts(watch, present, excluded)
        if watch.agent in TRANSCRIPT_AGENTS and not final:
            return _Outcome(None, [])  # its transcript appears at its first turn
        result = await files.scan(
            watch.root,
            watch.since,
            seen=frozenset(watch.seen),
            max_files=self.max_files,
            max_depth=self.max_depth,
            deadline=time.monotonic() + self.scan_budget,
            exclude=excluded,
        )
        return _Outcome("scan", result.found, scan=result)

    @staticmethod
    async def _from_transcripts(
        watch: _Watch, present: list[artifacts.TranscriptTail], excluded: list[str]
    ) -> _Outcome:
        files = watch.files
        reads = [(tail, await files.read_from(tail.path, tail.offset)) for tail in present]

        def parse() -> tuple[list[str], list[str]]:
            # JSON of a long transcript takes a while: in a worker thread, off the loop.
            for tail, read in reads:
                if read is not None:
                    for entry in tail.feed(*read):
                        watch.writes.feed(entry)
            return watch.writes.take(), list(watch.writes.pending.values())

        paths, pending = await asyncio.get_running_loop().run_in_executor(None, parse)
        # A call whose result has not come (yet: the permission box is up, or the agent was
        # killed; or never: a transcript without results) counts once its file changed since
        # the session started. A refused write's file is not touched, so it does not count.
        paths += await files.changed_since(pending, watch.since)
        watch.scoped = True
        watch.touched.update(paths)
        candidates = [path for path in dict.fromkeys(paths) if path not in watch.seen]
        listed = await files.reportable(candidates, watch.root, excluded)
        found = [(path, artifacts.classify_path(path)) for path in listed]
        return _Outcome("transcript", found, transcript=present[0].path)

    def _record(self, watch: _Watch, outcome: _Outcome) -> int:
        new = [(path, kind) for path, kind in outcome.found if path not in watch.seen]
        for path, kind in new:
            watch.seen.add(path)
            Artifact.insert(
                id=str(uuid.uuid4()), session=watch.session_id, type=kind, path=path
            ).execute()
        if outcome.source is not None:
            limit = outcome.scan.limit if outcome.scan is not None else None
            if watch.noted != (outcome.source, limit):
                watch.noted = (outcome.source, limit)
                sess.record_event(watch.session_id, EVENT, self._describe(watch, outcome))
        return len(new)

    def _describe(self, watch: _Watch, outcome: _Outcome) -> dict[str, Any]:
        if outcome.source == "transcript":
            return {"source": "transcript", "transcript": outcome.transcript}
        result = outcome.scan or artifacts.ScanResult()
        return {
            "source": "scan",
            "root": watch.root,
            "limit": result.limit,
            "scanned": result.scanned,
            "max_files": self.max_files,
            "max_depth": self.max_depth,
            "budget_s": self.scan_budget,
        }

    async def finish(self, session_id: str) -> None:
        """The session ended: one last look, then its diff; stop watching it."""
        watch = self._watches.get(session_id)
        if watch is None:
            return
        while watch.busy:
            await asyncio.sleep(0.05)
        await self.scan(session_id, final=True)
        base = await self._taken(watch)  # a short session may end before it is taken
        if self._watches.get(session_id) is watch:  # not a run started meanwhile (Continue)
            del self._watches[session_id]
        if base is None:
            return
        loop = asyncio.get_running_loop()
        dest = self.artifacts_dir / session_id
        if watch.files.remote:
            # Its connection's git, where it has one (none today: SFTP runs no commands).
            changes = artifacts.GitChanges(await watch.files.git_diff(watch.root, base))
            scoped = False
        else:
            paths = sorted(watch.touched) if watch.scoped else None
            excluded = self.exclusions()
            changes = await loop.run_in_executor(
                None,
                lambda: artifacts.git_changes(
                    watch.root, base, paths=paths, exclude=excluded, since=watch.since
                ),
            )
            scoped = paths is not None
        diff = artifacts.diff_report(changes, scoped=scoped)
        # The diff is kept in c3desk's own data folder, on this machine whatever the worker.
        saved = await loop.run_in_executor(None, lambda: artifacts.save_diff(diff, dest))
        if saved is not None and str(saved) not in watch.seen:
            exists = (
                Artifact.select()
                .where((Artifact.session == session_id) & (Artifact.path == str(saved)))
                .exists()
            )
            if not exists:
                Artifact.insert(
                    id=str(uuid.uuid4()), session=session_id, type="diff", path=str(saved)
                ).execute()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
