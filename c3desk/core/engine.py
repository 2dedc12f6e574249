"""The session engine: the queue's scheduler and every live session's lifecycle, on one loop.

Qt-free: the GUI runs it on qasync's loop, ``c3desk run --headless`` on a plain asyncio loop.
Only the loop's thread touches the database. Observers (the UI, the control server) subscribe
with :meth:`Engine.subscribe` and receive :class:`EngineEvent` values.

Every worker row has a connection (:class:`~c3desk.transports.connection.WorkerConnection`),
made by the factory the composition root gives: sessions start, and after a restart are found
again, through their worker's connection. Which queued session starts where is decided by
:mod:`c3desk.core.placement`; their output reaches the models through :mod:`c3desk.core.feeder`;
what each agent is doing (needs input, hooks, auto-approve) is :mod:`c3desk.core.agent_watch`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import posixpath
import re
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from c3desk import clock
from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core import worktree_ops
from c3desk.core.agent_watch import AgentWatch
from c3desk.core.agents import AgentProfile, AgentsFileError, load_profiles
from c3desk.core.artifact_watch import ArtifactWatcher
from c3desk.core.awareness import write_hook_settings
from c3desk.core.feeder import FEED_BUDGET as FEED_BUDGET  # benchmarks report it from here
from c3desk.core.feeder import Feeder
from c3desk.core.gcpacer import GcPacer
from c3desk.core.launch import (
    LaunchPlan,
    Mode,
    command_for,
    encode_remote_dir,
    plan_launch,
    session_environment,
    transcript_path,
)
from c3desk.core.live import LiveSession
from c3desk.core.placement import Queued, WorkerSlot, pick_worker, place
from c3desk.core.scrollback import ScrollbackLog, read_chunks
from c3desk.core.search import SearchIndexer, read_transcript
from c3desk.core.terminals import Terminals
from c3desk.core.usage_limits import UsageLimitWatch
from c3desk.core.usage_watch import PERIOD as USAGE_PERIOD
from c3desk.core.usage_watch import UsageWatcher
from c3desk.core.waiting import worker_problem
from c3desk.errors import NotFound, Refused
from c3desk.store.models import Session, SessionEvent, Worker
from c3desk.terminal import TerminalModel
from c3desk.transports.base import LOST, ExitStatus, Process, SpawnError, SpawnRequest
from c3desk.transports.connection import ConnectionFactory, WorkerConnection, WorkerInfo

log = logging.getLogger(__name__)

# Characters that frame an agent's screen (box edges, rules, prompt markers), not its words.
_FRAME_CHARS = "─━│┃╭╮╰╯┌┐└┘├┤┬┴┼═║╔╗╚╝▐▛▜▌▝▘█ >❯"
# Footer hints that every screen of Claude Code (and peers) shows: never a reason.
_HINT_LINE = re.compile(
    r"^\? for shortcuts|for shortcuts$|esc to interrupt|ctrl\+c to interrupt|← for agents"
    r"|^⏵⏵ |shift\+tab to cycle",
    re.IGNORECASE,
)

DEFAULT_COLS, DEFAULT_ROWS = 120, 40
REATTACH_RETRY = 5.0  # seconds between tries to attach a session whose worker did not answer
TICK = 0.5  # scheduling pass and scrollback flush; changes take effect within a second
ARTIFACT_PERIOD = 5.0  # how often active sessions' folders are scanned for new files
# Between two session starts: agents booting all at once (an interpreter or node each) starve
# a small machine, this process included, for a second; staggered, nine start within 2 s.
START_GAP = 0.2
QUIET_FOR_GC = 1.0  # seconds without output from any session before a full collection
KEEP_FINISHED = 16  # finished sessions whose final model stays in memory

# "worker": a worker's connection changed status (worker_id says which).
EventKind = Literal["changed", "output", "queue", "settings", "focus", "worker"]
_CONNECTING = "c3desk-connect-"  # the name of tasks that connect or close a worker


@dataclass(frozen=True)
class EngineEvent:
    kind: EventKind
    session_id: str | None = None
    worker_id: str | None = None


@dataclass(frozen=True)
class StateRecord:
    """One recorded status transition (a ``state`` session event), typed."""

    before: str | None
    after: str | None

    @classmethod
    def parse(cls, detail: str | None) -> StateRecord | None:
        """The transition in a ``state`` event's detail, or None when it does not hold one."""
        try:
            data = json.loads(detail or "")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        before, after = data.get("from"), data.get("to")
        return cls(
            before if isinstance(before, str) else None, after if isinstance(after, str) else None
        )

    @classmethod
    def last_of(cls, session_id: str) -> StateRecord | None:
        """The session's latest transition."""
        last = (
            SessionEvent.select(SessionEvent.detail)
            .where((SessionEvent.session == session_id) & (SessionEvent.kind == "state"))
            .order_by(SessionEvent.id.desc())
            .first()
        )
        return None if last is None else cls.parse(last.detail)


def _slot(row: Worker) -> WorkerSlot:
    return WorkerSlot(str(row.id), row.name, row.type, row.max_sessions)


def _reach(info: WorkerInfo) -> tuple[object, ...]:
    """What a connection was made for: a change of any of these needs a new one."""
    return (info.type, info.host, info.port, info.user, info.key_path)


def worker_info(row: Worker) -> WorkerInfo:
    """What a connection knows of its worker row."""
    return WorkerInfo(
        id=str(row.id),
        name=row.name,
        type=row.type,
        host=row.ssh_host,
        port=row.ssh_port,
        user=row.ssh_user,
        key_path=row.ssh_key_path,
        max_sessions=row.max_sessions,
    )


Listener = Callable[[EngineEvent], None]


@dataclass(frozen=True)
class _Launch:
    """What a start needs once its worker's machine has been asked about the transcript."""

    profile: AgentProfile
    command: list[str]
    mode: Mode
    prompt: str | None
    conversation_id: str | None
    cwd: str
    env: dict[str, str]


