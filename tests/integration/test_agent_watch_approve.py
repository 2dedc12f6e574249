"""Guarded auto-approve by the agent watch, without an engine: a real process in a real PTY
draws Claude Code's bash permission box and reports the key it receives."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.screens import read_fixture

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core.agent_watch import AgentWatch
from c3desk.core.agents import BUILTIN_PROFILES
from c3desk.core.feeder import Feeder
from c3desk.core.live import LiveSession
from c3desk.core.scrollback import ScrollbackLog
from c3desk.store.models import Session, Worker
from c3desk.terminal import TerminalModel
from c3desk.transports.base import ExitStatus, SpawnRequest
from c3desk.transports.local import LocalTransport

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens" / "claude"
BOX = SCREENS / "waiting__bash__real-bash-box-dark-80.txt"
# Draws the box with the terminal in raw mode, then prints the first keys it is sent.
AGENT = """
import os, sys, tty
tty.setraw(0)
with open(sys.argv[1], "rb") as f:
    os.write(1, f.read())
keys = os.read(0, 16)
os.write(1, b"\\r\\nanswered [" + keys + b"]\\r\\n")
"""


async def _until(event: asyncio.Event, predicate: Callable[[], Any], timeout: float = 30) -> None:
    """Wait for ``predicate`` to hold, checking it each time ``event`` is set."""
    async with asyncio.timeout(timeout):
        while not predicate():
            event.clear()
            await event.wait()


@pytest.mark.parametrize(
    ("setting", "override", "approved"),
    [("true", None, True), ("false", True, True), ("true", False, False)],
    ids=["setting-on", "session-on-setting-off", "session-off-setting-on"],
)
def test_a_settled_bash_box_is_approved_only_when_allowed(
    db: Paths, tmp_path: Path, setting: str, override: bool | None, approved: bool
) -> None:
    cfg.set_setting("auto_approve", setting)
    s = sess.create_session(title="box", working_directory=str(tmp_path), prompt="hi")
    worker = Worker.get(Worker.type == "local")
    sess.transition(s.id, "active", worker=worker.id)
    Session.update(auto_approve=override).where(Session.id == s.id).execute()
    _, rows = read_fixture(BOX)
    screen = tmp_path / "box.bin"
    screen.write_bytes(b"\x1b[H\x1b[2J" + "\r\n".join(rows[:24]).encode())
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    live = LiveSession(
        s.id,
        str(worker.id),
        TerminalModel(80, 24, history=100),
        ScrollbackLog(tmp_path / "log", 1 << 20),
    )
    sessions = {s.id: live}

    def approvals() -> list[dict[str, Any]]:
        return [
            json.loads(e.detail or "{}") for e in sess.events(s.id) if e.kind == "auto_approved"
        ]

    def shows(text: str) -> bool:
        return any(text in row for row in live.model.display)

    async def scenario() -> None:
        news = asyncio.Event()
        watch = AgentWatch(sessions, lambda sid: news.set())
        live.on_backlog = Feeder(sessions.get, lambda sid: news.set(), lambda: None).queue
        watch.attach(live, BUILTIN_PROFILES["claude"])
        ended = asyncio.Event()

        def on_exit(status: ExitStatus) -> None:
            live.exit_status = status
            ended.set()
            news.set()

        request = SpawnRequest(
            [sys.executable, str(script), str(screen)], str(tmp_path), dict(os.environ), 80, 24
        )
        live.process = await LocalTransport().spawn(request, live.on_output, on_exit)
        runner = asyncio.create_task(watch.run())
        try:
            if approved:
                await _until(news, lambda: shows("answered [1]"))
                [approval] = approvals()
                assert approval["reason"] == "bash"
                assert "touch notes.txt" in approval["prompt"]
            else:
                await _until(news, lambda: bool(Session.get_by_id(s.id).needs_input))
                watch.look_all()  # the look that would have approved, once more
                assert approvals() == []
                live.process.write(b"n")  # the user answers
                await _until(news, lambda: shows("answered [n]"))
            await asyncio.wait_for(ended.wait(), 30)
        finally:
            watch.stop()
            await runner
            if not live.process.exited:
                await live.process.terminate(0.5)

    asyncio.run(scenario())
