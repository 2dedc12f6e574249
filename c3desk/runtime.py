"""A running instance: the engine plus its control socket, under the single-instance lock.

The GUI and ``c3desk run --headless`` both build one of these on their loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from c3desk.config import Paths
from c3desk.control.server import ControlServer, InstanceLock
from c3desk.core.engine import Engine

log = logging.getLogger(__name__)


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

    async def stop(self) -> None:
        try:
            await self.engine.stop()
        finally:
            await self.server.stop()
            self.lock.release()


async def run_headless(paths: Paths, until_idle: bool) -> int:
    """Run the engine without a window until SIGINT/SIGTERM (or, with until_idle, no work)."""
    instance = Instance(paths)
    await instance.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        waiters = [asyncio.create_task(stop.wait())]
        if until_idle:
            waiters.append(asyncio.create_task(_until_idle(instance.engine)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in waiters:
            task.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        await instance.stop()
    return 0


async def _until_idle(engine: Engine) -> None:
    # Idle must hold across one full scheduling pass, so a session added in between still runs.
    while True:
        await engine.idle_event.wait()
        engine.wake()
        await asyncio.sleep(0.6)
        if engine.idle_event.is_set():
            return
