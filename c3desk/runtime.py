"""A running instance: the engine plus its control socket, under the single-instance lock.

The composition root: :func:`build_instance` puts the store, the worker connections, the engine
and the control server together; the GUI (``c3desk.ui.app``) and ``c3desk run --headless``
(:func:`run_headless`) both build their instance with it, on their loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from c3desk.config import Paths
from c3desk.control.server import ControlServer, InstanceLock
from c3desk.core.engine import Engine, EngineEvent
from c3desk.core.live import LiveSession
from c3desk.errors import C3Error
from c3desk.store import database
from c3desk.store.models import Session, Worker, db
from c3desk.transports.connection import ConnectionFactory
from c3desk.transports.factory import connections_for

log = logging.getLogger(__name__)

# What ends each agent from its prompt (--exit-idle). Profiles not listed get "/exit".
EXIT_TEXT: dict[str, str] = {"codex": "/quit", "gemini": "/quit", "shell": "exit"}
EXIT_ATTEMPTS = 3  # /exit typed this often into one session without effect: stop it
EXIT_RETRY = 10.0  # seconds before /exit is typed again at the same prompt
# A settled state must hold across one scheduling pass (the engine's tick is 0.5 s), so a
# session added or started in between is seen before the run ends.
SETTLE = 0.6
IDLE_STOP_REASON = "did not exit from its idle prompt when `c3desk run --until-idle` ended"


class Instance:
    def __init__(self, paths: Paths, engine: Engine | None = None) -> None:
        self.paths = paths
        self.lock = InstanceLock(paths)
        self.engine = engine or Engine(paths, connections=connections_for(paths.home))
        # An engine built by a caller without connections gets this build's.
        self.engine.provide_connections(connections_for(paths.home))
        self.server = ControlServer(self.engine, paths)

    async def start(self) -> None:
        self.lock.acquire()  # raises AlreadyRunning
        try:
            await self.server.start()
            await self.engine.start()
        except BaseException:
            await self.server.stop()
            self.lock.release()
            raise

    async def stop(self, reason: str | None = None, *, keep_hosted: bool = True) -> None:
        """Leave the live sessions, then stop: hosted ones keep running (unless
        ``keep_hosted`` is false, or a ``reason`` to end them is given), the others end (with
        ``reason``, else the engine's quit reason)."""
        try:
            if reason is None:
                await self.engine.stop(keep_hosted=keep_hosted)
            else:
                await self.engine.stop(reason, keep_hosted=False)
        finally:
            await self.server.stop()
            self.lock.release()


def build_instance(
    paths: Paths, *, connections: ConnectionFactory | None = None, **engine_options: Any
) -> Instance:
    """The one composition root: the store (opened here unless the caller has opened it), the
    worker connections (``connections``, by default this build's: the local machine and SSH
    workers, trusting host keys from ``~/.ssh/known_hosts`` and ``<data dir>/known_hosts``), the
    engine (``engine_options`` go to :class:`Engine`) and the control server."""
    if db.obj is None:
        database.connect(paths.db)
    factory = connections or connections_for(paths.home)
    engine = Engine(paths, connections=factory, **engine_options)
    return Instance(paths, engine)


class StorageAlarm(logging.Handler):
    """One line on stderr when the data folder stops taking writes (its disk is full, it turned
    read-only): the log file there takes nothing then, so the line is all a user sees. Said
    again at most every :attr:`REPEAT` seconds while it lasts."""

    REPEAT = 60.0

    def __init__(self, paths: Paths, say: Callable[[str], None]) -> None:
        super().__init__(logging.WARNING)
        self.paths = paths
        self.say = say
        self.said: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return
        problem = database.storage_problem(exc, self.paths.db)
        if problem is None:
            return
        now = time.monotonic()
        if now - self.said.get(problem, -self.REPEAT) < self.REPEAT:
            return
        self.said[problem] = now
        self.say(f"{problem}; running sessions go on, but what changes is not saved meanwhile")


async def run_headless(paths: Paths, until_idle: bool, exit_idle: bool = False) -> int:
    """Run the engine without a window until SIGINT/SIGTERM, or (``until_idle``) until no
    session has work left: see :func:`until_idle_done`.

    A data folder that stops taking writes is said in one line on stderr (:class:`StorageAlarm`);
    logging's own complaint about a log file it cannot write (a traceback on stderr per
    message) is turned off meanwhile."""
    alarm = StorageAlarm(paths, _say)
    root = logging.getLogger()
    root.addHandler(alarm)
    raise_exceptions = logging.raiseExceptions
    logging.raiseExceptions = False
    try:
        return await _run_headless(paths, until_idle, exit_idle)
    finally:
        root.removeHandler(alarm)
        logging.raiseExceptions = raise_exceptions


async def _run_headless(paths: Paths, until_idle: bool, exit_idle: bool) -> int:
    instance = build_instance(paths)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # Before the start: a SIGTERM while it recovers sessions (seconds, with hosted or remote
    # ones) stops the instance cleanly once started, instead of killing it half-way.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await instance.start()
    except BaseException:
        _remove_handlers(loop)
        raise
    reason: str | None = None
    try:
        stopped = asyncio.create_task(stop.wait())
        waiters: list[asyncio.Task[Any]] = [stopped]
        if until_idle or exit_idle:
            waiters.append(asyncio.create_task(until_idle_done(instance.engine, exit_idle)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not stopped.done() and instance.engine.live:
            # Only sessions that ignored their exit command are left.
            reason = IDLE_STOP_REASON
            _say(f"{len(instance.engine.live)} session(s) did not exit from their prompt: stopped")
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    finally:
        _remove_handlers(loop)
        await instance.stop(reason)
    return 0


def _remove_handlers(loop: asyncio.AbstractEventLoop) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(Exception):
            loop.remove_signal_handler(sig)


def _say(text: str) -> None:
    print(f"c3desk: {text}", file=sys.stderr, flush=True)


@dataclass
class _Exits:
    """The exit commands typed into one session."""

    appearance: int = 0  # the idle prompt appearance the last one was typed at
    at: float = 0.0  # when (monotonic)
    tries: int = 0


@dataclass
class _Progress:
    """What until-idle has already done or said, so each thing happens once."""

    exits: dict[str, _Exits] = field(default_factory=dict)
    said: dict[str, str] = field(default_factory=dict)  # id → the last line printed about it
    # id → the prompt appearance its "waits for input" line was printed for (see _report)
    asked: dict[str, int] = field(default_factory=dict)


def _state(live: LiveSession) -> str:
    """busy / waiting / idle, or "starting" / "ending" around the agent's life."""
    if live.exit_status is not None:
        return "ending"
    if live.process is None or live.awareness is None:
        return "starting"
    return live.awareness.tracker.state


def _queue_can_move() -> bool | None:
    """None: nothing queued. True: some queued session could start once a slot frees.
    False: every queued one is held by something no slot fixes (a paused queue, its worker)."""
    from c3desk.core import settings as cfg
    from c3desk.core.waiting import worker_problem

    queued = list(Session.select().where(Session.status == "queued"))
    if not queued:
        return None
    if cfg.get_settings()["queue_paused"]:
        return False
    workers = {w.id: w for w in Worker.select()}
    usable = {wid for wid, w in workers.items() if worker_problem(w) is None}
    return any((s.worker_id in usable) if s.worker_id is not None else bool(usable) for s in queued)


async def until_idle_done(
    engine: Engine, exit_idle: bool, say: Callable[[str], None] = _say
) -> None:
    """Return once no session has work left (``c3desk run --until-idle``).

    A session idle at its prompt (its turn is over) is done. Once no session is busy, starting
    or waiting, the done sessions are ended with their agent's exit command (``/exit``), so they
    complete and their slots go to the queue; the run ends when nothing is queued or running.
    With ``exit_idle`` each session is ended as soon as it is idle, without waiting for the
    others. A session waiting for an answer (a permission box, a question, a plan) is not done:
    it needs a person, so the run waits, and one line on stderr says which session needs what
    (answer it with ``c3desk send``). Queued sessions that cannot start (a paused queue, a
    disconnected worker) keep it waiting too, with one line each saying why.
    """
    changed = asyncio.Event()

    def on_event(event: EngineEvent) -> None:
        if event.kind != "output":
            changed.set()

    unsubscribe = engine.subscribe(on_event)
    progress = _Progress()
    try:
        while True:
            if await _settled(engine, progress):
                return
            states = {sid: _state(live) for sid, live in engine.live.items()}
            all_idle = all(state == "idle" for state in states.values())
            movable = _queue_can_move()
            if exit_idle or (all_idle and movable is not False):
                await _exit_idle_sessions(engine, progress)
            _report(engine, states, movable, progress, say)
            changed.clear()
            # Changes arrive as engine events; the timeout covers what emits none (a session
            # that ignores its exit command, a worker that connects).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 1.0)
    finally:
        unsubscribe()


async def _settled(engine: Engine, progress: _Progress) -> bool:
    """Nothing queued, and nothing live but sessions that ignored their exit command; checked
    again after one scheduling pass, so a session added in between still runs."""

    def done() -> bool:
        if Session.select().where(Session.status == "queued").exists():
            return False
        return all(
            _state(live) == "idle" and progress.exits.get(sid, _Exits()).tries >= EXIT_ATTEMPTS
            for sid, live in engine.live.items()
        )

    if not done():
        return False
    engine.wake()
    await asyncio.sleep(SETTLE)
    return done()


async def _exit_idle_sessions(engine: Engine, progress: _Progress) -> None:
    now = time.monotonic()
    for sid, live in list(engine.live.items()):
        if _state(live) != "idle" or live.awareness is None:
            continue
        appearance = live.awareness.tracker.appearance
        sent = progress.exits.setdefault(sid, _Exits())
        if sent.tries >= EXIT_ATTEMPTS:
            continue  # the agent ignores it; the run's end stops it
        if sent.tries and sent.appearance == appearance and now - sent.at < EXIT_RETRY:
            continue  # typed for this prompt already: give it time
        sent.appearance, sent.at, sent.tries = appearance, now, sent.tries + 1
        text = EXIT_TEXT.get(live.awareness.profile.name, "/exit")
        try:
            await engine.send_text(sid, text)
        except C3Error:
            continue  # it ended meanwhile
        log.info("until-idle: typed %s into %s, idle at its prompt", text, sid)


def _report(
    engine: Engine,
    states: dict[str, str],
    movable: bool | None,
    progress: _Progress,
    say: Callable[[str], None],
) -> None:
    """One line on stderr for each thing the run waits on that needs a person.

    One line per prompt (per appearance of one, as the tracker counts them): a prompt already
    said is not said again when only its reason changes (Claude Code's PermissionRequest hook
    reports "permission_prompt" as the box is drawn; the screen names it "bash" once it has
    settled). The first line stands: it came sooner and already says what to do; a line
    printed cannot be taken back, and waiting for the screen would only delay it."""
    lines: dict[str, str] = {}
    for sid, state in states.items():
        live = engine.live.get(sid)
        if state == "waiting" and live is not None and live.awareness is not None:
            tracker = live.awareness.tracker
            if progress.asked.get(sid) == tracker.appearance:
                continue  # this prompt was said
            progress.asked[sid] = tracker.appearance
            line = (
                f"session {sid[:8]} waits for input ({tracker.reason or 'an answer'}); "
                f"answer with `c3desk send {sid[:8]} ...`"
            )
            progress.said[sid] = line
            say(line)  # a new prompt: said even in the words of the one before
    if movable is False and all(state in ("idle", "waiting") for state in states.values()):
        from c3desk.core.waiting import wait_reasons

        for sid, why in wait_reasons().items():
            lines[sid] = f"session {sid[:8]} stays queued: {why}"
    for sid, line in lines.items():
        if progress.said.get(sid) != line:
            progress.said[sid] = line
            say(line)