# Before a hosted session's screen is attached again, the model forgets its old screen and
# history: tmux replays both (capture-pane), and the client draws the screen as it is now.
FORGET_SCREEN = b"\x1b[?1049l\x1b[0m\x1b[3J\x1b[H\x1b[2J"


def _hosted(handle: str | None) -> bool:
    return bool(handle) and str(handle).startswith("tmux:")


def _output_of(live: LiveSession) -> Callable[[bytes], None]:
    """The process's output callback, holding the session weakly (see Engine._exit_of)."""
    ref = weakref.ref(live)

    def on_output(data: bytes) -> None:
        target = ref()
        if target is not None:
            target.on_output(data)

    return on_output


def _end_of_replay(rows: int) -> bytes:
    """Bytes that move the previous run's last screen into the scrollback, under a marker line,
    and leave an empty screen: a resumed agent draws its own screen (its conversation again),
    which would otherwise land on or under the old one."""
    marker = f"\x1b[0;2m── earlier run above · resumed {time.strftime('%H:%M')} ──\x1b[0m"
    return (
        b"\x1b[?1049l\x1b[0m"  # leave an alternate screen the old program left on
        + f"\x1b[{rows};1H\r\n".encode()
        + marker.encode()
        + b"\r\n" * rows
        + b"\x1b[H"
    )


