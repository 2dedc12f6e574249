"""A running instance: the engine plus its control socket, under the single-instance lock.

The GUI and ``c3desk run --headless`` both build one of these on their loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from c3desk.config import Paths
from c3desk.control.server import ControlServer, InstanceLock
from c3desk.core.engine import Engine, EngineEvent
from c3desk.core.errors import C3Error
from c3desk.store.models import Session

log = logging.getLogger(__name__)

# What ends each agent from its prompt (--exit-idle). Profiles not listed get "/exit".
EXIT_TEXT: dict[str, str] = {"codex": "/quit", "gemini": "/quit", "shell": "exit"}
EXIT_ATTEMPTS = 3  # /exit typed this often into one session without effect: leave it be
# A settled state must hold across one scheduling pass (the engine's tick is 0.5 s), so a
# session added or started in between is seen before the run ends.
SETTLE = 0.6
IDLE_STOP_REASON = "stopped at its idle prompt when `c3desk run --until-idle` ended"


class Instance:
    def __init__(self, paths: Paths, engine: Engine | None = None) -> None:
        self.paths = paths
        self.lock = InstanceLock(paths)
        self.engine = engine or Engine(paths)
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

    async def stop(self, reason: str | None = None) -> None:
        """End the live sessions (with ``reason``, else the engine's quit reason), then stop."""
        try:
            if reason is None:
                await self.engine.stop()
            else:
                await self.engine.stop(reason)
        finally:
            await self.server.stop()
            self.lock.release()


async def run_headless(paths: Paths, until_idle: bool, exit_idle: bool = False) -> int:
    """Run the engine without a window until SIGINT/SIGTERM, or (``until_idle``) until the
    work is done: see :func:`until_idle`."""
    instance = Instance(paths)
    await instance.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reason: str | None = None
    try:
        stopped = asyncio.create_task(stop.wait())
        waiters = [stopped]
        if until_idle or exit_idle:
            waiters.append(asyncio.create_task(until_idle_done(instance.engine, exit_idle)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not stopped.done() and instance.engine.live:
            reason = IDLE_STOP_REASON
            _say(
                f"{len(instance.engine.live)} session(s) idle at their prompt are stopped "
                "(--exit-idle would end them with /exit, so they complete)"
            )
        for task in waiters:
            task.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await instance.stop(reason)
    return 0


def _say(text: str) -> None:
    print(f"c3desk: {text}", file=sys.stderr, flush=True)


@dataclass
class _Progress:
    """What until-idle has already done or said, so each thing happens once."""

    exits: dict[str, tuple[int, int]] = field(default_factory=dict)  # id → (appearance, tries)
    said: dict[str, str] = field(default_factory=dict)  # id → the last line printed about it


def settled(engine: Engine, exit_idle: bool) -> bool:
    """Nothing queued, and every live session idle at its prompt (none at all: exit_idle)."""
    if Session.select().where(Session.status == "queued").exists():
        return False
    for live in engine.live.values():
        if exit_idle or live.exit_status is not None or live.process is None:
            return False
        if live.awareness is None or live.awareness.tracker.state != "idle":
            return False
    return True


async def until_idle_done(
    engine: Engine, exit_idle: bool, say: Callable[[str], None] = _say
) -> None:
    """Return once the instance has no work left.

    No work left: no session is queued, and every live session is idle at its prompt (its
    turn is over). A session waiting for an answer (a permission box, a question, a plan) is
    not idle: it needs a person, so the wait goes on and one line on stderr says which session
    needs what (answer it with ``c3desk send``). So do queued sessions that cannot start (a
    paused queue, a disconnected worker). With ``exit_idle`` each session idle at its prompt is
    ended by typing its agent's exit command (``/exit``), so it completes; the run ends when
    nothing is queued or live.
    """
    changed = asyncio.Event()

    def on_event(event: EngineEvent) -> None:
        if event.kind != "output":
            changed.set()

    unsubscribe = engine.subscribe(on_event)
    progress = _Progress()
    try:
        while True:
            if settled(engine, exit_idle):
                engine.wake()
                await asyncio.sleep(SETTLE)
                if settled(engine, exit_idle):
                    return
            if exit_idle:
                await _exit_idle_sessions(engine, progress)
            _report(engine, progress, say)
            changed.clear()
            # Changes arrive as engine events; the timeout covers what emits none.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), 1.0)
    finally:
        unsubscribe()


async def _exit_idle_sessions(engine: Engine, progress: _Progress) -> None:
    for sid, live in list(engine.live.items()):
        aware = live.awareness
        if aware is None or live.process is None or aware.tracker.state != "idle":
            continue
        appearance, tries = progress.exits.get(sid, (0, 0))
        if appearance == aware.tracker.appearance or tries >= EXIT_ATTEMPTS:
            continue  # typed for this prompt already, or the agent ignores it
        progress.exits[sid] = (aware.tracker.appearance, tries + 1)
        text = EXIT_TEXT.get(aware.profile.name, "/exit")
        try:
            await engine.send_text(sid, text)
        except C3Error:
            continue  # it ended meanwhile
        log.info("until-idle: typed %s into %s, idle at its prompt", text, sid)


def _report(engine: Engine, progress: _Progress, say: Callable[[str], None]) -> None:
    """One line on stderr for each session the run waits on that needs a person."""
    busy = any(
        live.awareness is None or live.awareness.tracker.state == "busy"
        for live in engine.live.values()
    )
    lines: dict[str, str] = {}
    for sid, live in engine.live.items():
        tracker = live.awareness.tracker if live.awareness is not None else None
        if tracker is not None and tracker.state == "waiting":
            what = tracker.reason or "an answer"
            lines[sid] = (
                f"session {sid[:8]} waits for input ({what}); "
                f"answer with `c3desk send {sid[:8]} ...`"
            )
    if not busy and not lines:
        # Everything that runs is settled: anything still queued is stuck, say why.
        from c3desk.core.waiting import wait_reasons

        for sid, why in wait_reasons().items():
            if why != "starting":  # the next scheduling pass takes it
                lines[sid] = f"session {sid[:8]} stays queued: {why}"
    for sid, line in lines.items():
        if progress.said.get(sid) != line:
            progress.said[sid] = line
            say(line)
