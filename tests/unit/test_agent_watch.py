"""The agent watch without an engine: a live session with a real terminal model shown Claude
Code's screens (tests/fixtures/screens/claude), hook reports, and the rows it stores."""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers.screens import read_fixture

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core import settings as cfg
from c3desk.core.agent_watch import AgentWatch
from c3desk.core.agents import BUILTIN_PROFILES, AgentProfile
from c3desk.core.awareness import HOOK_EVENTS, write_hook_settings
from c3desk.core.live import LiveSession
from c3desk.core.scrollback import ScrollbackLog
from c3desk.store.models import Session, Worker
from c3desk.terminal import TerminalModel
from c3desk.transports.connection import WorkerInfo
from c3desk.transports.local_connection import LocalConnection

SCREENS = Path(__file__).resolve().parents[1] / "fixtures" / "screens" / "claude"
BASH_BOX = "waiting__bash__real-bash-box-dark-80.txt"
CLAUDE = BUILTIN_PROFILES["claude"]
CODEX = BUILTIN_PROFILES["codex"]


@dataclass
class Rig:
    """One watched session: its live state, the watch, and the sessions it reported."""

    live: LiveSession
    watch: AgentWatch
    sessions: dict[str, LiveSession]
    changed: list[str] = field(default_factory=list)

    @property
    def sid(self) -> str:
        return self.live.id

    def show(self, name: str, quiet_for: float = 0.0) -> None:
        """Draw a fixture screen, as if its last byte arrived ``quiet_for`` seconds ago."""
        _, rows = read_fixture(SCREENS / name)
        self.print(b"\x1b[H\x1b[2J" + "\r\n".join(rows[:24]).encode(), quiet_for)

    def print(self, data: bytes, quiet_for: float = 0.0) -> None:
        self.live.on_output(data)
        self.live.feed_all()
        self.live.last_output -= quiet_for

    def needs_input(self) -> bool:
        return bool(Session.get_by_id(self.sid).needs_input)

    def agent_events(self) -> list[dict[str, Any]]:
        return _details(self.sid, "agent")


def _details(sid: str, kind: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail or "{}") for e in sess.events(sid) if e.kind == kind]


def _rig(tmp_path: Path, profile: AgentProfile = CLAUDE) -> Rig:
    s = sess.create_session(
        title="watched", working_directory=str(tmp_path), prompt="hi", agent=profile.name
    )
    worker = Worker.get(Worker.type == "local")
    sess.transition(s.id, "active", worker=worker.id)
    model = TerminalModel(80, 24, history=100)
    live = LiveSession(s.id, str(worker.id), model, ScrollbackLog(tmp_path / s.id, 1 << 20))
    sessions = {s.id: live}
    changed: list[str] = []
    watch = AgentWatch(sessions, changed.append)
    watch.attach(live, profile)
    return Rig(live, watch, sessions, changed)


def test_a_settled_permission_box_needs_input_and_typing_clears_it(
    db: Paths, tmp_path: Path
) -> None:
    rig = _rig(tmp_path)
    rig.show(BASH_BOX, quiet_for=5.0)
    rig.watch.look_all()
    assert rig.needs_input()
    assert rig.live.needs_input
    waiting = rig.agent_events()[-1]
    assert waiting == {
        "state": "waiting",
        "reason": "bash",
        "source": "screen",
        "needs_input": True,
    }
    assert rig.sid in rig.changed
    rig.changed.clear()
    rig.watch.typed(rig.live)
    assert not rig.needs_input()
    assert rig.agent_events()[-1]["source"] == "input"
    assert rig.changed == [rig.sid]