class Engine:
    def __init__(
        self,
        paths: Paths,
        *,
        connections: ConnectionFactory | None = None,
        cols: int = DEFAULT_COLS,
        rows: int = DEFAULT_ROWS,
        kill_grace: float = 1.0,
        history: int = 10_000,
        model_factory: Callable[[int, int, int], TerminalModel] | None = None,
        start_gap: float = START_GAP,
    ) -> None:
        self.paths = paths
        self.start_gap = start_gap
        self._last_start = -start_gap
        self._gap_timer: asyncio.TimerHandle | None = None
        # The composition root gives the factory (here or through provide_connections); the
        # engine holds one connection per worker row, by the row's id.
        self._factory = connections
        self.connections: dict[str, WorkerConnection] = {}
        self._unwatch: dict[str, Callable[[], None]] = {}
        self.kill_grace = kill_grace
        self.live: dict[str, LiveSession] = {}
        self.finished: OrderedDict[str, LiveSession] = OrderedDict()
        # Ends the database could not record yet (see _record_unsaved_ends).
        self._unsaved_ends: dict[str, tuple[LiveSession, ExitStatus]] = {}
        self._listeners: list[Listener] = []
        self._wake = asyncio.Event()
        self._feeder = Feeder(
            self.live.get, lambda sid: self._emit("output", sid), lambda: self.focused
        )
        self._watch = AgentWatch(self.live, lambda sid: self._emit("changed", sid))
        self.limits = UsageLimitWatch(
            self,
            lambda sid: self._emit("changed", sid) if sid else self._emit("queue"),
            track=self._track,
        )
        self._watch.screen_watchers.append(self.limits.saw)
        self.terminals = Terminals(
            self.live,
            self.finished,
            paths.scrollback_dir,
            typed=self._watch.typed,
            cols=cols,
            rows=rows,
            history=history,
            model_factory=model_factory,
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        # A full collection at least every 30 s while sessions stream: each ended session
        # leaves cyclic garbage (~10k Python objects, ~0.5 MB), which piled up for the
        # pacer's default five minutes (RSS +25 % between the first and second minute of
        # benchmarks/soak.py; +13 % with 60 s). One collection is a single late tick (~50 ms
        # quiet, 160-200 ms on a loaded 2-core machine): it shows in lag max, not p99.
        self._gc = GcPacer(self._quiet, longest=30.0)
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._env: dict[str, str] | None = None
        self._profiles: dict[str, AgentProfile] | None = None
        self.idle_event = asyncio.Event()
        self.artifacts = ArtifactWatcher(paths.artifacts_dir, home=paths.home)
        # Search across history: the index follows the sessions' scrollback (c3desk.core.search).
        self.search = SearchIndexer(
            paths.scrollback_dir,
            lambda: list(self.live),
            transcripts=lambda sid, worker_id: read_transcript(
                sid, self.connections.get(worker_id or ""), self._env or {}
            ),
        )
        self._last_artifact_scan = 0.0
        self.usage = UsageWatcher(
            lambda agent: p.prices if (p := self.profiles().get(agent)) else (),
            changed=lambda sid: self._emit("changed", sid),
        )
        self._last_usage_read = 0.0
        self._gate = asyncio.Event()
        self._gate.set()
        self.focused: str | None = None  # the session the user looks at (set by the UI)
        self._blocked: dict[str, str] = {}  # queued sessions their worker cannot take, and why
        self._settings_seen: dict[str, Any] | None = None
        self._worker_seen: dict[str, tuple[str, str | None]] = {}  # status, reason recorded
        # Hosted sessions whose worker is not reachable: id → when they count as lost
        # (monotonic). They stay active, marked "reconnecting", and are attached again when
        # their worker's connection returns.
        self._reconnecting: dict[str, float] = {}
        # Those being attached again (or last tried): id → when (monotonic).
        self._reattaching: dict[str, float] = {}

    # -- observers ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(
        self, kind: EventKind, session_id: str | None = None, worker_id: str | None = None
    ) -> None:
        event = EngineEvent(kind, session_id, worker_id)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("engine listener failed on %s", event)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover from a previous run, then schedule continuously until :meth:`stop`."""
        loop = asyncio.get_running_loop()
        self._env = await loop.run_in_executor(None, session_environment)
        # Connected before recovery: reattaching goes through the connections.
        await asyncio.gather(*(self._connect(conn) for conn in self._sync_workers()))
        await self._recover()
        self._runner = asyncio.create_task(self._run(), name="c3desk-engine")
        self._track(asyncio.create_task(self._watch.run(), name="c3desk-awareness"))
        self._track(asyncio.create_task(self.search.run(), name="c3desk-search"))
        self._gc.start()

    def _quiet(self) -> bool:
        """No session printed anything for a second: a full garbage collection now stalls
        nothing anyone watches."""
        now = time.monotonic()
        return all(now - live.last_output >= QUIET_FOR_GC for live in self.live.values())

    # -- worker connections -----------------------------------------------------------------

    def provide_connections(self, factory: ConnectionFactory) -> None:
        """The composition root's factory, for an engine built without one (before start)."""
        if self._factory is None:
            self._factory = factory

    def _sync_workers(self) -> list[WorkerConnection]:
        """Give every worker row a connection; let go of the connections of removed rows.
        Returns the new connections, not connected yet."""
        if self._factory is None:
            raise RuntimeError("the engine has no worker connections: give it a factory")
        rows = {str(w.id): w for w in Worker.select()}
        new: list[WorkerConnection] = []
        for wid, row in rows.items():
            info = worker_info(row)
            old = self.connections.get(wid)
            if old is not None and _reach(old.worker) != _reach(info):
                # Edited (host, port, user, key): the old connection goes, a new one comes.
                # Its running sessions end with it, as when the machine went away.
                self._unwatch.pop(wid)()
                del self.connections[wid]
                self._track(asyncio.create_task(old.close(), name=f"{_CONNECTING}{wid}"))
            if wid not in self.connections:
                conn = self._factory(info)
                self.connections[wid] = conn
                self._unwatch[wid] = conn.on_status(self._on_connection_status)
                conn.deliver_hooks(self.handle_hook)
                new.append(conn)
        gone = [wid for wid in self.connections if wid not in rows]
        for wid in gone:
            self._unwatch.pop(wid)()
            conn = self.connections.pop(wid)
            self._track(asyncio.create_task(conn.close(), name=f"{_CONNECTING}{wid}"))
        return new

    def _connect_later(self, new: list[WorkerConnection]) -> None:
        """Connect workers added while running in the background: reaching a machine may
        take seconds, and the scheduling pass must not wait for it."""
        for conn in new:
            name = f"{_CONNECTING}{conn.worker.id}"
            self._track(asyncio.create_task(self._connect(conn), name=name))

    async def _connect(self, conn: WorkerConnection) -> None:
        try:
            await conn.connect()
        except Exception as exc:  # a connection bug must not stop the engine
            log.exception("connecting worker %s", conn.worker.name)
            self._record_worker(conn.worker.id, "error", f"cannot connect: {exc}")
            return
        self._record_worker(conn.worker.id, conn.status, conn.reason)

    def _on_connection_status(self, conn: WorkerConnection) -> None:
        self._record_worker(conn.worker.id, conn.status, conn.reason)
        wid = conn.worker.id
        if conn.status == "connected":
            back = [
                sid
                for sid in self._reconnecting
                if (live := self.live.get(sid)) is not None and live.worker_id == wid
            ]
            if back:
                name = f"reattach-{wid}"
                self._track(asyncio.create_task(self._reattach_after_drop(conn, back), name=name))
            return
        for live in list(self.live.values()):
            process = live.process
            if (
                live.worker_id == wid
                and live.id not in self._reconnecting
                and process is not None
                and process.survives
                and not process.exited
            ):
                self._await_worker(live, conn.reason)
                self._track(asyncio.create_task(_let_go(process), name=f"detach-{live.id}"))

    def _await_worker(self, live: LiveSession, why: str | None) -> None:
        """The session's agent runs on, hosted on a worker c3desk cannot reach: it stays
        active, marked reconnecting, until the worker is back or the grace period is over."""
        grace = int(cfg.get_settings()["reconnect_grace_seconds"])
        self._reconnecting[live.id] = time.monotonic() + grace
        live.process = None
        sess.record_event(live.id, "reconnecting", {"grace_seconds": grace, "why": why})
        self._emit("changed", live.id)

    def reconnecting(self, sid: str) -> bool:
        """Is the session waiting for its worker to come back?"""
        return sid in self._reconnecting

    async def _retry_reattach(self, conn: WorkerConnection, sid: str) -> None:
        self._reattaching.pop(sid, None)  # claimed again by _reattach_after_drop
        await self._reattach_after_drop(conn, [sid])

    def _exit_of(self, live: LiveSession) -> Callable[[ExitStatus], None]:
        """The process's exit callback. It holds the session weakly, as :func:`_output_of`
        does: a transport's process can sit in a reference cycle after its end (an SSH
        process and its exit closure), and the session, its terminal model with it, would
        then wait for a full garbage collection, which the engine runs rarely while sessions
        stream (:mod:`c3desk.core.gcpacer`): RSS grew with every remote session ended (the
        soak). The engine holds its sessions itself while they run."""
        ref = weakref.ref(live)

        def on_exit(status: ExitStatus) -> None:
            target = ref()
            if target is not None:
                self._on_exit(target, status)

        return on_exit

    def _lose_overdue(self) -> None:
        """Sessions whose worker stayed away longer than the grace period: lost. Those whose
        worker is back but could not be asked are asked again every REATTACH_RETRY seconds."""
        now = time.monotonic()
        for sid, deadline in list(self._reconnecting.items()):
            if now < deadline:
                live = self.live.get(sid)
                conn = self.connections.get(live.worker_id) if live is not None else None
                tried = self._reattaching.get(sid)
                if (
                    conn is not None
                    and conn.status == "connected"
                    and (tried is None or now - tried >= REATTACH_RETRY)
                ):
                    self._reattaching[sid] = now
                    self._track(
                        asyncio.create_task(self._retry_reattach(conn, sid), name=f"reattach-{sid}")
                    )
                continue
            del self._reconnecting[sid]
            live = self.live.get(sid)
            if live is not None:
                sess.record_event(sid, "lost", {"why": "its worker did not come back in time"})
                self._on_exit(live, ExitStatus(None, None, LOST))

    async def _reattach_after_drop(self, conn: WorkerConnection, sids: list[str]) -> None:
        for sid in sids:
            live = self.live.get(sid)
            if live is None or sid not in self._reconnecting or sid in self._reattaching:
                continue
            self._reattaching[sid] = time.monotonic()
            try:
                await self._reattach_one(conn, live)
            finally:
                self._reattaching[sid] = time.monotonic()  # when it was last tried
                if sid not in self._reconnecting:
                    del self._reattaching[sid]

    async def _reattach_one(self, conn: WorkerConnection, live: LiveSession) -> None:
        row = Session.get_or_none(Session.id == live.id)
        handle = row.host_handle if row is not None else None
        process: Process | None = None
        if handle:
            live.feed_all()
            live.model.feed(FORGET_SCREEN)
            try:
                # At the size it is shown at: nothing resizes it after a reconnect.
                size = (live.model.cols, live.model.rows)
                process = await conn.reattach(handle, _output_of(live), self._exit_of(live), size)
            except Exception as exc:
                log.warning("reattaching %s: %s", live.id, exc)
                return  # the worker could not be asked: tried again in a few seconds
        if conn.status != "connected" and process is not None and not process.exited:
            await _let_go(process)  # gone again meanwhile: wait on
            return
        self._reconnecting.pop(live.id, None)
        if process is None:
            if live.id in self.live:
                self._on_exit(live, ExitStatus(None, None, LOST))
            return
        self._attached(live, process, conn)

    def _record_worker(self, worker_id: str, status: str, reason: str | None) -> None:
        """Store a connection's status in its worker row, and tell observers when it changed."""
        row = Worker.get_or_none(Worker.id == worker_id)
        if row is None:
            return
        changed = self._worker_seen.get(worker_id) != (status, reason)
        self._worker_seen[worker_id] = (status, reason)
        values: dict[str, Any] = {"status": status}
        if status == "connected":
            values["last_heartbeat"] = clock.now()
        Worker.update(**values).where(Worker.id == worker_id).execute()
        if changed:
            log.info("worker %s is %s%s", row.name, status, f" ({reason})" if reason else "")
            self._emit("worker", worker_id=worker_id)

    def reconnect(self, worker_id: str) -> None:
        """Try the worker's connection again now (a user trusted its key, gave a passphrase,
        or wants to know), without waiting for its backoff."""
        conn = self.connections.get(worker_id)
        if conn is not None and conn.status != "connected":
            self._track(asyncio.create_task(self._connect(conn), name=f"{_CONNECTING}{worker_id}"))

    def worker_status(self, worker_id: str) -> tuple[str, str | None]:
        """A worker's connection status and why, as this engine sees it."""
        conn = self.connections.get(worker_id)
        if conn is None:
            return "disconnected", "no connection"
        return conn.status, conn.reason

    async def _let_go_of_silent_workers(self) -> None:
        conns = list(self.connections.values())
        answered = await asyncio.gather(
            *(conn.answers(1.0) for conn in conns), return_exceptions=True
        )
        silent = [c for c, ok in zip(conns, answered, strict=True) if ok is not True]
        await asyncio.gather(*(c.close() for c in silent), return_exceptions=True)

    async def _close_connections(self) -> None:
        # The rows keep the last status seen while running: whether the local machine can
        # run sessions does not change because this instance quit.
        for unwatch in self._unwatch.values():
            unwatch()
        self._unwatch.clear()
        await asyncio.gather(
            *(conn.close() for conn in self.connections.values()), return_exceptions=True
        )

    async def _recover(self) -> None:
        """Sessions left active by the previous run: each is looked for through its worker's
        connection; found, it runs on here; gone, it failed (reason ``lost``). A hosted one
        whose worker cannot be reached now waits for it (reconnecting)."""
        for s in list(Session.select().where(Session.status == "active")):
            conn = self.connections.get(s.worker_id) if s.worker_id is not None else None
            if conn is not None and conn.status != "connected" and _hosted(s.host_handle):
                live = self._new_live(s, Worker.get_by_id(s.worker_id), replay=True, marker=False)
                self.live[s.id] = live
                self._await_worker(live, conn.reason)
                continue
            if not await self._reattach(s):
                sess.transition(s.id, "failed", failure_reason=LOST, host_handle=None)
                self._emit("changed", s.id)

    async def _reattach(self, s: Session) -> bool:
        conn = self.connections.get(s.worker_id) if s.worker_id is not None else None
        if conn is None or conn.status != "connected" or not s.host_handle:
            return False
        worker = Worker.get_by_id(s.worker_id)
        # Attached again at the size its terminal has (not a default one the agent would redraw
        # for, then again for its tile's).
        try:
            kept = await conn.hosted_size(s.host_handle)
        except Exception:  # the reattach that follows asks again and says what holds
            log.warning("asking the size of %s", s.id, exc_info=True)
            kept = None
        if kept is not None:
            self.terminals.keep_size(s.id, *kept)
        # tmux replays what the session printed and shows its screen: the model starts empty.
        live = self._new_live(s, worker, replay=not _hosted(s.host_handle), marker=False)
        # Live before the answer: output the process prints at once must find its session.
        self.live[s.id] = live
        process: Process | None = None
        try:
            size = (live.model.cols, live.model.rows)
            process = await conn.reattach(
                s.host_handle, _output_of(live), self._exit_of(live), size
            )
        except Exception as exc:
            # Its worker could not be asked (not: it has no such session): ask again.
            log.warning("reattaching %s: %s", s.id, exc)
            self._await_worker(live, f"could not ask its worker: {exc}")
            return True
        if process is None:
            self.live.pop(s.id, None)
            live.log.close()
            return False
        self._attached(live, process, conn)
        return True

    def _attached(self, live: LiveSession, process: Process, conn: WorkerConnection) -> None:
        """A session's process found again (after a restart or a dropped connection)."""
        live.process = process
        row = Session.get_or_none(Session.id == live.id)
        if row is not None and not self.usage.watching(live.id):
            self.usage.start(live.id, row.working_directory, files=conn)
        if live.exit_status is not None or process.exited:
            # It ended while being found: recorded as any end; its last turns' tokens read.
            self._track(asyncio.ensure_future(self.usage.finish(live.id)))
            return
        s = Session.get_by_id(live.id)
        profile = self.profiles().get(s.agent)
        if profile is not None and live.awareness is None:
            self._watch.attach(live, profile)
        if not self.artifacts.watching(live.id):
            # An isolated session works in its worktree: its artifacts are looked for there.
            self.artifacts.start(
                live.id, s.worktree_path or s.working_directory, files=conn, reattached=True
            )
        Session.update(pid=process.pid, host_handle=process.handle).where(
            Session.id == live.id
        ).execute()
        sess.record_event(live.id, "reattached", {"handle": process.handle, "pid": process.pid})
        self._emit("changed", live.id)

    def hold_scheduling(self) -> None:
        """Start no session until :meth:`release_scheduling` (the GUI measures its tiles)."""
        self._gate.clear()

    def release_scheduling(self) -> None:
        self._gate.set()
        self.wake()

    async def _run(self) -> None:
        await self._gate.wait()
        while not self._stopping:
            try:
                self._record_unsaved_ends()
                self._connect_later(self._sync_workers())
                self._lose_overdue()
                self.limits.tick()
                self.schedule(self._watch_settings())
                self._note_blocked()
                self.flush_logs()
                now = time.monotonic()
                if now - self._last_artifact_scan >= ARTIFACT_PERIOD:
                    self._last_artifact_scan = now
                    self.artifacts.tick()
                if now - self._last_usage_read >= USAGE_PERIOD:
                    self._last_usage_read = now
                    self.usage.tick()
            except Exception:
                log.exception("scheduling pass failed")
            self._update_idle()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), TICK)

    def wake(self) -> None:
        """Run a scheduling pass now (a session was added, a limit changed...)."""
        self._wake.set()

    def changed_elsewhere(self) -> None:
        """Another process changed the queue (the command line added, moved, removed or pinned
        a session): observers read it again, whether or not a slot is free to start one."""
        self._emit("queue")
        self.wake()

    def _update_idle(self) -> None:
        busy = self.live or Session.select().where(Session.status == "queued").exists()
        if busy:
            self.idle_event.clear()
        else:
            self.idle_event.set()

    async def stop(
        self, reason: str = "stopped when c3desk quit", *, keep_hosted: bool = True
    ) -> None:
        """End every live session (hang-up, terminate, kill) and record why; sessions whose
        process outlives c3desk (hosted in tmux) are left running and stay active, to be
        reattached by the next start, unless ``keep_hosted`` is false."""
        self._stopping = True
        self._watch.stop()
        self.search.stop()
        self._wake.set()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        await asyncio.gather(
            *(self._leave(live, reason, keep_hosted) for live in list(self.live.values())),
            return_exceptions=True,
        )
        # Sessions' ends are awaited; looking at screens and reaching workers are not.
        finishing = [
            t for t in self._tasks if not t.get_name().startswith(("c3desk-awareness", _CONNECTING))
        ]
        if finishing:
            _done, pending = await asyncio.wait(finishing, timeout=2)
            if pending:
                # What is left may be waiting on a server that stopped answering (reading a
                # remote session's transcript): such a worker is let go now, which fails those
                # reads at once, instead of holding the quit for their whole timeout.
                await self._let_go_of_silent_workers()
                await asyncio.wait(pending, timeout=13)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.artifacts.close()
        await self.usage.close()
        await self._close_connections()
        self.flush_logs()
        self._gc.stop()

    def flush_logs(self) -> None:
        for live in self.live.values():
            live.log.flush()

    # -- scheduling --------------------------------------------------------------------------

    def profiles(self) -> dict[str, AgentProfile]:
        if self._profiles is None:
            try:
                self._profiles = load_profiles(self.paths.agents_file)
            except AgentsFileError as exc:
                log.error("%s; using the built-in agent profiles", exc)
                self._profiles = load_profiles(None)
        return self._profiles

    def schedule(self, settings: Mapping[str, Any] | None = None) -> list[str]:
        """Activate queued sessions while slots are free; return the ids activated.
        ``settings``: the row as this pass already read it (one read per pass)."""
        if self._stopping:
            return []
        if settings is None:
            settings = cfg.get_settings()
        if settings["queue_paused"]:
            return []
        limit = int(settings["max_concurrent_sessions"])
        active = Session.select().where(Session.status == "active").count()
        if active >= limit:
            return []
        workers, load = self._worker_load()
        started: list[str] = []
        queue = {
            s.id: s
            for s in Session.select().where(Session.status == "queued").order_by(Session.position)
        }
        slots = {wid: _slot(w) for wid, w in workers.items()}
        order = (Queued(sid, s.worker_id, s.agent) for sid, s in queue.items())
        for sid, wid in place(order, slots, load, limit - active, self.limits.held()):
            wait = self._last_start + self.start_gap - time.monotonic()
            if wait > 0:
                self._wake_in(wait)
                break
            self._last_start = time.monotonic()
            s = queue[sid]
            if self._activate(s, workers[wid], settings, self._entry_mode(s)):
                started.append(sid)
        if started:
            self._emit("queue")
        return started

    @property
    def blocked(self) -> Mapping[str, str]:
        """Queued sessions whose worker cannot take them now, and why (read-only view)."""
        return dict(self._blocked)

    def _watch_settings(self) -> dict[str, Any]:
        """Tell observers when the settings row changed, from wherever it was changed (the
        CLI, another window, a script editing the database): every setting applies live.
        Returns the row, for the rest of the pass."""
        values = cfg.get_settings()
        if self._settings_seen is not None and values != self._settings_seen:
            self._emit("settings")
        beat = float(values["worker_heartbeat_seconds"])
        persistence = str(values["persistent_sessions"])
        for conn in self.connections.values():
            if conn.heartbeat != beat:
                conn.heartbeat = beat
            conn.persistence = persistence
        self._settings_seen = values
        return values

    def _runnable_types(self) -> set[str]:
        """The worker types some connected connection of this engine serves."""
        return {c.worker.type for c in self.connections.values() if c.status == "connected"}

    def _note_blocked(self) -> None:
        """Record, once per change, why a queued session bound to a worker cannot start there
        (a disconnected worker would otherwise hold it with no word to anyone)."""
        runnable = self._runnable_types()
        problems = {
            w.id: problem
            for w in Worker.select()
            if (problem := worker_problem(w, runnable)) is not None
        }
        blocked: dict[str, str] = {}
        if problems:
            for row in Session.select(Session.id, Session.worker).where(
                (Session.status == "queued") & Session.worker.in_(list(problems))
            ):
                blocked[row.id] = problems[str(row.worker_id)]
        changed = blocked != self._blocked
        for sid, reason in blocked.items():
            if self._blocked.get(sid) != reason:
                sess.record_event(sid, "waiting", {"reason": reason})
                self._emit("changed", sid)
        self._blocked = blocked
        if changed:
            self._emit("queue")

    def _wake_in(self, delay: float) -> None:
        """A scheduling pass once the gap between starts has passed."""
        if self._gap_timer is not None and not self._gap_timer.cancelled():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a direct call): the next pass starts it

        def fire() -> None:
            self._gap_timer = None
            self.wake()

        self._gap_timer = loop.call_later(delay, fire)

    def _worker_load(self) -> tuple[dict[str, Worker], dict[str, int]]:
        """Connected workers this engine can start sessions on, and their active counts."""
        workers = {
            w.id: w
            for w in Worker.select().where(Worker.status == "connected")
            if (conn := self.connections.get(str(w.id))) is not None and conn.status == "connected"
        }
        load = dict.fromkeys(workers, 0)
        for s in Session.select(Session.worker).where(Session.status == "active"):
            if s.worker_id in load:
                load[s.worker_id] += 1
        return workers, load

    def _pick_worker(
        self, s: Session, workers: dict[str, Worker], load: dict[str, int]
    ) -> Worker | None:
        held = self.limits.held()
        slots = {wid: _slot(w) for wid, w in workers.items() if (s.agent, wid) not in held}
        slot = pick_worker(s.worker_id, slots, load)
        return None if slot is None else workers[slot.id]

    @staticmethod
    def _entry_mode(s: Session) -> Mode:
        """How the session entered the queue: new, continued (from completed) or retried."""
        last = StateRecord.last_of(s.id)
        before = last.before if last is not None else None
        if before == "completed":
            return "continue"
        if before == "failed":
            return "retry"
        return "fresh"

    def _activate(
        self, s: Session, worker: Worker, settings: Mapping[str, object], mode: Mode
    ) -> bool:
        """Mark the session active and start its process (asynchronously); False when another
        process removed it since this pass read the queue."""
        profile = self.profiles().get(s.agent)
        env = dict(self._env or session_environment())
        env["C3DESK_SESSION"] = s.id
        env["C3DESK_HOME"] = str(self.paths.home)
        live = self._new_live(s, worker, replay=mode != "fresh")
        try:
            sess.transition(s.id, "active", worker=worker.id, host_handle=None)
        except (NotFound, Refused):
            live.log.close()  # never live: it must not hold a slot or keep --until-idle waiting
            return False
        self.live[s.id] = live
        self.finished.pop(s.id, None)
        self._emit("changed", s.id)
        if profile is None:
            self._fail_start(live, f"unknown agent profile {s.agent!r}")
            return True
        self._watch.attach(live, profile)
        launch = _Launch(
            profile=profile,
            command=command_for(profile, settings),
            mode=mode,
            prompt=s.prompt,
            conversation_id=s.claude_session_id,
            cwd=s.working_directory,
            env=env,
        )
        self._spawn_task(live, worker, launch)
        return True

    async def _plan(self, conn: WorkerConnection | None, launch: _Launch) -> LaunchPlan:
        """The argv of this start; whether the conversation's transcript exists is asked of
        the worker's machine (its home, its realpath of the folder)."""
        has_transcript = False
        cid = launch.conversation_id
        if cid and launch.mode != "fresh" and conn is not None:
            if conn.worker.type == "local":
                has_transcript = transcript_path(launch.cwd, cid, launch.env).is_file()
            else:
                try:
                    config = await self._config_dir_of(conn)
                    real = await conn.realpath(launch.cwd)
                    path = posixpath.join(
                        config, "projects", encode_remote_dir(real), f"{cid}.jsonl"
                    )
                    has_transcript = await conn.stat(path) is not None
                except OSError:
                    has_transcript = False
        return plan_launch(
            launch.profile,
            launch.command,
            mode=launch.mode,
            prompt=launch.prompt,
            conversation_id=cid,
            cwd=launch.cwd,
            env=launch.env,
            new_id=str(uuid.uuid4()),
            has_transcript=has_transcript,
        )

    @staticmethod
    async def _config_dir_of(conn: WorkerConnection) -> str:
        """Claude Code's configuration folder on a remote worker's machine."""
        return await conn.claude_config_dir() or posixpath.join(await conn.home(), ".claude")

    async def _hook_settings(self, conn: WorkerConnection, session_id: str, hook: list[str]) -> str:
        """The session's hook settings file, on the machine the session runs on."""
        local = write_hook_settings(self.paths.run_dir, session_id, hook)
        remote = await conn.put_session_file(session_id, "settings.json", local.read_bytes())
        return remote or str(local)

    def _new_live(
        self, s: Session, worker: Worker, *, replay: bool, marker: bool = True
    ) -> LiveSession:
        """A session's live state; ``replay`` rebuilds its screen from its scrollback, under a
        marker line (``marker``) when a new process will draw a new screen."""
        model = self.terminals.new_model(s.id)
        path = self.paths.scrollback_dir / f"{s.id}.log"
        if replay:
            for chunk in read_chunks(path):
                model.feed(chunk)
            model.take_answers()  # the old program asked; the new one must not get answers
            if marker and (model.lines_pushed or any(line.strip() for line in model.display)):
                model.feed(_end_of_replay(model.rows))
        limit = int(cfg.get_settings()["scrollback_limit_mb"]) * 1024 * 1024
        live = LiveSession(s.id, worker.id, model, ScrollbackLog(path, limit))
        live.on_backlog = self._feeder.queue
        if s.terminal_scrollback != str(path):
            Session.update(terminal_scrollback=str(path)).where(Session.id == s.id).execute()
        return live

    def _spawn_task(self, live: LiveSession, worker: Worker, launch: _Launch) -> None:
        conn = self.connections.get(str(worker.id))

        async def spawn() -> None:
            nonlocal launch
            try:
                if conn is None:
                    raise SpawnError(f"worker {worker.name!r} has no connection")
                # An isolated session runs in its git worktree (made at its first start).
                launch = replace(launch, cwd=await worktree_ops.place(conn, live.id, launch.cwd))
                plan = await self._plan(conn, launch)
                if plan.conversation_id:
                    Session.update(claude_session_id=plan.conversation_id).where(
                        Session.id == live.id
                    ).execute()
                argv = list(plan.argv)
                # The worker's connection says how a hook on its machine reports back.
                hook = conn.hook_command(self.paths.home, live.id) if launch.profile.hooks else None
                if hook:
                    settings_file = await self._hook_settings(conn, live.id, hook)
                    n = len(launch.command)
                    argv[n:n] = ["--settings", settings_file]
                sess.record_event(live.id, "launch", {"argv": argv, "mode": launch.mode})
                cols, rows = self.terminals.size_for(live.id)
                # Hosted: the handle is recorded before the start, so that a crash in
                # between still finds the session (or knows it lost it).
                handle = await conn.hosted_handle(live.id)
                if handle is not None:
                    Session.update(host_handle=handle).where(Session.id == live.id).execute()
                request = SpawnRequest(argv, launch.cwd, launch.env, cols, rows, handle)
                if live.end_reason is not None:
                    raise SpawnError(live.end_reason)
                config_dir = None  # where the artifact watch finds the transcript there
                if conn.worker.type != "local":
                    with contextlib.suppress(OSError):
                        config_dir = await self._config_dir_of(conn)
                process = await conn.spawn(request, _output_of(live), self._exit_of(live))
            except SpawnError as exc:
                self._fail_start(live, str(exc))
                return
            except Exception as exc:  # a transport bug must not stop the queue
                log.exception("spawning %s", live.id)
                self._fail_start(live, f"could not start: {exc}")
                return
            live.process = process
            self.artifacts.start(live.id, launch.cwd, files=conn, config_dir=config_dir)
            self.usage.start(live.id, launch.cwd, files=conn, config_dir=config_dir)
            if live.exit_status is None and not process.exited:
                Session.update(pid=process.pid, host_handle=process.handle or None).where(
                    Session.id == live.id
                ).execute()
                self._emit("changed", live.id)

        self._track(asyncio.create_task(spawn(), name=f"spawn-{live.id}"))

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _fail_start(self, live: LiveSession, reason: str) -> None:
        live.log.close()
        self.live.pop(live.id, None)
        sess.transition(live.id, "failed", failure_reason=reason)
        self._emit("changed", live.id)
        self.wake()

    # -- exit --------------------------------------------------------------------------------

    def _on_exit(self, live: LiveSession, status: ExitStatus) -> None:
        live.exit_status = status
        if live.process is not None:
            # What the process still tidies after its end is awaited by stop, like any task.
            self._track(asyncio.ensure_future(live.process.settled()))
        live.feed_all()
        live.model.release_caches()  # kept for its last screen, not for parsing more
        self._feeder.discard(live.id)
        self.live.pop(live.id, None)
        self.finished[live.id] = live
        while len(self.finished) > KEEP_FINISHED:
            self.finished.popitem(last=False)
        try:
            self._watch.exited(live, status.describe())
            live.log.close()
        except Exception:  # a full disk, a read-only folder: the end is still recorded below
            log.exception("closing session %s", live.id)
        try:
            self._record_end(live, status)
        except Exception:
            # The database takes no writes now: kept, and written by a later scheduling pass.
            log.exception("recording the end of session %s failed; tried again", live.id)
            self._unsaved_ends[live.id] = (live, status)
        self._emit("changed", live.id)
        self._track(asyncio.ensure_future(self._finish_artifacts(live.id)))
        self._track(asyncio.ensure_future(self.usage.finish(live.id)))
        self.search.ended(live.id, live.worker_id)
        self.wake()

    def _record_end(self, live: LiveSession, status: ExitStatus) -> None:
        if status.ok and live.end_reason is None:
            sess.transition(live.id, "completed", exit_code=0, host_handle=None)
        else:
            reason = live.end_reason or status.describe()
            sess.transition(
                live.id, "failed", exit_code=status.code, failure_reason=reason, host_handle=None
            )
            last = self._last_words(live)
            if last:
                sess.record_event(live.id, "last_lines", {"lines": last})

    def _record_unsaved_ends(self) -> None:
        """Ends the database could not take when they happened (a full disk, a read-only
        folder): a session must not stay active without its process."""
        for sid, (live, status) in list(self._unsaved_ends.items()):
            try:
                row = Session.get_or_none(Session.id == sid)
                if row is not None and row.status == "active":
                    self._record_end(live, status)
            except Exception:
                return  # still refused (said when it first failed); the next pass tries again
            del self._unsaved_ends[sid]  # recorded (or removed, or its end already is)
            self._emit("changed", sid)

    async def _finish_artifacts(self, session_id: str) -> None:
        try:
            await self.artifacts.finish(session_id)
        except Exception:
            log.exception("recording the artifacts of %s failed", session_id)
        self._emit("changed", session_id)

    @staticmethod
    def _last_words(live: LiveSession, keep: int = 6) -> list[str]:
        """The screen's last lines that say something: no blank rows, rules, box edges or the
        agent's key hints (an exit status is the reason; these lines are the context)."""
        words: list[str] = []
        for line in live.screen_lines():
            text = line.strip().strip(_FRAME_CHARS).strip()
            if not text or _HINT_LINE.search(text):
                continue
            words.append(text[:300])
        return words[-keep:]

    async def _leave(self, live: LiveSession, reason: str, keep_hosted: bool) -> None:
        if live.id in self._reconnecting:
            if keep_hosted:  # still active: the next start waits for its worker again
                live.log.close()
                self.live.pop(live.id, None)
            else:
                self._give_up_waiting(live, reason)
            return
        process = live.process
        if keep_hosted and process is not None and process.survives and not process.exited:
            await process.detach()
            live.log.close()
            self.live.pop(live.id, None)
            return
        await self._end(live, reason)

    def _give_up_waiting(self, live: LiveSession, reason: str) -> None:
        """End a session whose worker is away: c3desk cannot reach its agent to stop it (its
        tmux session ends when the agent does)."""
        self._reconnecting.pop(live.id, None)
        live.end_reason = reason
        self._on_exit(live, ExitStatus(None, None, reason))

    async def _end(self, live: LiveSession, reason: str) -> None:
        if live.id in self._reconnecting:
            self._give_up_waiting(live, reason)
            return
        live.end_reason = reason
        if live.process is None:
            # still starting: wait briefly for the process to exist, then end it
            for _ in range(50):
                if live.process is not None or live.id not in self.live:
                    break
                await asyncio.sleep(0.02)
        if live.process is not None and not live.process.exited:
            await live.process.terminate(self.kill_grace)

    # -- agent awareness (the work is c3desk.core.agent_watch's) -------------------------------

    def look_all(self) -> None:
        """Read every live screen now (tests and callers that need an immediate answer)."""
        self._watch.look_all()

    def look(self, sid: str, settings: Mapping[str, Any]) -> None:
        """Read one live screen; store needs-input changes; send a guarded auto-approval."""
        self._watch.look(sid, settings)

    def handle_hook(self, session_id: str, event: str, payload: Mapping[str, Any]) -> None:
        """A report from one of the agent's hooks (``c3desk hook``)."""
        self._watch.handle_hook(session_id, event, payload)
        if event == "idle":  # a turn ended (Stop): its tokens are in the transcript now
            self.usage.read_soon(session_id)

    # -- operations on terminals (the work is c3desk.core.terminals's) --------------------------

    @property
    def cols(self) -> int:
        return self.terminals.cols

    @property
    def rows(self) -> int:
        return self.terminals.rows

    def _reachable(self, ref: str) -> None:
        """Refuse input for a session whose worker is away (it would be lost)."""
        s = sess.find_session(ref)
        if s.id in self._reconnecting:
            raise Refused(f"session {s.id} is reconnecting: its worker cannot be reached now")

    def write(self, ref: str, data: bytes) -> None:
        self._reachable(ref)
        self.terminals.write(ref, data)

    async def send_text(self, ref: str, text: str, enter: bool = True) -> None:
        self._reachable(ref)
        await self.terminals.send_text(ref, text, enter)

    def send_key(self, ref: str, name: str) -> None:
        self._reachable(ref)
        self.terminals.send_key(ref, name)

    def set_default_size(self, cols: int, rows: int) -> None:
        self.terminals.set_default_size(cols, rows)

    def resize(self, ref: str, cols: int, rows: int) -> None:
        self.terminals.resize(ref, cols, rows)

    def current_model(self, sid: str) -> TerminalModel | None:
        return self.terminals.current_model(sid)

    def last_activity(self, sid: str) -> float | None:
        return self.terminals.last_activity(sid)

    def model_of(self, ref: str) -> TerminalModel:
        return self.terminals.model_of(ref)

    def screen(self, ref: str) -> list[str]:
        return self.terminals.screen(ref)

    def live_status(self) -> dict[str, Any]:
        status = self.terminals.live_status()
        for sid, entry in status.items():
            entry["reconnecting"] = sid in self._reconnecting
        return status

    def running_count(self) -> int:
        """How many sessions have a live process (or are starting one)."""
        return len(self.live)

    def hosted_count(self) -> int:
        """How many live sessions run hosted (in tmux) and can outlive this c3desk."""
        return sum(
            1
            for live in self.live.values()
            if live.process is not None and live.process.survives and not live.process.exited
        )

    def set_focus(self, sid: str | None) -> None:
        """The session the user looks at: its output is parsed first."""
        self.focused = sid

    # -- queue operations (control socket, UI) ---------------------------------------------------

    async def kill(self, ref: str) -> None:
        s = sess.find_session(ref)
        live = self.live.get(s.id)
        if live is None:
            raise Refused(f"session {s.id} is {s.status}, not running")
        await self._end(live, "killed by the user")

    def continue_session(self, ref: str) -> str:
        """completed → active when a slot is free now, else → queued. Returns the new status."""
        s = sess.find_session(ref)
        if s.status != "completed":
            raise Refused(f"session {s.id} is {s.status}; only completed sessions continue")
        Session.update(continuation_count=Session.continuation_count + 1).where(
            Session.id == s.id
        ).execute()
        return self._requeue_or_start(s, "continue")

    def retry_session(self, ref: str) -> str:
        s = sess.find_session(ref)
        if s.status != "failed":
            raise Refused(f"session {s.id} is {s.status}; only failed sessions are retried")
        sess.transition(s.id, "queued")
        self._emit("changed", s.id)
        self.wake()
        return "queued"

    def _requeue_or_start(self, s: Session, mode: Mode) -> str:
        settings = cfg.get_settings()
        if not settings["queue_paused"]:
            active = Session.select().where(Session.status == "active").count()
            if active < int(settings["max_concurrent_sessions"]):
                worker = self._pick_worker(s, *self._worker_load())
                if worker is not None and self._activate(
                    Session.get_by_id(s.id), worker, settings, mode
                ):
                    return "active"
        sess.transition(s.id, "queued")
        self._emit("changed", s.id)
        return "queued"

    def set_paused(self, paused: bool) -> None:
        cfg.set_setting("queue_paused", "true" if paused else "false")
        if not paused:
            self.limits.lift("user")  # a user's resume ends usage-limit pauses early
        self._emit("settings")
        self.wake()

    def request_focus(self) -> None:
        """Another launch of c3desk asked this instance to show its window."""
        self._emit("focus")


async def _let_go(process: Process) -> None:
    """Detach from a hosted process whose worker went away (its agent runs on there)."""
    try:
        await process.detach()
    except Exception:
        log.exception("detaching from a process whose worker went away")
