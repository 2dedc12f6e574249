"""Running the real engine in a test: fake agent, temporary home, waiting on engine events."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core.engine import Engine, EngineEvent
from c3desk.store.models import Session
from c3desk.transports.factory import default_connections

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "claude"


class Watcher:
    """Wakes on every engine event, so tests wait for conditions instead of sleeping."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.changed = asyncio.Event()
        self.events: list[EngineEvent] = []
        self.checks: list[Callable[[EngineEvent], None]] = []
        engine.subscribe(self._on_event)

    def _on_event(self, event: EngineEvent) -> None:
        self.events.append(event)
        for check in self.checks:
            check(event)
        self.changed.set()

    async def until(self, predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"condition not met within {timeout}s")
            self.changed.clear()
            # Engine events wake us; the short cap covers conditions outside the engine
            # (a file appearing on disk).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.1))


def use_fake_agent(tmp_path: Path) -> None:
    os.environ["CLAUDE_CONFIG_DIR"] = str(tmp_path / "claude-config")
    os.environ["FAKE_CLAUDE_SPEED"] = "10"
    cfg.set_setting("claude_command", str(FAKE))


def add(title: str, cwd: Path, prompt: str | None = "say hi", **kw: Any) -> str:
    return str(sess.create_session(title=title, working_directory=str(cwd), prompt=prompt, **kw).id)


def status(sid: str) -> str:
    return str(Session.get_by_id(sid).status)


def row(sid: str) -> Session:
    return Session.get_by_id(sid)


async def started_engine(paths: Paths, **kw: Any) -> tuple[Engine, Watcher]:
    kw.setdefault("connections", default_connections)
    engine = Engine(paths, kill_grace=0.5, **kw)
    watcher = Watcher(engine)
    await engine.start()
    return engine, watcher


def screen_has(engine: Engine, sid: str, text: str) -> Callable[[], bool]:
    return lambda: any(text in line for line in engine.screen(sid))


def pid_gone(pid: int) -> bool:
    """True when no process has this pid any more, not even a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def ended_with_their_exits(engine: Engine, ok: str, bad: str) -> None:
    """Two sessions whose agents ended while c3desk was away (``ok`` with 0, ``bad`` with 3),
    as a new engine's start recorded them: ended, not lost, not running."""
    assert status(ok) == "completed"
    assert status(bad) == "failed"
    assert row(bad).failure_reason == "exited with status 3"
    assert ok not in engine.live and bad not in engine.live