def test_a_box_is_looked_at_again_the_moment_it_settles(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    settle = rig.live.awareness.tracker.settle if rig.live.awareness else 0.0

    async def scenario() -> None:
        seen = asyncio.Event()
        rig.watch = AgentWatch(rig.sessions, lambda sid: seen.set())
        rig.watch.attach(rig.live, CLAUDE)
        # Printed long enough ago that it settles before the next round of looks would come.
        rig.show(BASH_BOX, quiet_for=settle - 0.1)
        rig.watch.look(rig.sid, cfg.get_settings())
        assert not rig.needs_input()  # not settled yet
        await asyncio.wait_for(seen.wait(), 5.0)  # no round runs: only the settle look
        assert rig.needs_input()
        rig.watch.stop()

    asyncio.run(scenario())


def test_the_run_loop_looks_until_stopped(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)

    async def scenario() -> None:
        seen = asyncio.Event()
        rig.watch = AgentWatch(rig.sessions, lambda sid: seen.set())
        rig.watch.attach(rig.live, CLAUDE)
        rig.show(BASH_BOX, quiet_for=5.0)
        task = asyncio.create_task(rig.watch.run())
        await asyncio.wait_for(seen.wait(), 5.0)
        assert rig.needs_input()
        rig.watch.stop()
        await asyncio.wait_for(task, 5.0)

    asyncio.run(scenario())


def test_an_idle_prompt_needs_input_until_the_agent_works_again(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    rig.show("idle__prompt__real-after-turn-dark-80.txt", quiet_for=5.0)
    rig.watch.look_all()
    assert rig.needs_input()
    assert rig.agent_events()[-1]["state"] == "idle"
    rig.show("busy__interrupt-hint__real-spinner-dark-80.txt", quiet_for=5.0)
    rig.watch.look_all()
    assert not rig.needs_input()
    assert rig.agent_events()[-1]["state"] == "busy"


def test_an_ended_session_is_not_looked_at(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    rig.show(BASH_BOX, quiet_for=5.0)
    del rig.sessions[rig.sid]
    rig.watch.look_all()
    rig.watch.look(rig.sid, cfg.get_settings())
    assert rig.agent_events() == [] and rig.changed == []


def test_hook_reports_change_the_state_with_their_reasons(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    rig.watch.handle_hook(rig.sid, "waiting", {"hook_event_name": "PermissionRequest"})
    assert rig.needs_input()
    assert rig.agent_events()[-1] == {
        "state": "waiting",
        "reason": "permission_prompt",
        "source": "hook",
        "needs_input": True,
    }
    rig.watch.handle_hook(rig.sid, "busy", {"hook_event_name": "UserPromptSubmit"})
    assert not rig.needs_input()
    assert rig.agent_events()[-1]["reason"] == "prompt submitted"
    rig.watch.handle_hook(rig.sid, "idle", {"hook_event_name": "StopFailure"})
    assert rig.agent_events()[-1]["state"] == "idle"
    assert rig.agent_events()[-1]["reason"] == "turn failed"
    rig.watch.handle_hook(rig.sid, "busy", {})
    rig.watch.handle_hook(rig.sid, "waiting", {"notification_type": "permission_prompt"})
    assert rig.agent_events()[-1]["reason"] == "permission_prompt"


def test_hooks_for_sessions_not_watched_are_ignored(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    rig.watch.handle_hook("no-such-session", "waiting", {})
    rig.live.awareness = None  # started without a profile: nothing reads it
    rig.watch.handle_hook(rig.sid, "waiting", {})
    rig.watch.handle_hook(rig.sid, "session-start", {"session_id": str(uuid.uuid4())})
    assert sess.events(rig.sid)[-1].kind == "state"  # nothing recorded after activation
    assert rig.changed == []


def test_a_session_start_hook_stores_a_new_conversation_id_once(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path)
    new_id = str(uuid.uuid4())
    for _ in range(2):
        rig.watch.handle_hook(rig.sid, "session-start", {"session_id": new_id})
    rig.watch.handle_hook(rig.sid, "session-start", {"session_id": "not an id; rm -rf"})
    rig.watch.handle_hook(rig.sid, "session-start", {"session_id": 42})
    assert Session.get_by_id(rig.sid).claude_session_id == new_id
    assert _details(rig.sid, "conversation") == [{"id": new_id}]
    assert rig.changed == [rig.sid]
    assert rig.agent_events() == []  # a conversation id is not a state


def test_an_agent_that_prints_its_conversation_id_has_it_stored(db: Paths, tmp_path: Path) -> None:
    rig = _rig(tmp_path, CODEX)
    printed = str(uuid.uuid4())
    rig.print(b"OpenAI Codex\r\n")
    rig.watch.look_all()
    assert not rig.live.conversation_found
    rig.print(f"session id: {printed}\r\n".encode())
    rig.watch.look_all()
    rig.watch.look_all()
    assert rig.live.conversation_found
    assert Session.get_by_id(rig.sid).claude_session_id == printed
    assert _details(rig.sid, "conversation") == [{"id": printed}]


def test_hook_settings_run_the_connections_hook_command(db: Paths, tmp_path: Path) -> None:
    report = ["/opt/report hooks", "--to", "somewhere"]
    path = write_hook_settings(tmp_path / "run", "s1", report)
    assert path.stat().st_mode & 0o777 == 0o600
    hooks = json.loads(path.read_text())["hooks"]
    commands = {h["command"] for entries in hooks.values() for e in entries for h in e["hooks"]}
    assert commands == {shlex.join([*report, e]) for e in HOOK_EVENTS}
    assert hooks["PermissionRequest"][0]["hooks"][0]["command"].endswith(" waiting")


def test_the_local_connection_reports_through_c3desk_hook(db: Paths, tmp_path: Path) -> None:
    conn = LocalConnection(WorkerInfo(id="w", name="here", type="local"))
    command = conn.hook_command(db.home, "s1")
    home = str(db.home)
    assert command == [sys.executable, "-m", "c3desk", "--home", home, "hook", "--session", "s1"]
